"""Every repository operation the poller and the commands use, on each backend."""

from __future__ import annotations

import asyncio

import pytest

from ir2dis_cog.core.records import PendingPost, Watermark
from ir2dis_cog.store import InvalidIdError, Store


async def test_guild_channel_and_timezone(store: Store) -> None:
    assert await store.guilds.get(1) is None
    await store.guilds.set_channel(1, 100, now=10)
    await store.guilds.set_timezone(1, "Europe/Berlin", now=11)
    await store.guilds.set_channel(1, 101, now=12)
    guild = await store.guilds.get(1)
    assert guild is not None and (guild.channel_id, guild.timezone) == (101, "Europe/Berlin")
    await store.guilds.set_timezone(2, "UTC", now=13)  # a zone before a channel: no channel yet
    many = await store.guilds.get_many([1, 2, 3])
    assert set(many) == {1, 2} and many[2].channel_id is None
    assert [g for g, cfg in many.items() if cfg.channel_id is not None] == [1]


async def test_track_is_idempotent_and_untrack_is_soft(store: Store) -> None:
    assert await store.drivers.track(1, 500, "Max Racer", 77, now=1) is True
    assert await store.drivers.track(1, 500, "Max Racer", 77, now=2) is False
    assert await store.drivers.track(2, 500, "Max R.", 78, now=3) is True
    assert await store.drivers.track(1, 600, "Ann Apex", None, now=4) is True
    assert [d.cust_id for d in await store.drivers.list_for_guild(1)] == [600, 500]  # by name
    assert await store.drivers.active_tracking() == {500: frozenset({1, 2}), 600: frozenset({1})}

    await store.last_seen.set(1, 500, 9000, 1_000)
    assert await store.drivers.untrack(1, 500) is True
    assert await store.drivers.untrack(1, 500) is False
    assert await store.drivers.active_tracking() == {500: frozenset({2}), 600: frozenset({1})}
    assert not await store.drivers.is_tracked(1, 500)
    # The watermark is history: untracking keeps it.
    assert await store.last_seen.get(1, 500) == Watermark(1_000, 9000)
    assert await store.drivers.track(1, 500, "Max Racer", 79, now=5) is True  # tracked again
    assert await store.drivers.is_tracked(1, 500)
    assert len(await store.drivers.active_tracking()) == 2


async def test_active_tracking_of_some_drivers_only(store: Store) -> None:
    """The live watcher asks about one race's field: those drivers' servers, the untracked left out."""
    for guild, cust in ((1, 500), (2, 500), (1, 600), (3, 700)):
        await store.drivers.track(guild, cust, f"D {cust}", None, now=1)
    await store.drivers.untrack(3, 700)
    assert await store.drivers.active_tracking([500, 700, 999]) == {500: frozenset({1, 2})}
    assert await store.drivers.active_tracking([]) == {}
    many = [*range(1_000, 3_000), 600]  # more than one IN list holds
    assert await store.drivers.active_tracking(many) == {600: frozenset({1})}


async def test_forget_user_removes_created_by_only(store: Store) -> None:
    await store.drivers.track(1, 500, "A", 77, now=1)
    await store.drivers.track(1, 501, "B", 78, now=1)
    assert await store.drivers.forget_user(77) == 1
    by_cust = {d.cust_id: d.created_by for d in await store.drivers.list_for_guild(1)}
    assert by_cust == {500: None, 501: 78}


async def test_watermark_only_moves_forward(store: Store) -> None:
    await store.last_seen.advance(1, 500, 10, 1_000)
    await store.last_seen.advance(1, 500, 9, 900)  # an older race: ignored
    assert await store.last_seen.get(1, 500) == Watermark(1_000, 10)
    await store.last_seen.advance(1, 500, 12, 1_000)  # same start, larger id: forward
    await store.last_seen.advance(1, 500, 20, 2_000)
    assert await store.last_seen.get(1, 500) == Watermark(2_000, 20)
    await store.last_seen.set(1, 500, 5, 500)  # set() is explicit and may move anywhere
    assert await store.last_seen.get(1, 500) == Watermark(500, 5)
    await store.last_seen.advance(2, 500, 30, 3_000)
    await store.last_seen.advance(2, 600, 31, 3_100)
    assert await store.last_seen.for_cust_ids([500]) == {(1, 500): Watermark(500, 5), (2, 500): Watermark(3_000, 30)}
    assert await store.last_seen.latest_activity() == {500: 3_000, 600: 3_100}


async def test_newest_finish_is_the_latest_race_settled_for_any_pair(store: Store) -> None:
    # The live watcher's catch-up searches from about there after a start.
    assert await store.last_seen.newest_finish() is None
    await store.last_seen.advance(1, 500, 10, 1_764_600_000)
    await store.last_seen.advance(2, 600, 11, 1_764_650_000)
    await store.last_seen.advance(3, 700, 9, 1_764_620_000)
    assert await store.last_seen.newest_finish() == 1_764_650_000


async def test_for_cust_ids_handles_more_than_one_chunk(store: Store) -> None:
    for cust in range(1, 1201):
        await store.last_seen.set(7, cust, cust, cust)
    found = await store.last_seen.for_cust_ids(range(1, 1301))
    assert len(found) == 1200 and found[(7, 1200)] == Watermark(1200, 1200)


def _post(guild: int = 1, sub: int = 900, channel: int = 100, image_json: str | None = None) -> PendingPost:
    return PendingPost(guild, sub, channel, f'{{"subsession_id": {sub}}}', 1_000, image_json=image_json)


async def test_claim_record_and_pending(store: Store) -> None:
    assert await store.posts.claim(_post(), "proc-a", now=10) is True
    assert await store.posts.claim(_post(), "proc-b", now=11) is False
    assert await store.posts.pending_count(1) == 1
    assert await store.posts.record(1, 900, 123456789012345678, now=12) is True
    record = await store.posts.get(1, 900)
    assert record is not None and (record.state, record.message_id) == ("posted", 123456789012345678)
    assert await store.posts.pending_count(1) == 0
    assert await store.posts.record(1, 900, 5, now=13) is False  # recorded once


async def test_unresolved_claims_and_take_over(store: Store) -> None:
    await store.posts.claim(_post(sub=900), "proc-a", now=100, lease_seconds=60)
    await store.posts.claim(_post(sub=901), "proc-a", now=100, lease_seconds=60)
    await store.posts.record(1, 901, 42, now=101)
    assert await store.posts.unresolved(now=120) == []  # still leased
    left = await store.posts.unresolved(now=200)
    assert [(p.subsession_id, p.channel_id, p.card_json) for p in left] == [(900, 100, '{"subsession_id": 900}')]
    assert await store.posts.take_over(1, 900, "proc-b", now=200, lease_seconds=60) is True
    assert await store.posts.take_over(1, 900, "proc-c", now=201, lease_seconds=60) is False
    assert await store.posts.take_over(1, 901, "proc-c", now=500) is False  # posted: nothing to take


async def test_release_earlier_lives_frees_only_this_instance_s_dead_claims(store: Store) -> None:
    await store.posts.claim(_post(sub=900), "inst1:dead", now=100, lease_seconds=300)
    await store.posts.claim(_post(sub=901), "inst1:alive", now=100, lease_seconds=300)
    await store.posts.claim(_post(sub=902), "inst10:other", now=100, lease_seconds=300)  # a prefix, not a match
    await store.posts.claim(_post(sub=903), "inst1:dead", now=100, lease_seconds=300)
    await store.posts.record(1, 903, 7, now=101)
    assert await store.posts.release_earlier_lives("inst1", "inst1:alive") == 1
    assert [p.subsession_id for p in await store.posts.unresolved(now=101)] == [900]
    assert await store.posts.take_over(1, 900, "inst1:alive", now=101) is True
    assert await store.posts.take_over(1, 902, "inst1:alive", now=101) is False  # still leased elsewhere
    for bad in ("", "in%", "a_b", "x:y"):
        with pytest.raises(ValueError, match="instance id"):
            await store.posts.release_earlier_lives(bad, "inst1:alive")


async def test_fail_keeps_claim_and_reason_then_drop(store: Store) -> None:
    await store.posts.claim(_post(), "proc-a", now=100)
    await store.posts.fail(1, 900, "missing permission: Embed Links", now=110, retry_after=50)
    assert await store.posts.unresolved(now=120) == []
    again = await store.posts.unresolved(now=160)
    assert [(p.attempts, p.last_error) for p in again] == [(1, "missing permission: Embed Links")]
    assert await store.posts.last_failure(1) == "missing permission: Embed Links"
    await store.posts.drop(1, 900, "older than 24 h", now=170)
    record = await store.posts.get(1, 900)
    assert record is not None and record.state == "dropped"
    assert await store.posts.unresolved(now=10_000) == []
    assert await store.posts.claim(_post(), "proc-z", now=180) is False  # a drop is final
    assert await store.posts.last_failure(1) == "older than 24 h"  # a lost race stays news...
    assert await store.posts.last_failure(1, since=171) is None  # ...for a while


async def test_a_failure_retried_through_is_no_longer_the_last_failure(store: Store) -> None:
    await store.posts.claim(_post(), "proc-a", now=100)
    await store.posts.fail(1, 900, "missing permission: Send Messages", now=110, retry_after=50)
    assert await store.posts.last_failure(1) == "missing permission: Send Messages"
    assert await store.posts.take_over(1, 900, "proc-a", now=170) is True
    assert await store.posts.record(1, 900, 4242, now=171) is True
    assert await store.posts.last_failure(1) is None


async def test_claim_race_has_exactly_one_winner(store: Store) -> None:
    post = _post(sub=31337)
    results = await asyncio.gather(*(store.posts.claim(post, f"proc-{i}", now=1) for i in range(50)))
    assert results.count(True) == 1


async def test_claim_race_across_connections(db_url: str, tmp_path) -> None:
    """Fifty claims from five separate pools (as five processes would) still give one winner."""
    from ir2dis_cog.store import open_store

    stores = [await open_store(db_url, data_dir=tmp_path, migrate=(i == 0)) for i in range(5)]
    try:
        post = _post(sub=777)
        claims = [s.posts.claim(post, f"proc-{i}-{j}", now=1) for i, s in enumerate(stores) for j in range(10)]
        results = await asyncio.gather(*claims)
        assert results.count(True) == 1
    finally:
        for s in stores:
            await s.close()


async def test_auth_state_round_trip_and_damage(store: Store) -> None:
    assert await store.auth_state.load() is None
    await store.auth_state.save({"access_token": "a1", "refresh_token": "r1", "expires_at": 5})
    await store.auth_state.save({"access_token": "a2", "refresh_token": "r2", "expires_at": 6})
    assert await store.auth_state.load() == {"access_token": "a2", "refresh_token": "r2", "expires_at": 6}
    await store.db.execute("UPDATE auth_state SET cookies_json = ? WHERE id = 1", ("{not json",))
    assert await store.auth_state.load() is None
    await store.auth_state.clear()
    assert await store.auth_state.load() is None


@pytest.mark.parametrize("bad", [0, -1, 2**63, "123", 1.5, True, None])
async def test_ids_are_validated_before_sql(store: Store, bad: object) -> None:
    with pytest.raises(InvalidIdError):
        await store.drivers.track(1, bad, "X", None, now=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidIdError):
        await store.guilds.set_channel(bad, 5, now=1)  # type: ignore[arg-type]
    assert await store.drivers.active_tracking() == {}
    assert await store.guilds.get_many([1]) == {}


async def test_values_are_parameters_not_sql(store: Store) -> None:
    name = "Robert'); DROP TABLE tracked_driver; -- 100%"
    await store.drivers.track(1, 500, name, None, now=1)
    assert [d.display_name for d in await store.drivers.list_for_guild(1)] == [name]


async def test_post_style_is_image_until_a_server_chooses_and_a_bad_style_changes_nothing(store: Store) -> None:
    await store.guilds.set_channel(1, 100, now=10)
    guild = await store.guilds.get(1)
    assert guild is not None and guild.post_style == "image"
    await store.guilds.set_post_style(1, "embed", now=11)
    with pytest.raises(ValueError, match="image, embed"):
        await store.guilds.set_post_style(1, "gif", now=12)
    assert (await store.guilds.get_many([1]))[1].post_style == "embed"
    await store.guilds.set_post_style(2, "embed", now=13)  # a style before a channel
    guild = await store.guilds.get(2)
    assert guild is not None and (guild.channel_id, guild.post_style) == (None, "embed")


async def test_a_claim_keeps_its_picture_for_a_retry(store: Store) -> None:
    """The stored picture comes back byte for byte, up to the size the outbox lets it reach."""
    from ir2dis_cog.render.image_card import STORED_JSON_LIMIT

    picture = '{"v":1,"chart":"' + "x" * (STORED_JSON_LIMIT - 40) + '"}'
    await store.posts.claim(_post(sub=900, image_json=picture), "proc-a", now=100, lease_seconds=60)
    await store.posts.claim(_post(sub=901), "proc-a", now=100, lease_seconds=60)
    left = {p.subsession_id: p.image_json for p in await store.posts.unresolved(now=200)}
    assert left == {900: picture, 901: None}
