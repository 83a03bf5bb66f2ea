"""A server's choices in the store, on SQLite, MariaDB and PostgreSQL: settings kept (never reset),
copies once per (server, channel, race), links unique both ways, digest rows and weekly claims."""

from __future__ import annotations

import pytest

from ir2dis_cog.core.digest import DigestRow
from ir2dis_cog.core.filters import Filters
from ir2dis_cog.core.records import PendingPost
from ir2dis_cog.store import LinkTakenError, Store
from ir2dis_cog.store.copies_repo import CopyRow

NOW = 1_770_000_000
G = 111_222_333_444_555_666


async def test_settings_default_then_each_change_keeps_the_others(store: Store) -> None:
    assert (await store.choices.get(G)).filters.is_open
    await store.choices.set_filters(G, Filters(frozenset({"oval"}), 1500, frozenset({491}), frozenset()), now=NOW)
    await store.choices.set(G, now=NOW, podium_channel=900, podium_top=1, ping_members=1, ping_role=6001)
    await store.choices.set_category_channels(G, {"oval": 301, "dirt_road": 302}, now=NOW)
    await store.choices.set(G, now=NOW + 1, digest_channel=700, digest_day=6, digest_hour=20)
    c = await store.choices.get(G)
    assert c.filters == Filters(frozenset({"oval"}), 1500, frozenset({491}), frozenset())
    assert (c.podium_channel, c.podium_top, c.ping_members, c.ping_role) == (900, 1, True, 6001)
    assert dict(c.category_channels) == {"oval": 301, "dirt_road": 302}
    assert (c.digest_channel, c.digest_day, c.digest_hour) == (700, 6, 20)
    await store.choices.set(G, now=NOW + 2, ping_role=None)
    again = await store.choices.get_many([G, 5])
    assert again[G].ping_role is None and again[G].podium_channel == 900 and again[5].filters.is_open
    with pytest.raises(ValueError, match="unknown settings"):
        await store.choices.set(G, now=NOW, updated_at=1)


async def test_a_copy_is_claimed_once_per_channel_and_retried_until_recorded(store: Store) -> None:
    row = CopyRow(G, 91_000_001, 900, '{"v":1}', "u5;r", NOW - 60, 0)
    assert await store.copies.claim(row, "a", now=NOW, lease_seconds=300)
    assert not await store.copies.claim(row, "b", now=NOW, lease_seconds=300)
    other = CopyRow(G, 91_000_001, 901, '{"v":1}', None, NOW - 60, 0)
    assert await store.copies.claim(other, "b", now=NOW, lease_seconds=300)
    assert await store.copies.unresolved(now=NOW + 10) == []  # leased
    await store.copies.fail(G, 91_000_001, 900, "channel unavailable", now=NOW + 1, retry_after=10)
    [due] = await store.copies.unresolved(now=NOW + 20)
    assert (due.channel_id, due.mentions, due.attempts) == (900, "u5;r", 1)
    assert await store.copies.take_over(G, 91_000_001, 900, "c", now=NOW + 20, lease_seconds=300)
    assert not await store.copies.take_over(G, 91_000_001, 900, "d", now=NOW + 20, lease_seconds=300)
    assert await store.copies.record(G, 91_000_001, 900, 777, now=NOW + 21)
    assert await store.copies.state(G, 91_000_001, 900) == "posted"
    assert await store.copies.release_earlier_lives("inst", "inst:p2") == 0


async def test_a_filtered_race_is_decided_once(store: Store) -> None:
    assert await store.copies.record_filtered(
        G, 91_000_002, "filtered out: SOF 900 below 2000", finished_at=NOW, now=NOW
    )
    assert not await store.copies.record_filtered(G, 91_000_002, "again", finished_at=NOW, now=NOW)
    assert await store.posts.decided(G, [91_000_002]) == {91_000_002}
    rec = await store.posts.get(G, 91_000_002)
    assert rec is not None and rec.state == "dropped" and rec.last_error == "filtered out: SOF 900 below 2000"


async def test_the_claim_keeps_whom_a_post_pings(store: Store) -> None:
    post = PendingPost(G, 91_000_003, 100, '{"v":1}', NOW, mentions="u5001;r6001")
    assert await store.posts.claim(post, "a", now=NOW, lease_seconds=0)
    [pending] = await store.posts.unresolved(now=NOW + 1)
    assert pending.mentions == "u5001;r6001"


async def test_links_are_unique_per_driver_and_per_member(store: Store) -> None:
    assert await store.links.link(G, 4242, 5001, now=NOW)
    assert not await store.links.link(G, 4242, 5001, now=NOW)  # the same link again: nothing to do
    with pytest.raises(LinkTakenError, match="driver"):
        await store.links.link(G, 4242, 5002, now=NOW)
    with pytest.raises(LinkTakenError, match="member"):
        await store.links.link(G, 4343, 5001, now=NOW)
    assert await store.links.link(G + 1, 4242, 5002, now=NOW)  # another server: its own links
    assert await store.links.confirmed(G) == {}
    assert await store.links.confirm(G, 5001) and not await store.links.confirm(G, 5001)
    assert await store.links.confirmed(G) == {4242: 5001}
    link = await store.links.of_user(G, 5001)
    assert link is not None and (link.cust_id, link.confirmed) == (4242, True)
    assert await store.links.forget_user(5001) == 1
    assert await store.links.of_user(G, 5001) is None
    assert await store.links.remove(G + 1, 5002) and not await store.links.remove(G + 1, 5002)


def _row(s: int, c: int, at: int, series: int = 491) -> DigestRow:
    return DigestRow(G, s, c, f"Driver {c}", at, "GT4 Cup", 2, 5, 3, 2000, 2020, series, 5)


async def test_digest_rows_and_one_claim_per_week(store: Store) -> None:
    rows = [_row(1, 10, NOW - 100), _row(1, 11, NOW - 100), _row(2, 10, NOW - 50, series=139), _row(3, 10, NOW + 5)]
    assert await store.digest.add_rows(rows) == 4
    assert await store.digest.add_rows(rows[:1]) == 0  # written twice (two processes): kept once
    got = await store.digest.rows(G, since=NOW - 1000, until=NOW)
    assert [(r.subsession_id, r.cust_id) for r in got] == [(1, 10), (1, 11), (2, 10)]
    assert got[0] == rows[0]
    last = await store.digest.last_race(G, 10)
    assert last is not None and last.subsession_id == 3
    assert await store.digest.series(G) == [(491, "GT4 Cup"), (139, "GT4 Cup")]
    assert await store.digest.claim_week(G, "2026-W07", 700, "a", now=NOW)
    assert not await store.digest.claim_week(G, "2026-W07", 700, "b", now=NOW)
    await store.digest.record_week(G, "2026-W07", 888, state="posted")
    assert await store.digest.week_state(G, "2026-W07") == "posted"
    assert await store.digest.week_state(G, "2026-W08") is None
