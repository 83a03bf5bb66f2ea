"""`python -m standalone` as a real process against the fake Discord and the fake iRacing."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.discord import FakeDiscord
from tests.fakes.iracing import FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, FAKE_EMAIL, FAKE_PASSWORD, FakeIRacing
from tests.standalone.launched import OWNER_ID, base_env, free_port, launch, stop


async def test_missing_settings_name_each_key_and_nothing_else_happens(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {**base_env(data_dir), "DISCORD_TOKEN": "", "HEALTH_PORT": "99999", "LOG_FORMAT": "xml"}
    bot = await launch(env)
    code = await stop(bot, terminate=False)
    text = "\n".join(bot.lines)
    assert code == 2
    for key in (
        "DISCORD_TOKEN",
        "IRACING_EMAIL",
        "IRACING_PASSWORD",
        "IRACING_CLIENT_ID",
        "IRACING_CLIENT_SECRET",
        "HEALTH_PORT",
        "LOG_FORMAT",
    ):
        assert f"  - {key}:" in text
    assert "Traceback" not in text and not data_dir.exists()


def bot_env(data_dir: Path, discord: FakeDiscord, iracing: FakeIRacing, health_port: int) -> dict[str, str]:
    return {
        **base_env(data_dir),
        "DISCORD_TOKEN": discord.token,
        "IRACING_EMAIL": FAKE_EMAIL,
        "IRACING_PASSWORD": FAKE_PASSWORD,
        "IRACING_CLIENT_ID": FAKE_CLIENT_ID,
        "IRACING_CLIENT_SECRET": FAKE_CLIENT_SECRET,
        "IRACING_API_BASE": iracing.base_url or "",
        "IRACING_OAUTH_URL": iracing.oauth_url,
        "DISCORD_API_BASE": discord.url,  # a bare host: the launcher adds /api/v10
        "HEALTH_PORT": str(health_port),
        "POLL_INTERVAL_SECONDS": "30",
        "BOT_PREFIX": "?",
        "BOT_OWNER_ID": str(OWNER_ID),
    }


async def test_first_boot_loads_cog_syncs_commands_restarts_on_26_and_stops_cleanly(
    tmp_path: Path, fakes: tuple[FakeDiscord, FakeIRacing]
) -> None:
    discord, iracing = fakes
    guild = discord.add_guild(name="Sim Racers", owner_id=OWNER_ID)
    general = discord.add_channel(guild, "general")
    data_dir = tmp_path / "data"
    port = free_port()
    bot = await launch(bot_env(data_dir, discord, iracing, port))
    bot.health_port = port
    try:
        # First boot on a brand-new instance: the cog loads (Red alone would load nothing).
        await bot.wait_event("bot_ready")
        assert bot.named("red_instance_created") and bot.named("health_server_started")
        status, body = await bot.health()
        assert status == 200 and body["checks"]["database"] == "ok"
        assert "ir2dis_poll_cycles_total" in await bot.metrics()
        syncs = discord.command_syncs()
        assert len(syncs) == 1 and "iracing" in syncs[0].names and syncs[0].guild_id is None

        # The owner asks for a restart: exit code 26, the same process comes back.
        pid = bot.proc.pid
        discord.send_message(general, "?restart")
        await bot.wait_event("restarting")
        second_ready = await bot.wait_event("bot_ready", count=2)
        assert bot.proc.pid == pid and bot.proc.returncode is None and second_ready["guilds"] == 1
        assert bot.named("app_commands_unchanged") and len(discord.command_syncs()) == 1
        assert len(bot.named("red_instance_created")) == 1  # the instance was kept
        status, _ = await bot.health()
        assert status == 200
    finally:
        code = await stop(bot)
    assert code == 0, "\n".join(bot.lines[-30:])
    assert bot.named("shutdown_requested")[-1]["signal"] == "SIGTERM"
    assert bot.named("bot_stopped")[-1]["exit_code"] == 0
    # JSON everywhere (Red's banner silenced) and no secret in any line.
    assert all(line.startswith("{") for line in bot.lines), [x for x in bot.lines if not x.startswith("{")][:5]
    output = "\n".join(bot.lines)
    for secret in (discord.token, FAKE_PASSWORD, FAKE_CLIENT_SECRET, FAKE_EMAIL):
        assert secret not in output
    # The database sits where the documentation says: DATA_DIR/ir2dis.sqlite3.
    assert (data_dir / "ir2dis.sqlite3").is_file()
    assert [p.name for p in data_dir.rglob("*.sqlite3")] == ["ir2dis.sqlite3"]
