"""The live watcher's catch-up after a start: races that ended while the bot was down are found by
race (results/search_series, then results/get) and not by driver, once; a failing search leaves
them to the per-driver sweep; more races than drivers leaves it to the sweep too. Against the fake
iRacing on loopback (real client, SQLite, in-memory Discord), and the pure rules alone."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from ir2dis_cog.iracing.search_series import SeriesRace
from ir2dis_cog.observability.metrics import Metrics
from ir2dis_cog.poller.live_catchup import CAP, MARGIN, REPEAT, Window, after_search, search_since, to_fetch
from ir2dis_cog.poller.live_watcher import LiveWatcher
from ir2dis_cog.store import Store
from tests.fakes.iracing import FakeIRacing
from tests.poller.conftest import EngineFactory, ManualClock, MemoryPublisher
from tests.poller.test_live_watcher import C1, C2, RECENT, A, B, calls, metric, run_for, tracked_world

SEARCH = "results/search_series"


def ended_before_start(fake: FakeIRacing, clock: ManualClock, drivers: list[int], ago: float, delay: float) -> int:
    """A 20-minute race that ended ``ago`` seconds before now, its results ``delay`` s after its end."""
    return fake.add_race(drivers, session_start_time=clock.now() - ago - 1200, race_minutes=20, results_delay=delay)


async def test_races_that_ended_while_the_bot_was_down_are_posted_once_by_the_catch_up_without_asking_for_drivers(
    store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    metrics: Metrics,
) -> None:
    await tracked_world(store, fake, clock)
    out = ended_before_start(fake, clock, [900, A], ago=240, delay=120)  # results out before the start
    late = ended_before_start(fake, clock, [B, 901], ago=60, delay=200)  # out 140 s after the start
    fake.requests.clear()
    engine = make_engine(store)
    watcher = LiveWatcher(engine, metrics, clock, poll_seconds=60)

    await run_for(watcher, clock, 6 * 60)  # the watcher alone: no poll cycle yet

    assert publisher.all_posts() == [(C1, out), (C2, late)]
    assert calls(fake, RECENT) == []  # found by race, not by driver
    searches = calls(fake, SEARCH)
    assert len(searches) >= 2 and all("event_types=5" in q and "official_only=true" in q for q in searches)
    assert calls(fake, "results/get").count(f"subsession_id={out}") == 1  # each race fetched once
    assert calls(fake, "results/get").count(f"subsession_id={late}") == 1
    assert (await store.last_seen.get(G1_OF[C1], A)).last_subsession_id == out
    assert metric(metrics, "ir2dis_live_catchup_total", {"outcome": "found"}) == 2
    assert watcher.status().caught_up_last_day == 2 and watcher.status().catching_up  # its window is open

    # the sweep after the start asks every driver: nothing twice, no miss counted
    await engine.run_cycle()
    assert sorted(calls(fake, RECENT)) == [f"cust_id={A}", f"cust_id={B}"]
    await run_for(watcher, clock, 15 * 60, step=60)  # the catch-up's remaining searches find nothing new
    assert publisher.all_posts() == [(C1, out), (C2, late)]
    assert sum(metrics.registry.get_sample_value("ir2dis_live_misses_total", {"reason": r}) or 0 for r in MISSES) == 0
    assert len(calls(fake, SEARCH)) <= 900 / REPEAT + 1  # it stops after its window
    assert not watcher.status().catching_up and watcher.status().caught_up_last_day == 2


G1_OF = {C1: 111_111_111_111, C2: 222_222_222_222}
MISSES = ("not_listed", "no_tracked_driver", "roster_unread", "no_results")


async def test_a_failing_search_leaves_the_races_to_the_sweep_and_nothing_is_posted_twice(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    metrics: Metrics,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await tracked_world(sqlite_store, fake, clock)
    out = ended_before_start(fake, clock, [900, A], ago=240, delay=120)
    fake.broken_endpoints.append(SEARCH)
    engine = make_engine(sqlite_store)
    watcher = LiveWatcher(engine, metrics, clock, poll_seconds=60)

    with caplog.at_level(logging.WARNING, logger="red.ir2dis.poller.live"):
        await run_for(watcher, clock, 3 * 60, step=60)
    assert publisher.all_posts() == []
    assert metric(metrics, "ir2dis_live_catchup_total", {"outcome": "search_failed"}) >= 1
    assert metric(metrics, "ir2dis_poll_errors_total", {"kind": "live_catchup_search"}) >= 1
    assert watcher.status().state == "healthy"  # the live list is fine; only the catch-up failed

    await engine.run_cycle()  # the sweep finds it
    assert publisher.all_posts() == [(C1, out)]
    fake.broken_endpoints.clear()
    await run_for(watcher, clock, 15 * 60, step=60)  # the search answers again: the race is settled
    await engine.run_cycle()
    assert publisher.all_posts() == [(C1, out)]


async def test_more_races_to_fetch_than_tracked_drivers_leaves_them_to_the_sweep(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    metrics: Metrics,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await tracked_world(sqlite_store, fake, clock)  # two tracked drivers
    others = [ended_before_start(fake, clock, [800 + i], ago=300 + i, delay=0) for i in range(3)]
    mine = ended_before_start(fake, clock, [A], ago=200, delay=0)
    fake.requests.clear()
    engine = make_engine(sqlite_store)
    watcher = LiveWatcher(engine, metrics, clock, poll_seconds=60)

    with caplog.at_level(logging.INFO, logger="red.ir2dis.poller.live"):
        await run_for(watcher, clock, 5 * 60, step=60)

    assert len(calls(fake, SEARCH)) == 1  # skipped once, not searched again
    assert calls(fake, "results/get") == []
    assert metric(metrics, "ir2dis_live_catchup_total", {"outcome": "skipped"}) == 1
    skipped = next(r for r in caplog.records if getattr(r, "event", None) == "live_catchup_skipped")
    assert "4 races" in skipped.getMessage() and "2 tracked drivers" in skipped.getMessage()
    await engine.run_cycle()
    assert publisher.all_posts() == [(C1, mine)]
    assert others  # their drivers are not tracked: nothing for them


# --- the pure rules ----------------------------------------------------------------------------


def row(sid: int, end: float) -> SeriesRace:
    t = datetime.fromtimestamp(end, UTC)
    return SeriesRace(sid, sid + 1, t, t)


def test_the_search_starts_a_margin_before_the_newest_settled_race_and_never_beyond_the_cap() -> None:
    now = 1_770_000_000.0
    assert search_since(now, now - 600) == now - 600 - MARGIN
    assert search_since(now, now - 30 * 86_400) == now - CAP  # a long downtime: the cap, the sweep beyond
    assert search_since(now, None) == now - CAP
    assert search_since(now, now + 5_000) == now  # a clock ahead: never a range in the future


def test_the_search_repeats_until_its_window_is_over() -> None:
    w = Window(since=0.0, began=1000.0, next_at=1000.0)
    nxt = after_search(w, 1000.0)
    assert nxt is not None and nxt.next_at == 1000.0 + REPEAT
    assert after_search(w, 1000.0 + 900.0 - REPEAT + 1) is None


def test_each_race_is_fetched_once_oldest_first_and_known_ones_not_at_all() -> None:
    rows = [row(3, 300.0), row(1, 100.0), row(2, 200.0), row(1, 100.0)]
    assert to_fetch(rows, lambda s: s == 2) == [1, 3]
