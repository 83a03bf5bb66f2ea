"""Migrations on each backend: from empty, re-run, two processes at once, upgrade keeps data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ir2dis_cog.store import open_store, parse_database_url
from ir2dis_cog.store.database import connect
from ir2dis_cog.store.migrate import apply_migrations

TABLES = {"guild", "tracked_driver", "last_seen", "post_history", "auth_state"}
ALL_MIGRATIONS = [
    "0001_initial",
    "0002_post_outbox",
    "0003_finish_times",
    "0004_result_image",
    "0005_hosted_leagues",
    "0006_work_sharing",
    "0007_server_choices",
    "0008_weekly_digest",
    "0010_live_notice",
    "0011_pending_race",
]


async def _tables(store) -> set[str]:
    if store.dialect == "sqlite":
        rows = await store.db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")
    elif store.dialect == "mysql":
        rows = await store.db.fetchall(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
        )
    else:
        rows = await store.db.fetchall("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {str(r[0]).lower() for r in rows}


async def _applied(store) -> list[str]:
    rows = await store.db.fetchall("SELECT migration_id FROM _yoyo_migration ORDER BY migration_id")
    return [r[0] for r in rows]


async def test_from_empty_creates_every_table(db_url: str, tmp_path: Path) -> None:
    store = await open_store(db_url, data_dir=tmp_path)
    try:
        assert TABLES <= await _tables(store)
        assert await _applied(store) == ALL_MIGRATIONS
    finally:
        await store.close()


async def test_rerun_is_a_noop(db_url: str, tmp_path: Path) -> None:
    config = parse_database_url(db_url, data_dir=tmp_path)
    assert await apply_migrations(config) == ALL_MIGRATIONS
    assert await apply_migrations(config) == []
    store = await open_store(db_url, data_dir=tmp_path)
    try:
        assert await _applied(store) == ALL_MIGRATIONS
    finally:
        await store.close()


_START = """
import asyncio, sys
from pathlib import Path
from ir2dis_cog.store import open_store
async def main():
    s = await open_store(sys.argv[1], data_dir=Path(sys.argv[2]))
    await s.close()
asyncio.run(main())
"""


def test_two_processes_starting_at_once(db_url: str, tmp_path: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", _START, db_url, str(tmp_path)], stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    assert [code for code, _ in results] == [0, 0], results

    async def check() -> None:
        store = await open_store(db_url, data_dir=tmp_path, migrate=False)
        try:
            assert await _applied(store) == ALL_MIGRATIONS
            assert TABLES <= await _tables(store)
        finally:
            await store.close()

    import asyncio

    asyncio.run(check())


async def test_upgrade_from_first_migration_keeps_data(db_url: str, tmp_path: Path) -> None:
    config = parse_database_url(db_url, data_dir=tmp_path)
    assert await apply_migrations(config, upto="0001_initial") == ["0001_initial"]
    db = await connect(config)
    try:
        await db.execute(
            "INSERT INTO guild (guild_id, channel_id, timezone, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
            (11, 22, "Europe/Berlin", 1, 1),
        )
        await db.execute(
            "INSERT INTO tracked_driver (guild_id, cust_id, display_name, active, created_by, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (11, 4242, "Old Driver", 1, 77, 1),
        )
        await db.execute(
            "INSERT INTO last_seen (guild_id, cust_id, last_subsession_id, last_finish_at) VALUES (?, ?, ?, ?)",
            (11, 4242, 900, 1_700_000_000),
        )
        await db.execute(
            "INSERT INTO post_history (guild_id, subsession_id, message_id, posted_at) VALUES (?, ?, ?, ?)",
            (11, 900, 5555, 1_700_000_100),
        )
        await db.execute(
            "INSERT INTO post_history (guild_id, subsession_id, message_id, posted_at) VALUES (?, ?, ?, ?)",
            (11, 901, None, None),
        )
    finally:
        await db.close()

    store = await open_store(db_url, data_dir=tmp_path)
    try:
        assert await _applied(store) == ALL_MIGRATIONS
        guild = await store.guilds.get(11)
        assert guild is not None and (guild.channel_id, guild.timezone) == (22, "Europe/Berlin")
        assert [d.display_name for d in await store.drivers.list_for_guild(11)] == ["Old Driver"]
        wm = await store.last_seen.get(11, 4242)
        assert wm is not None and wm.last_subsession_id == 900
        posted = await store.posts.get(11, 900)
        assert posted is not None and (posted.state, posted.message_id) == ("posted", 5555)
        # A claim the old schema left without a message id stays unresolved, not forgotten.
        unfinished = await store.posts.get(11, 901)
        assert unfinished is not None and unfinished.state == "pending"
    finally:
        await store.close()


async def test_upgrade_to_finish_times_converts_what_the_old_code_wrote(db_url: str, tmp_path: Path) -> None:
    """0003: watermarks and outbox rows written with race *start* times get finish times."""
    config = parse_database_url(db_url, data_dir=tmp_path)
    await apply_migrations(config, upto="0002_post_outbox")
    start, claimed, posted = 1_770_000_000, 1_770_090_000, 1_770_090_030  # a 24-hour race, claimed after
    db = await connect(config)
    try:
        # As the 0002 code wrote them: last_finish_at and race_started_at held the race's start.
        await db.execute(
            "INSERT INTO last_seen (guild_id, cust_id, last_subsession_id, last_finish_at) VALUES (?, ?, ?, ?)",
            (11, 4242, 900, start),
        )
        await db.execute(
            "INSERT INTO last_seen (guild_id, cust_id, last_subsession_id, last_finish_at) VALUES (?, ?, ?, ?)",
            (11, 4343, 800, start - 500),
        )  # a baseline: never posted
        await db.execute(
            "INSERT INTO post_history (guild_id, subsession_id, message_id, posted_at, channel_id, card_json, "
            "race_started_at, claimed_at, attempts, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (11, 900, 5555, posted, 22, "{}", start, claimed, 0, "posted"),
        )
        await db.execute(
            "INSERT INTO post_history (guild_id, subsession_id, channel_id, card_json, race_started_at, "
            "claimed_at, attempts, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (11, 901, 22, "{}", start, claimed + 60, 2, "pending"),
        )
    finally:
        await db.close()

    store = await open_store(db_url, data_dir=tmp_path)
    try:
        assert await _applied(store) == ALL_MIGRATIONS
        wm = await store.last_seen.get(11, 4242)
        assert wm is not None and (wm.last_subsession_id, wm.last_finish_at) == (900, claimed)
        baseline = await store.last_seen.get(11, 4343)
        assert baseline is not None and (baseline.last_subsession_id, baseline.last_finish_at) == (800, start - 500)
        [pending] = await store.posts.unresolved(now=claimed + 10_000)
        assert (pending.subsession_id, pending.race_finished_at, pending.attempts) == (901, claimed + 60, 2)
        assert "race_started_at" not in _columns(await store.db.fetchall(_COLUMNS_SQL[store.dialect]))
    finally:
        await store.close()


async def test_upgrade_to_result_image_keeps_posts_and_servers_as_they_were(db_url: str, tmp_path: Path) -> None:
    """0004: a post claimed by the 0003 code is retried without a picture; servers get the default style."""
    config = parse_database_url(db_url, data_dir=tmp_path)
    await apply_migrations(config, upto="0003_finish_times")
    now = 1_770_090_000
    db = await connect(config)
    try:
        await db.execute(
            "INSERT INTO guild (guild_id, channel_id, timezone, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
            (11, 22, "Europe/Berlin", now, now),
        )
        await db.execute(
            "INSERT INTO post_history (guild_id, subsession_id, channel_id, card_json, race_finished_at, "
            "claimed_at, attempts, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (11, 901, 22, '{"v": 1}', now - 60, now, 1, "pending"),
        )
    finally:
        await db.close()

    store = await open_store(db_url, data_dir=tmp_path)
    try:
        assert await _applied(store) == ALL_MIGRATIONS
        [pending] = await store.posts.unresolved(now=now + 10_000)
        assert (pending.subsession_id, pending.card_json, pending.image_json) == (901, '{"v": 1}', None)
        guild = await store.guilds.get(11)
        assert guild is not None and guild.post_style == "image"
        assert (guild.channel_id, guild.timezone) == (22, "Europe/Berlin")
    finally:
        await store.close()


async def test_upgrade_to_work_sharing_keeps_the_saved_session_and_starts_with_no_process(
    db_url: str, tmp_path: Path
) -> None:
    """0006: the one-account session row stays where the old code wrote it; no lease is left over."""
    config = parse_database_url(db_url, data_dir=tmp_path)
    await apply_migrations(config, upto="0004_result_image")
    db = await connect(config)
    try:
        await db.execute(
            "INSERT INTO auth_state (id, cookies_json, updated_at) VALUES (?, ?, ?)", (1, '{"version": 1}', 5)
        )
    finally:
        await db.close()

    store = await open_store(db_url, data_dir=tmp_path)
    try:
        assert "0006_work_sharing" in await _applied(store)
        assert await store.auth_state.load() == {"version": 1}
        assert await store.work.all() == []
        assert await store.account_auth.for_key("any").load() is None
    finally:
        await store.close()


async def test_upgrade_to_hosted_leagues_keeps_servers_and_gives_them_every_kind(db_url: str, tmp_path: Path) -> None:
    """0005: a server of the 0004 code gets all three kinds of race and follows no league."""
    config = parse_database_url(db_url, data_dir=tmp_path)
    await apply_migrations(config, upto="0004_result_image")
    db = await connect(config)
    try:
        await db.execute(
            "INSERT INTO guild (guild_id, channel_id, timezone, created_at, updated_at, post_style) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (11, 22, "Europe/Berlin", 5, 5, "embed"),
        )
    finally:
        await db.close()

    store = await open_store(db_url, data_dir=tmp_path)
    try:
        assert "0005_hosted_leagues" in await _applied(store)
        assert await store.race_kinds.get_many([11]) == {11: None}
        assert await store.leagues.for_guild(11) == []
        guild = await store.guilds.get(11)
        assert guild is not None and (guild.channel_id, guild.post_style) == (22, "embed")
    finally:
        await store.close()


_COLUMNS_SQL = {
    "sqlite": "SELECT name FROM pragma_table_info('post_history')",
    "mysql": "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() "
    "AND table_name = 'post_history'",
    "postgresql": "SELECT column_name FROM information_schema.columns WHERE table_name = 'post_history'",
}


def _columns(rows: list[tuple[object, ...]]) -> set[str]:
    return {str(r[0]).lower() for r in rows}


async def test_upgrade_to_server_choices_keeps_servers_and_posts_as_they_were(db_url: str, tmp_path: Path) -> None:
    """0007/0008: a server from before has no choices (everything posted, as before), a claim made by
    the older code is retried pinging nobody, and the new tables start empty."""
    config = parse_database_url(db_url, data_dir=tmp_path)
    await apply_migrations(config, upto="0004_result_image")
    now = 1_770_090_000
    db = await connect(config)
    try:
        await db.execute(
            "INSERT INTO guild (guild_id, channel_id, timezone, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
            (11, 22, "Europe/Berlin", now, now),
        )
        await db.execute(
            "INSERT INTO post_history (guild_id, subsession_id, channel_id, card_json, race_finished_at, "
            "claimed_at, attempts, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (11, 901, 22, '{"v": 1}', now - 60, now, 1, "pending"),
        )
    finally:
        await db.close()

    store = await open_store(db_url, data_dir=tmp_path)
    try:
        assert await _applied(store) == ALL_MIGRATIONS
        assert {"guild_choices", "post_copy", "member_link", "digest_row", "digest_sent"} <= await _tables(store)
        [pending] = await store.posts.unresolved(now=now + 10_000)
        assert (pending.subsession_id, pending.mentions) == (901, None)
        choices = await store.choices.get(11)
        assert choices.filters.is_open and choices.podium_channel is None and not choices.pings_on
        assert await store.copies.unresolved(now=now + 10_000) == []
        guild = await store.guilds.get(11)
        assert guild is not None and (guild.channel_id, guild.timezone) == (22, "Europe/Berlin")
    finally:
        await store.close()


async def test_upgrade_to_live_notices_keeps_the_digest_and_starts_with_no_notice(db_url: str, tmp_path: Path) -> None:
    """0010: a week's digest already sent stays sent; live_notice starts empty and keys (server, race)."""
    config = parse_database_url(db_url, data_dir=tmp_path)
    await apply_migrations(config, upto="0008_weekly_digest")
    now = 1_770_090_000
    db = await connect(config)
    try:
        await db.execute(
            "INSERT INTO digest_sent (guild_id, week, claimed_at, claim_owner, channel_id, message_id, state)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (11, "2026-W05", now, None, 22, 33, "posted"),
        )
    finally:
        await db.close()

    store = await open_store(db_url, data_dir=tmp_path)
    try:
        assert await _applied(store) == ALL_MIGRATIONS
        assert "live_notice" in await _tables(store)
        assert await store.digest.week_state(11, "2026-W05") == "posted"
        assert await store.live_notices.state(11, 901) is None
        assert await store.live_notices.claim(11, 901, 22, "inst:p", now=now)
        assert not await store.live_notices.claim(11, 901, 23, "inst:q", now=now)  # one per (server, race)
    finally:
        await store.close()
