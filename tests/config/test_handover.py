"""One settings source: what the launcher resolves, the cog reads back unchanged; the start-up
rules for values a settings file or environment may hold (ASCII digits, no echoed password)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from ir2dis_cog.config.secrets import mask_url
from ir2dis_cog.config.settings import SettingsError, as_environment, load_settings

COMPLETE = {
    "DISCORD_TOKEN": "discord-token-XYZ.123",
    "IRACING_EMAIL": "driver@example.com",
    "IRACING_PASSWORD": "pa$$w0rd with spaces ",
    "IRACING_CLIENT_ID": "my-client",
    "IRACING_CLIENT_SECRET": "client-secret-abc",
}
# A value for every setting that differs from its default, as a config.json would hold them.
EVERY_SETTING = {
    **COMPLETE,
    "IRACING_AUTH_MODE": "oauth",
    "IRACING_AUTH_STATE_FILE": "state/auth.json",
    "DATABASE_URL": "postgresql://bot:db-pass@db:5432/ir2dis",
    "POLL_INTERVAL_SECONDS": 120,
    "IRACING_CONCURRENCY": 2,
    "DEFAULT_TIMEZONE": "Europe/Berlin",
    "LOG_LEVEL": "DEBUG",
    "LOG_FORMAT": "text",
    "HEALTH_HOST": "0.0.0.0",  # noqa: S104
    "HEALTH_PORT": 9123,
    "IRACING_API_BASE": "http://127.0.0.1:9001",
    "IRACING_OAUTH_URL": "http://127.0.0.1:9001/oauth2/token",
    "DISCORD_API_BASE": "http://127.0.0.1:9002",
    "MAX_POST_AGE_HOURS": 12,
    "MAX_IDLE_POLL_MINUTES": 45,
    "IRACING_INTERACTIVE_SHARE": 0.35,
    "BOT_PREFIX": "?",
    "BOT_OWNER_ID": "123456789012345678",
    "LIVE_WATCH": False,
    "LIVE_POLL_SECONDS": 90,
    "IRACING_EMAIL_2": "second@example.com",
    "IRACING_PASSWORD_2": "second-password",
    "IRACING_EMAIL_3": "third@example.com",
    "IRACING_PASSWORD_3": "third-password",
}


def test_the_cog_reads_back_exactly_what_the_launcher_resolved_from_config_json(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(EVERY_SETTING))
    launcher = load_settings({"DATA_DIR": str(tmp_path)})
    # The cog loads in Red's process: its own data folder, its own (absent) config.json.
    cog_folder = tmp_path / "red" / "cogs" / "IRacingCog"
    cog = load_settings(as_environment(launcher), mode="cog", data_dir=cog_folder)
    assert cog.data_dir == cog_folder
    assert replace(cog, data_dir=launcher.data_dir) == launcher
    # Every setting of the file arrived, not only the ones the launcher itself uses.
    assert set(as_environment(launcher)) == {*EVERY_SETTING, "DATA_DIR"}
    assert (cog.health_port, cog.live_watch, cog.iracing_interactive_share) == (9123, False, 0.35)


def test_the_default_database_is_handed_over_as_the_launcher_resolved_it(tmp_path: Path) -> None:
    launcher = load_settings(COMPLETE, data_dir=tmp_path.absolute())
    handed = as_environment(launcher)
    assert handed["DATABASE_URL"] == f"sqlite:///{tmp_path.absolute().as_posix()}/ir2dis.sqlite3"
    cog = load_settings(handed, mode="cog", data_dir=tmp_path / "elsewhere")
    assert cog.database_url == launcher.database_url


def test_data_dir_in_config_json_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({**COMPLETE, "DATA_DIR": str(tmp_path / "other")}))
    with pytest.raises(SettingsError) as caught:
        load_settings({"DATA_DIR": str(tmp_path)})
    assert caught.value.problems == [
        f"DATA_DIR: set it in the environment, not in {tmp_path / 'config.json'} (that file is found through DATA_DIR)"
    ]


@pytest.mark.parametrize("value", ["²", "①", "١٢٣", "1_000", "12.0", "+5", "1e3"])
def test_numbers_take_ascii_digits_only(tmp_path: Path, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({**COMPLETE, "BOT_OWNER_ID": value, "POLL_INTERVAL_SECONDS": value}, data_dir=tmp_path)
    keys = sorted(p.split(":", 1)[0] for p in caught.value.problems)
    assert keys == ["BOT_OWNER_ID", "POLL_INTERVAL_SECONDS"]


def test_a_password_in_an_endpoint_url_is_never_echoed_and_is_redacted(tmp_path: Path) -> None:
    env = {**COMPLETE, "IRACING_API_BASE": "ftp://proxy-user:proxy-pass-99@proxy.example/x"}
    with pytest.raises(SettingsError) as caught:
        load_settings(env, data_dir=tmp_path)
    assert "proxy-pass-99" not in str(caught.value) and "proxy-user" not in str(caught.value)
    assert "ftp://********@proxy.example/x" in str(caught.value)
    for bad in ("http://u:secret-1@[::1", "http://u:secret-1@host:port"):
        with pytest.raises(SettingsError) as caught:
            load_settings({**COMPLETE, "DISCORD_API_BASE": bad}, data_dir=tmp_path)
        assert "secret-1" not in str(caught.value)
    ok = load_settings({**COMPLETE, "IRACING_API_BASE": "https://me:proxy-pass-99@proxy.example"}, data_dir=tmp_path)
    assert "me:proxy-pass-99" in ok.secret_values()
    assert mask_url("https://proxy.example/api") == "https://proxy.example/api"
