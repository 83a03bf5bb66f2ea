"""The live watcher with the engine, against the fake iRacing on loopback (real client, SQLite,
in-memory Discord): races found from the live list, one roster and one results/get per race,
misses counted, falling back when the list fails, and a restart while a race is watched."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ir2dis_cog.observability.metrics import Metrics
from ir2dis_cog.poller.engine import PollEngine
from ir2dis_cog.poller.live_watcher import LiveWatcher
from ir2dis_cog.store import Store
from tests.fakes.iracing import FakeIRacing
from tests.poller.conftest import EngineFactory, ManualClock, MemoryPublisher, World

G1, G2 = 111_111_111_111, 222_222_222_222
C1, C2 = 9001, 9002
A, B = 401, 402
RECENT = "stats/member_recent_races"


def calls(fake: FakeIRacing, endpoint: str) -> list[str]:
    return [r.query for r in fake.requests if r.kind == "data" and r.path == f"/data/{endpoint}"]


def metric(metrics: Metrics, name: str, labels: dict[str, str] | None = None) -> float:
    return metrics.registry.get_sample_value(name, labels or {}) or 0.0


async def tracked_world(store: Store, fake: FakeIRacing, clock: ManualClock) -> World:
    w = World(store, fake, clock)
    fake.add_race([A, B], session_start_time=clock.now() - 5 * 86_400)  # history before tracking
    await w.server(G1, C1)
    await w.server(G2, C2)
    await w.track(G1, A)
    await w.track(G2, B)
    # A long race of others keeps the live list from being empty (an empty list means degraded).
    fake.add_race(list(range(700, 720)), session_start_time=clock.now() - 60, race_minutes=600)
    return w


def live_race(fake: FakeIRacing, clock: ManualClock, drivers: list[int], **kw: object) -> int:
    """A 20-minute race that started 5 minutes ago; its results come 3 minutes after its end."""
    return fake.add_race(drivers, session_start_time=clock.now() - 300, race_minutes=20, results_delay=180, **kw)  # type: ignore[arg-type]


async def run_for(watcher: LiveWatcher, clock: ManualClock, seconds: float, step: float = 30.0) -> None:
    """Let simulated time pass with the watcher ticking, as its loop would."""
    end = clock.now() + seconds
    while clock.now() < end:
        await watcher.tick()
        clock.advance(step)


async def started(
    make_engine: EngineFactory, store: Store, metrics: Metrics, clock: ManualClock
) -> tuple[PollEngine, LiveWatcher]:
    engine = make_engine(store)
    watcher = LiveWatcher(engine, metrics, clock, poll_seconds=60)
    await engine.run_cycle()  # the first cycle after a start polls everyone; nothing new
    await watcher.tick()
    assert watcher.status().state == "healthy"
    return engine, watcher


async def test_a_tracked_driver_in_a_live_race_is_posted_once_after_publication_without_asking_for_them(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    metrics: Metrics,
) -> None:
    await tracked_world(sqlite_store, fake, clock)
    engine, watcher = await started(make_engine, sqlite_store, metrics, clock)
    fake.requests.clear()
    sid = live_race(fake, clock, [900, A, 901])

    await run_for(watcher, clock, 15 * 60 + 60)  # the race ends; results not out yet
    await engine.run_cycle()  # the safety net: A is not due while the watcher is healthy
    assert publisher.all_posts() == []
    await run_for(watcher, clock, 4 * 60)
    await engine.run_cycle()

    assert publisher.all_posts() == [(C1, sid)]
    assert {d.cust_id for e in publisher.card(C1, sid).entries for d in e.drivers} == {A}
    assert calls(fake, RECENT) == []  # found without asking about the driver
    assert calls(fake, "session/reg_drivers_list") == [f"subsession_id={sid}"]
    assert (await sqlite_store.last_seen.get(G1, A)).last_subsession_id == sid
    # the safety net comes round to A later: nothing posted twice, no miss counted
    clock.advance(7 * 3600)
    await watcher.tick()
    await engine.run_cycle()
    assert f"cust_id={A}" in calls(fake, RECENT)
    assert publisher.all_posts() == [(C1, sid)]
    assert metric(metrics, "ir2dis_live_misses_total", {"reason": "not_listed"}) == 0
    assert metric(metrics, "ir2dis_live_races_found_total") == 1
    # the client counts the watcher's requests in their own lane of the engine's budget
    assert metric(metrics, "ir2dis_iracing_lane_requests_total", {"lane": "watcher"}) >= 3


async def test_two_servers_drivers_in_one_race_cost_one_roster_and_one_results_get(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    metrics: Metrics,
) -> None:
    await tracked_world(sqlite_store, fake, clock)
    _, watcher = await started(make_engine, sqlite_store, metrics, clock)
    fake.requests.clear()
    sid = fake.add_race([B, 900, A], session_start_time=clock.now() - 300, race_minutes=20, results_delay=0)

    await run_for(watcher, clock, 17 * 60)

    assert publisher.all_posts() == [(C1, sid), (C2, sid)]
    assert {d.cust_id for e in publisher.card(C1, sid).entries for d in e.drivers} == {A}
    assert {d.cust_id for e in publisher.card(C2, sid).entries for d in e.drivers} == {B}
    assert calls(fake, "session/reg_drivers_list") == [f"subsession_id={sid}"]
    assert calls(fake, "results/get") == [f"subsession_id={sid}"]
    assert watcher.status().races_watched == 0


async def test_a_race_missing_from_the_live_list_is_found_by_the_safety_net_and_counted(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    metrics: Metrics,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await tracked_world(sqlite_store, fake, clock)
    engine, watcher = await started(make_engine, sqlite_store, metrics, clock)
    await run_for(watcher, clock, 600)  # the race starts while the watcher is healthy
    sid = live_race(fake, clock, [A, 900], live_listed=False)
    await run_for(watcher, clock, 20 * 60, step=120)
    assert publisher.all_posts() == []

    clock.advance(7 * 3600)  # A (idle for days before) comes due for the safety net: 6 h at most
    await watcher.tick()
    with caplog.at_level(logging.WARNING, logger="red.ir2dis.poller.live"):
        await engine.run_cycle()

    assert publisher.all_posts() == [(C1, sid)]
    assert metric(metrics, "ir2dis_live_misses_total", {"reason": "not_listed"}) == 1
    miss = next(r for r in caplog.records if getattr(r, "event", None) == "live_miss")
    assert miss.subsession_id == sid and "not in the live list" in miss.getMessage()  # type: ignore[attr-defined]
    assert watcher.status().misses_last_day == 1


async def test_a_failing_live_list_makes_the_engine_fall_back_to_polling_every_driver(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    metrics: Metrics,
) -> None:
    await tracked_world(sqlite_store, fake, clock)
    engine, watcher = await started(make_engine, sqlite_store, metrics, clock)
    clock.advance(600)
    fake.requests.clear()
    await engine.run_cycle()
    assert calls(fake, RECENT) == []  # healthy: nobody is due yet

    fake.fault("server_error", count=1000)
    await run_for(watcher, clock, 240, step=60)
    fake.clear_faults()
    status = watcher.status()
    assert status.state == "degraded"
    assert status.reason is not None and status.reason.startswith("no live list for")
    assert metric(metrics, "ir2dis_live_watcher_healthy") == 0
    fake.requests.clear()
    await engine.run_cycle()
    assert sorted(calls(fake, RECENT)) == [f"cust_id={A}", f"cust_id={B}"]  # today's schedule again

    await watcher.tick()  # the list answers again
    assert watcher.status().state == "healthy"


async def test_a_restart_while_a_race_is_watched_still_posts_it_once(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    metrics: Metrics,
) -> None:
    await tracked_world(sqlite_store, fake, clock)
    _, watcher = await started(make_engine, sqlite_store, metrics, clock)
    sid = live_race(fake, clock, [A, B])
    await run_for(watcher, clock, 120)
    assert watcher.status().races_watched == 1

    # the process dies mid-race; a new one starts on the same database
    engine2 = make_engine(sqlite_store, process="engine-b")
    watcher2 = LiveWatcher(engine2, Metrics(), clock, poll_seconds=60)
    await engine2.run_cycle()
    await run_for(watcher2, clock, 20 * 60)

    assert publisher.all_posts() == [(C1, sid), (C2, sid)]
    clock.advance(7 * 3600)
    await watcher2.tick()
    await engine2.run_cycle()
    assert publisher.all_posts() == [(C1, sid), (C2, sid)]


async def test_a_slow_post_does_not_hold_up_the_live_list_and_stop_finishes_it(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    metrics: Metrics,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A found race posts in a task of its own (one for hundreds of servers takes a while): the
    loop's ticks go on reading the list and rosters meanwhile; stopping waits for the post."""
    await tracked_world(sqlite_store, fake, clock)
    _, watcher = await started(make_engine, sqlite_store, metrics, clock)
    first = live_race(fake, clock, [A, 900])
    await run_for(watcher, clock, 15 * 60 + 60)
    discord_answers = asyncio.Event()
    publish = publisher.publish

    async def slow(*args: object, **kwargs: object) -> int:
        await discord_answers.wait()
        return await publish(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(publisher, "publish", slow)
    for _ in range(8):  # results out: found, its post hangs; the loop goes on
        await watcher.tick(settle=False)
        clock.advance(30)
    assert publisher.all_posts() == []
    second = live_race(fake, clock, [B, 901])
    for _ in range(3):
        await watcher.tick(settle=False)
        clock.advance(30)
    assert f"subsession_id={second}" in calls(fake, "session/reg_drivers_list")
    watcher.start()
    discord_answers.set()
    await watcher.stop()
    assert publisher.all_posts() == [(C1, first)]
    assert metric(metrics, "ir2dis_live_races_found_total") == 1
