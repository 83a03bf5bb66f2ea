"""The launcher's pure decisions."""

from __future__ import annotations

import errno
import json
import logging
from pathlib import Path

import pytest

from ir2dis_cog.config.settings import SettingsError
from standalone.healthcheck import health_url
from standalone.startup import (
    commands_fingerprint,
    data_dir_hint,
    discord_route_base,
    instance_needs_setup,
    red_cli_args,
    red_paths,
    settings_error_message,
    setup_command,
    should_restart,
    should_seed_python_version,
)


def test_discord_route_base_adds_the_api_path_only_to_a_bare_host() -> None:
    assert discord_route_base("http://127.0.0.1:9000") == "http://127.0.0.1:9000/api/v10"
    assert discord_route_base("http://127.0.0.1:9000/") == "http://127.0.0.1:9000/api/v10"
    assert discord_route_base("https://proxy.example/api/v10/") == "https://proxy.example/api/v10"


def test_red_paths_live_under_the_data_dir(tmp_path: Path) -> None:
    config_home, data_path = red_paths(tmp_path / "data")
    assert config_home == (tmp_path / "data" / "red-config") and data_path == (tmp_path / "data" / "red")


def test_instance_needs_setup_when_missing_moved_or_other_backend(tmp_path: Path) -> None:
    path = tmp_path / "red"
    good = {"ir2dis": {"DATA_PATH": str(path), "STORAGE_TYPE": "JSON"}}
    assert instance_needs_setup(None, path) and instance_needs_setup({}, path)
    assert instance_needs_setup({"other": good["ir2dis"]}, path)
    assert instance_needs_setup({"ir2dis": {"DATA_PATH": "/elsewhere", "STORAGE_TYPE": "JSON"}}, path)
    assert instance_needs_setup({"ir2dis": {"DATA_PATH": str(path), "STORAGE_TYPE": "POSTGRES"}}, path)
    assert not instance_needs_setup(good, path)


def test_setup_command_overwrites_only_an_existing_list(tmp_path: Path) -> None:
    first = setup_command("/py", tmp_path, overwrite=False)
    assert first[:3] == ["/py", "-m", "redbot.setup"] and "--no-prompt" in first
    assert first[first.index("--data-path") + 1] == str(tmp_path) and "--overwrite-existing-instance" not in first
    assert setup_command("/py", tmp_path, overwrite=True)[-1] == "--overwrite-existing-instance"


def test_red_cli_args_never_carry_the_token(tmp_path: Path) -> None:
    args = red_cli_args(tmp_path, "?", 42)
    assert args[0] == "ir2dis" and "--token" not in args
    assert args[args.index("--load-cogs") + 1] == "ir2dis_cog" and args[args.index("--owner") + 1] == "42"
    assert "--owner" not in red_cli_args(tmp_path, "!", None)


def test_python_version_is_seeded_only_on_an_empty_lib_folder() -> None:
    assert should_seed_python_version([3, 7], [3, 11], lib_is_empty=True)
    assert not should_seed_python_version([3, 11], [3, 11], lib_is_empty=True)
    # Packages in lib were built for another Python: Red's own clean-up must run.
    assert not should_seed_python_version([3, 10], [3, 11], lib_is_empty=False)


def test_restart_only_on_26() -> None:
    assert should_restart(26) and not any(should_restart(c) for c in (0, 1, 2, 78))


def test_fingerprint_ignores_order_but_not_content() -> None:
    a = {"name": "iracing", "type": 1, "options": [{"name": "track"}]}
    b = {"name": "other", "type": 1}
    assert commands_fingerprint([a, b]) == commands_fingerprint([b, a])
    assert commands_fingerprint([a]) != commands_fingerprint([{**a, "options": []}])


def test_settings_error_message_names_each_problem_on_its_own_line() -> None:
    text = settings_error_message(["DISCORD_TOKEN: missing", "HEALTH_PORT: must be between 0 and 65535"])
    assert text.splitlines()[1:] == ["  - DISCORD_TOKEN: missing", "  - HEALTH_PORT: must be between 0 and 65535"]


def test_health_url_probes_loopback_for_a_wildcard_bind_and_nothing_when_off(tmp_path: Path) -> None:
    base = {"DATA_DIR": str(tmp_path)}
    assert health_url(base) == "http://127.0.0.1:8080/health"
    assert health_url({**base, "HEALTH_HOST": "0.0.0.0", "HEALTH_PORT": "9100"}) == "http://127.0.0.1:9100/health"  # noqa: S104
    assert health_url({**base, "HEALTH_HOST": "::1", "HEALTH_PORT": "9100"}) == "http://[::1]:9100/health"
    assert health_url({**base, "HEALTH_PORT": "0"}) is None


def test_health_url_reads_data_dir_config_json_under_the_environment(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"HEALTH_PORT": 9200, "HEALTH_HOST": "127.0.0.2"}))
    base = {"DATA_DIR": str(tmp_path)}
    assert health_url(base) == "http://127.0.0.2:9200/health"
    assert health_url({**base, "HEALTH_PORT": "9300"}) == "http://127.0.0.2:9300/health"
    (tmp_path / "config.json").write_text(json.dumps({"HEALTH_PORT": "port"}))
    with pytest.raises(SettingsError):
        health_url(base)


def test_data_dir_hint_fits_the_cause() -> None:
    assert "sudo chown -R 1000:1000" in data_dir_hint(errno.EACCES, 1000, 1000)
    assert "chown" in data_dir_hint(errno.EPERM, 1000, 1000)
    others = [data_dir_hint(code, 1000, 1000) for code in (errno.EROFS, errno.ENOSPC, errno.ENOTDIR, errno.ELOOP, None)]
    assert not any("chown" in hint for hint in others)
    assert "read-only" in others[0] and "full" in others[1] and "a file is in the way" in others[2]


def test_a_cog_load_failure_becomes_its_reason_not_red_s_traceback() -> None:
    from redbot.core.errors import CogLoadError  # noqa: TID251 - the error Red hands the launcher

    from standalone.runner import CogLoadFailure

    def record(package: str, error: BaseException) -> logging.LogRecord:
        return logging.LogRecord(
            "red", logging.ERROR, __file__, 1, "Failed to load package %s", (package,), (type(error), error, None)
        )

    caught = CogLoadFailure()
    assert caught.filter(record("other_cog", ValueError("x"))) and caught.reason is None
    wrapped = RuntimeError("wrapper")
    wrapped.__cause__ = CogLoadError("ir2dis cannot use its database: refused")
    assert not caught.filter(record("ir2dis_cog", wrapped))
    assert caught.reason == "ir2dis cannot use its database: refused"
    assert not caught.filter(record("ir2dis_cog", KeyError("boom"))) and caught.reason == "KeyError: 'boom'"
