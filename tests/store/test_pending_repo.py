"""pending_race, the races owed, on each backend: written once, leased once, given up once."""

from __future__ import annotations

from dataclasses import replace

from ir2dis_cog.core.records import PendingRace
from ir2dis_cog.store import Store


async def test_a_race_found_twice_is_owed_once_and_leased_by_one_process(store: Store) -> None:
    race = PendingRace(9001, started_at=100, found_at=200, found_by="live", next_try_at=200)
    assert await store.pending.add(race)
    assert not await store.pending.add(replace(race, found_by="poll", found_at=300))  # a second finder
    assert [r.subsession_id for r in await store.pending.due(now=200)] == [9001]
    assert await store.pending.due(now=199) == []
    assert await store.pending.take(9001, now=200, until=260)
    assert not await store.pending.take(9001, now=200, until=260)  # the other process waits
    assert await store.pending.due(now=259) == []
    assert await store.pending.waiting() == 1
    await store.pending.settle(9001)
    assert await store.pending.get(9001) is None
    assert await store.pending.waiting() == 0


async def test_a_failed_try_is_kept_and_a_give_up_is_once_and_listed(store: Store) -> None:
    await store.pending.add(PendingRace(9002, 100, 200, "poll", next_try_at=200))
    await store.pending.add(PendingRace(9003, 100, 200, "catchup", next_try_at=200))
    failed = PendingRace(9002, 100, 200, "poll", 2, 900, first_failure_at=210, not_found_at=400, last_error="nf")
    await store.pending.failed(failed)
    assert await store.pending.get(9002) == failed
    assert (await store.pending.known([9002, 9003, 9004])).keys() == {9002, 9003}
    assert await store.pending.give_up(9002, "not_found", now=1000)
    assert not await store.pending.give_up(9002, "not_found", now=1001)  # logged and counted once
    await store.pending.settle(9002)  # a given-up race keeps its row for the status
    given = await store.pending.given_up(since=500)
    assert [(r.subsession_id, r.give_up_reason, r.gave_up_at) for r in given] == [(9002, "not_found", 1000)]
    assert [r.subsession_id for r in await store.pending.due(now=5000)] == [9003]
    assert await store.pending.waiting() == 1
    assert await store.pending.purge(before=1001) == 1
    assert await store.pending.given_up(since=0) == []
