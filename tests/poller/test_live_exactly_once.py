"""Exactly once on every backend: two processes on one database, each with its own live watcher,
find the same race at the same moment; each server gets it once, and the safety net adds nothing."""

from __future__ import annotations

import asyncio

from ir2dis_cog.observability.metrics import Metrics
from ir2dis_cog.poller.live_watcher import LiveWatcher
from ir2dis_cog.store import Store
from tests.fakes.iracing import FakeIRacing
from tests.poller.conftest import EngineFactory, ManualClock, MemoryPublisher, World

G1, G2 = 111_111_111_111, 222_222_222_222
C1, C2 = 9001, 9002
A, B = 401, 402


async def test_two_watchers_on_one_database_post_a_race_once_per_server(
    stores: tuple[Store, Store],
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
) -> None:
    one, two = stores
    w = World(one, fake, clock)
    fake.add_race([A, B], session_start_time=clock.now() - 5 * 86_400)
    await w.server(G1, C1)
    await w.server(G2, C2)
    await w.track(G1, A)
    await w.track(G2, A)
    await w.track(G2, B)
    engines = [make_engine(one, process="process-1"), make_engine(two, process="process-2")]
    watchers = [LiveWatcher(e, Metrics(), clock, poll_seconds=60) for e in engines]
    for e in engines:
        await e.run_cycle()
    sid = fake.add_race([A, 900, B], session_start_time=clock.now() - 300, race_minutes=20, results_delay=60)

    end = clock.now() + 20 * 60
    while clock.now() < end:
        await asyncio.gather(*(wt.tick() for wt in watchers))
        clock.advance(30)

    assert publisher.all_posts() == [(C1, sid), (C2, sid)]
    assert {d.cust_id for e in publisher.card(C2, sid).entries for d in e.drivers} == {A, B}
    for store in (one, two):
        assert (await store.last_seen.get(G2, B)).last_subsession_id == sid
    clock.advance(7 * 3600)
    for e in engines:
        await e.run_cycle()
    assert publisher.all_posts() == [(C1, sid), (C2, sid)]


async def test_two_processes_catching_up_after_a_start_post_a_race_once_per_server(
    stores: tuple[Store, Store],
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
) -> None:
    # Both start after a race ended (in no live list any more): each one's catch-up finds it.
    one, two = stores
    w = World(one, fake, clock)
    fake.add_race([A, B], session_start_time=clock.now() - 5 * 86_400)
    await w.server(G1, C1)
    await w.server(G2, C2)
    await w.track(G1, A)
    await w.track(G2, B)
    fake.add_race([800, 801], session_start_time=clock.now() - 600, race_minutes=60)  # keeps the list healthy
    sid = fake.add_race([A, 900, B], session_start_time=clock.now() - 25 * 60, race_minutes=20, results_delay=120)
    engines = [make_engine(one, process="process-1"), make_engine(two, process="process-2")]
    watchers = [LiveWatcher(e, Metrics(), clock, poll_seconds=60) for e in engines]

    end = clock.now() + 10 * 60
    while clock.now() < end:
        await asyncio.gather(*(wt.tick() for wt in watchers))  # each settles its posts
        clock.advance(30)

    assert publisher.all_posts() == [(C1, sid), (C2, sid)]
    assert not any(r.path.endswith("member_recent_races") for r in fake.requests)  # by race, not by driver
    fetched = [r for r in fake.requests if r.path.endswith("results/get") and f"subsession_id={sid}" in r.query]
    assert len(fetched) == 2  # both found it: the outbox's claims made it one post per server
    for e in engines:
        await e.run_cycle()  # the sweep after a start adds nothing
    assert publisher.all_posts() == [(C1, sid), (C2, sid)]
