"""Settings: precedence, every validation error, and secrets that never show."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from ir2dis_cog.config.settings import Secret, SettingsError, load_settings

SECRETS = {
    "DISCORD_TOKEN": "discord-token-XYZ.123",
    "IRACING_EMAIL": "driver@example.com",
    "IRACING_PASSWORD": "pa$$w0rd with spaces ",
    "IRACING_CLIENT_SECRET": "client-secret-abc",
}
COMPLETE = {**SECRETS, "IRACING_CLIENT_ID": "my-client"}


def test_defaults(tmp_path: Path) -> None:
    s = load_settings(COMPLETE, config_file=tmp_path / "none.json", data_dir=tmp_path)
    assert (s.poll_interval_seconds, s.iracing_concurrency, s.iracing_auth_mode) == (300, 4, "oauth")
    assert (s.default_timezone, s.health_host, s.health_port, s.log_format) == ("UTC", "127.0.0.1", 8080, "json")
    assert s.database_url.get() == f"sqlite:///{(tmp_path / 'ir2dis.sqlite3').as_posix()}"
    assert s.iracing_password is not None and s.iracing_password.get() == "pa$$w0rd with spaces "
    assert s.iracing_oauth_url == "https://oauth.iracing.com/oauth2/token"


def test_environment_wins_over_config_file_which_wins_over_defaults(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {"POLL_INTERVAL_SECONDS": 120, "DEFAULT_TIMEZONE": "Europe/Berlin", "IRACING_CONCURRENCY": "6", **COMPLETE}
        )
    )
    env = {"POLL_INTERVAL_SECONDS": "90", "DISCORD_TOKEN": "from-env"}
    s = load_settings(env, config_file=config)
    assert s.poll_interval_seconds == 90  # environment
    assert s.default_timezone == "Europe/Berlin" and s.iracing_concurrency == 6  # file
    assert s.discord_token is not None and s.discord_token.get() == "from-env"
    assert s.log_level == "INFO"  # default


def test_config_file_is_found_under_data_dir(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({**COMPLETE, "BOT_PREFIX": "?"}))
    s = load_settings({"DATA_DIR": str(tmp_path)})
    assert s.bot_prefix == "?" and s.data_dir == tmp_path


def test_every_problem_is_named_in_one_error(tmp_path: Path) -> None:
    env = {
        "POLL_INTERVAL_SECONDS": "soon",
        "IRACING_CONCURRENCY": "50",
        "DEFAULT_TIMEZONE": "Mars/Olympus_Mons",
        "IRACING_AUTH_MODE": "magic",
        "LOG_FORMAT": "xml",
        "LOG_LEVEL": "loud",
        "HEALTH_PORT": "70000",
        "DATABASE_URL": "oracle://u:hunter2@db/x",
        "IRACING_API_BASE": "ftp://x",
        "BOT_OWNER_ID": "me",
        "MAX_POST_AGE_HOURS": "0",
        "MAX_IDLE_POLL_MINUTES": "-5",
    }
    with pytest.raises(SettingsError) as caught:
        load_settings(env, config_file=tmp_path / "none.json")
    text = str(caught.value)
    for key in [
        *env,
        "DISCORD_TOKEN",
        "IRACING_EMAIL",
        "IRACING_PASSWORD",
        "IRACING_CLIENT_ID",
        "IRACING_CLIENT_SECRET",
    ]:
        assert key in text, key
    assert len(caught.value.problems) == len(env) + 5
    assert "hunter2" not in text


def test_legacy_mode_needs_no_oauth_client(tmp_path: Path) -> None:
    env = {k: v for k, v in SECRETS.items() if k != "IRACING_CLIENT_SECRET"} | {"IRACING_AUTH_MODE": "legacy"}
    assert load_settings(env, config_file=tmp_path / "none.json").iracing_auth_mode == "legacy"


def test_bad_config_file_is_a_named_problem(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text('{"IRACING_PASSWORD": "file-secret", ')
    with pytest.raises(SettingsError) as caught:
        load_settings(COMPLETE, config_file=config)
    assert "config.json" in str(caught.value) and "file-secret" not in str(caught.value)
    config.write_text(json.dumps({"NOT_A_SETTING": 1, "POLL_INTERVAL_SECONDS": True}))
    with pytest.raises(SettingsError) as caught:
        load_settings(COMPLETE, config_file=config)
    assert "NOT_A_SETTING" in str(caught.value) and "POLL_INTERVAL_SECONDS" in str(caught.value)


def test_cog_mode_takes_secrets_from_red_api_tokens_and_needs_no_discord_token(tmp_path: Path) -> None:
    tokens = {
        "client_id": "red-client",
        "client_secret": "red-secret",
        "username": "red@example.com",
        "password": "red-password",
    }
    s = load_settings(
        {"IRACING_CLIENT_ID": "env-client"},
        config_file=tmp_path / "x.json",
        mode="cog",
        api_tokens=tokens,
        data_dir=tmp_path,
    )
    assert s.iracing_client_id == "red-client" and s.discord_token is None
    assert s.iracing_client_secret == Secret("red-secret")
    assert s.missing_iracing_credentials() == []
    # Missing credentials do not stop the cog from loading; they are reported.
    empty = load_settings({}, config_file=tmp_path / "x.json", mode="cog", data_dir=tmp_path)
    assert empty.missing_iracing_credentials() == [
        "IRACING_EMAIL",
        "IRACING_PASSWORD",
        "IRACING_CLIENT_ID",
        "IRACING_CLIENT_SECRET",
    ]


def test_no_secret_in_repr_str_format_or_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    env = {**COMPLETE, "DATABASE_URL": "postgresql://bot:db-pass-777@db/x"}
    s = load_settings(env, config_file=tmp_path / "none.json")
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("red.ir2dis.test").info("settings %s %r", s, s)
        logging.getLogger("red.ir2dis.test").info(f"token {s.discord_token} {s.iracing_password!r}")
    shown = repr(s) + str(s) + f"{s.iracing_password}" + caplog.text
    for value in [*SECRETS.values(), "db-pass-777"]:
        assert value not in shown, value
    assert "db-pass-777" in s.secret_values() and SECRETS["IRACING_PASSWORD"] in s.secret_values()


def test_secret_cannot_be_pickled() -> None:
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(Secret("x"))
