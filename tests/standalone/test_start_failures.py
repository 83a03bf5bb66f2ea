"""Each start-up failure of `python -m standalone`: one line naming what and why, its documented exit
code, no traceback, no secret. Real processes; none of these gets as far as starting Red."""

from __future__ import annotations

import json
from pathlib import Path

from tests.standalone.launched import base_env, launch, stop

COMPLETE = {
    "DISCORD_TOKEN": "tok-never-shown-1",
    "IRACING_EMAIL": "driver@example.com",
    "IRACING_PASSWORD": "pw-never-shown-2",
    "IRACING_CLIENT_ID": "client",
    "IRACING_CLIENT_SECRET": "cs-never-shown-3",
}


async def _run(env: dict[str, str]) -> tuple[int, list[str]]:
    bot = await launch(env)
    code = await stop(bot, terminate=False)
    return code, bot.lines


def _clean(lines: list[str]) -> str:
    text = "\n".join(lines)
    assert "Traceback" not in text
    for secret in ("tok-never-shown-1", "pw-never-shown-2", "cs-never-shown-3", "db-pass-never-shown"):
        assert secret not in text
    return text


async def test_a_unicode_digit_owner_id_and_a_password_in_a_url_are_settings_errors(tmp_path: Path) -> None:
    env = {
        **base_env(tmp_path / "data"),
        **COMPLETE,
        "BOT_OWNER_ID": "²",
        "IRACING_API_BASE": "ftp://proxy:db-pass-never-shown@proxy.example",
    }
    code, lines = await _run(env)
    text = _clean(lines)
    assert code == 2
    assert "  - BOT_OWNER_ID: must be a Discord user id (digits 0-9), got '²'" in lines
    assert "  - IRACING_API_BASE: must be an http(s) URL, got 'ftp://********@proxy.example'" in lines
    assert len(lines) == 3, text  # the heading and one line per problem


async def test_data_dir_in_config_json_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.json").write_text(json.dumps({**COMPLETE, "DATA_DIR": "/srv/elsewhere"}))
    code, lines = await _run(base_env(data))
    _clean(lines)
    assert code == 2 and any(line.startswith("  - DATA_DIR: set it in the environment") for line in lines)


async def test_a_data_dir_that_is_a_file_says_so_not_chown(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a folder")
    code, lines = await _run({**base_env(tmp_path / "data" / "bot"), **COMPLETE})
    _clean(lines)
    assert code == 3 and len(lines) == 1, lines
    line = json.loads(lines[0])
    assert line["event"] == "data_dir_unusable" and line["level"] == "CRITICAL"
    assert "a file is in the way" in line["hint"] and "chown" not in line["hint"]


async def test_a_database_that_cannot_be_used_is_one_line_and_exit_4(tmp_path: Path) -> None:
    # The shared PostgreSQL answers, but this database does not exist: refused at once, not retried.
    url = "postgresql://ir2dis:db-pass-never-shown@127.0.0.1:5432/ir2dis_no_such_database"
    code, lines = await _run({**base_env(tmp_path / "data"), **COMPLETE, "DATABASE_URL": url})
    _clean(lines)
    assert code == 4 and len(lines) == 1, lines
    line = json.loads(lines[0])
    assert line["event"] == "database_unusable" and "ir2dis_no_such_database" in line["problem"]
    assert not (tmp_path / "data" / "red").exists()  # Red was never set up
