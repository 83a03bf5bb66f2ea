"""The newcomer's path: a fresh folder holding only `data/config.json`, no setting in the environment,
`python -m standalone` started there (a real Red) against the fake Discord and the fake iRacing.

Every setting comes from the file and reaches the cog: it logs in to iRacing, posts a race, serves
/health on the file's port, keeps its data in the file's database (and makes no default one), and
`python -m standalone.healthcheck` finds the same port in the same file. A `[p]restart` reads the
file again: a port changed there is the one served after it.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
from pathlib import Path

from tests.fakes.discord import FakeDiscord
from tests.fakes.iracing import FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, FAKE_EMAIL, FAKE_PASSWORD, FakeIRacing
from tests.standalone.launched import OWNER_ID, free_port, launch, stop

DRIVER = 330_001
POLL_SECONDS = 30


async def test_config_json_alone_runs_the_bot(tmp_path: Path, fakes: tuple[FakeDiscord, FakeIRacing]) -> None:
    discord, iracing = fakes
    guild = discord.add_guild(name="First Hour", owner_id=OWNER_ID)
    general = discord.add_channel(guild, "general")
    results = discord.add_channel(guild, "results")
    iracing.add_member(DRIVER, "Nina Newcomer")
    port = free_port()
    (tmp_path / "data").mkdir()
    config_file = tmp_path / "data" / "config.json"
    config = {
        "DISCORD_TOKEN": discord.token,
        "IRACING_EMAIL": FAKE_EMAIL,
        "IRACING_PASSWORD": FAKE_PASSWORD,
        "IRACING_CLIENT_ID": FAKE_CLIENT_ID,
        "IRACING_CLIENT_SECRET": FAKE_CLIENT_SECRET,
        "IRACING_API_BASE": iracing.base_url,
        "IRACING_OAUTH_URL": iracing.oauth_url,
        "DISCORD_API_BASE": discord.url,
        "HEALTH_HOST": "127.0.0.1",
        "HEALTH_PORT": port,
        "DATABASE_URL": "sqlite:///results.sqlite3",  # relative: next to data/, not in it
        "POLL_INTERVAL_SECONDS": POLL_SECONDS,
        "LIVE_POLL_SECONDS": POLL_SECONDS,
        "BOT_PREFIX": "?",
        "BOT_OWNER_ID": str(OWNER_ID),
    }
    config_file.write_text(json.dumps(config))
    # Nothing but what any shell has: no DATA_DIR, no setting.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    bot = await launch(env, cwd=tmp_path)
    bot.health_port = port
    try:
        await bot.wait_event("bot_ready")
        assert bot.named("health_server_started")
        discord.send_message(general, f"?iracing setchannel <#{results}>")
        await discord.wait_for_message(general, lambda m: "posted in" in m.content, timeout=30)
        discord.send_message(general, f"?iracing track {DRIVER}")
        await discord.wait_for_message(general, lambda m: "tracking" in m.content, timeout=30)
        assert iracing.stats["logins"] == 1  # with the file's login, at the file's iRacing
        race = iracing.add_race([DRIVER], series_name="Fake Newcomer Cup")
        card = await discord.wait_for_message(
            results, lambda m: f"Subsession {race}" in json.dumps(m.embeds), timeout=2 * POLL_SECONDS + 15
        )
        assert "Nina Newcomer" in json.dumps(card.embeds)
        status, body = await bot.health()
        assert status == 200 and body["checks"]["database"] == "ok"
        probe = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "standalone.healthcheck",
            cwd=str(tmp_path),
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
        )
        assert await probe.wait() == 0

        # The owner edits the file and restarts: the same process reads it again.
        bot.health_port = free_port()
        config_file.write_text(json.dumps({**config, "HEALTH_PORT": bot.health_port}))
        discord.send_message(general, "?restart")
        await bot.wait_event("bot_ready", count=2)
        status, _ = await bot.health()
        assert status == 200
    finally:
        code = await stop(bot)
    output = "\n".join(bot.lines)
    assert code == 0, output[-3000:]
    assert "Traceback" not in output
    assert [e["missing"] for e in bot.events() if "missing" in e] == [[], []]  # both loads had the whole login
    for secret in (discord.token, FAKE_PASSWORD, FAKE_CLIENT_SECRET, FAKE_EMAIL):
        assert secret not in output
    # The file's database holds the driver; no default database was made.
    with sqlite3.connect(f"file:{tmp_path / 'results.sqlite3'}?mode=ro", uri=True) as db:
        assert db.execute("SELECT cust_id FROM tracked_driver").fetchall() == [(DRIVER,)]
    assert sorted(p.name for p in tmp_path.rglob("*.sqlite3")) == ["results.sqlite3"]
