"""Nothing lost under faults, at the poller's level with real parts (the real client against the
fake iRacing, real databases): bad results answers, "no such subsession", a database that stops
answering while the live watcher finds races, a process that dies holding a race, maintenance."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest

from ir2dis_cog.core.records import PendingRace
from ir2dis_cog.iracing.client import IRacingClient
from ir2dis_cog.iracing.errors import NotFoundError
from ir2dis_cog.observability.health import HealthInputs, evaluate_health
from ir2dis_cog.observability.metrics import Metrics
from ir2dis_cog.poller.live_watcher import LiveWatcher
from ir2dis_cog.store import Store
from tests.fakes.iracing import FakeIRacing
from tests.poller.conftest import EngineFactory, ManualClock, MemoryPublisher, World

G1, G2 = 111_111_111_111, 222_222_222_222
C1, C2 = 9001, 9002
A, B = 401, 402

HTML = b"<!DOCTYPE html><html><body><h1>Something went wrong</h1></body></html>"


def _spoil(fake: FakeIRacing, sid: int, how: str) -> bytes:
    """Make the race's results/get document bad (as a CDN or a half-written file would); returns
    the good one."""
    race = fake.world.races[sid]
    good = race.body
    if how == "truncated":
        bad = good[: len(good) // 2]
    elif how == "html":
        bad = HTML
    else:  # valid JSON without the race's results
        doc = json.loads(good)
        doc.pop("session_results")
        bad = json.dumps(doc).encode()
    fake.world.races[sid] = replace(race, body=bad)
    return good


def _mend(fake: FakeIRacing, sid: int, good: bytes) -> None:
    fake.world.races[sid] = replace(fake.world.races[sid], body=good)


def _given_up(metrics: Metrics, reason: str) -> float:
    return float(metrics.races_given_up_total.labels(reason)._value.get())


def _results_asked(fake: FakeIRacing, sid: int) -> int:
    return sum(1 for r in fake.requests if r.path.endswith("results/get") and f"subsession_id={sid}" in r.query)


class NotFoundFor:
    """The client, except that results/get answers "no such subsession" for some races, a number
    of times (None: always)."""

    def __init__(self, client: IRacingClient, times: dict[int, int | None]) -> None:
        self._client, self.times, self.said = client, times, 0

    async def get_recent_races(self, cust_id: int) -> Any:
        return await self._client.get_recent_races(cust_id)

    async def get_subsession(self, subsession_id: int) -> Any:
        if subsession_id in self.times:
            left = self.times[subsession_id]
            if left is None or left > 0:
                self.times[subsession_id] = None if left is None else left - 1
                self.said += 1
                raise NotFoundError("iRacing has nothing at results/get")
        return await self._client.get_subsession(subsession_id)

    async def get_lap_chart(self, subsession_id: int) -> Any:
        return await self._client.get_lap_chart(subsession_id)

    @property
    def budget(self) -> Any:
        return self._client.budget


@contextmanager
def database_down(*stores: Store, reads: bool = True) -> Iterator[None]:
    """The database stops answering (a unit fault: every statement raises; with ``reads`` False
    only the writes, as a database going away between a cycle's reads and its claims), then
    comes back."""

    async def refuse(*_: Any, **__: Any) -> Any:
        raise ConnectionRefusedError("the database does not answer")

    for s in stores:
        s.db.execute = refuse  # type: ignore[method-assign]
        if reads:
            s.db.fetchall = refuse  # type: ignore[method-assign]
    try:
        yield
    finally:
        for s in stores:
            del s.db.execute
            if reads:
                del s.db.fetchall


# --- the per-driver path (LIVE_WATCH off) -----------------------------------------------------


async def test_bad_results_answers_hold_the_races_and_each_is_posted_once_when_they_read_again(
    sqlite_store: Store, fake: FakeIRacing, clock: ManualClock, publisher: MemoryPublisher, make_engine: EngineFactory
) -> None:
    w = World(sqlite_store, fake, clock)
    fake.add_race([A], session_start_time=clock.now() - 5 * 86_400)
    await w.server(G1, C1)
    await w.track(G1, A)
    races = [w.race([A], minutes_ago=m) for m in (100, 80, 60)]
    good = {sid: _spoil(fake, sid, how) for sid, how in zip(races, ("truncated", "html", "incomplete"), strict=True)}
    engine = make_engine(sqlite_store)

    for _ in range(3):  # an hour of bad answers, asked again with backoff
        await engine.run_cycle()
        clock.advance(1200)
    assert publisher.posted(C1) == []
    mark = await sqlite_store.last_seen.get(G1, A)
    assert mark is not None and mark.last_subsession_id < races[0]  # the watermark waits for them
    owed = await sqlite_store.pending.known(races)
    assert sorted(owed) == races and all(r.gave_up_at is None and r.tries >= 2 for r in owed.values())

    for sid, body in good.items():
        _mend(fake, sid, body)
    clock.advance(1800)  # the longest backoff
    await engine.run_cycle()
    clock.advance(300)
    await engine.run_cycle()
    assert sorted(publisher.posted(C1)) == races  # each once
    assert await sqlite_store.pending.waiting() == 0
    mark = await sqlite_store.last_seen.get(G1, A)
    assert mark is not None and mark.last_subsession_id == races[-1]


async def test_no_such_subsession_once_then_found_is_posted(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    client: IRacingClient,
    metrics: Metrics,
) -> None:
    w = World(sqlite_store, fake, clock)
    fake.add_race([A], session_start_time=clock.now() - 5 * 86_400)
    await w.server(G1, C1)
    await w.track(G1, A)
    sid = w.race([A], minutes_ago=60)
    source = NotFoundFor(client, {sid: 1})
    engine = make_engine(sqlite_store, source=source)

    await engine.run_cycle()
    assert publisher.posted(C1) == [] and source.said == 1
    clock.advance(700)
    await engine.run_cycle()
    assert publisher.posted(C1) == [sid]
    assert _given_up(metrics, "not_found") == 0
    assert await sqlite_store.pending.known([sid]) == {}


async def test_no_such_subsession_twice_minutes_apart_is_given_up_once_counted_and_listed(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    client: IRacingClient,
    metrics: Metrics,
) -> None:
    w = World(sqlite_store, fake, clock)
    fake.add_race([A], session_start_time=clock.now() - 5 * 86_400)
    await w.server(G1, C1)
    await w.track(G1, A)
    ghost = w.race([A], minutes_ago=90)
    later = w.race([A], minutes_ago=40)
    source = NotFoundFor(client, {ghost: None})
    engine = make_engine(sqlite_store, source=source)

    await engine.run_cycle()
    assert publisher.posted(C1) == [later]  # a later race is posted; the watermark waits for the first
    clock.advance(120)
    await engine.run_cycle()  # "not found" again, but not minutes apart: still owed
    assert _given_up(metrics, "not_found") == 0
    clock.advance(600)
    await engine.run_cycle()
    assert _given_up(metrics, "not_found") == 1
    given = await sqlite_store.pending.given_up(since=int(clock.now()) - 7 * 86_400)
    assert [(r.subsession_id, r.give_up_reason) for r in given] == [(ghost, "not_found")]
    asked = source.said
    for _ in range(3):  # settled: its watermark moves past it, nobody asks again
        clock.advance(3600)
        await engine.run_cycle()
    assert source.said == asked and _given_up(metrics, "not_found") == 1
    mark = await sqlite_store.last_seen.get(G1, A)
    assert mark is not None and mark.last_subsession_id == later
    assert publisher.posted(C1) == [later]


# --- the live watcher's path --------------------------------------------------------------------


@pytest.mark.parametrize("reads", [True, False], ids=["down", "writes_fail"])
async def test_a_database_outage_while_the_watcher_finds_races_delays_them_and_loses_none(
    store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    reads: bool,
) -> None:
    w = World(store, fake, clock)
    fake.add_race([A, B], session_start_time=clock.now() - 5 * 86_400)
    await w.server(G1, C1)
    await w.server(G2, C2)
    await w.track(G1, A)
    await w.track(G2, B)
    engine = make_engine(store)
    watcher = LiveWatcher(engine, Metrics(), clock, poll_seconds=60)
    await engine.run_cycle()
    fake.add_race([800, 801], session_start_time=clock.now() - 60, race_minutes=90)  # keeps the list busy
    one = fake.add_race([A, 900], session_start_time=clock.now() - 300, race_minutes=15, results_delay=60)
    two = fake.add_race([B, 901], session_start_time=clock.now() - 240, race_minutes=15, results_delay=90)

    async def ticks(minutes: float) -> None:
        end = clock.now() + minutes * 60
        while clock.now() < end:
            await watcher.tick()
            clock.advance(30)

    await ticks(8)  # both watched
    assert watcher.healthy()
    with database_down(store, reads=reads):
        await ticks(6)  # both end and their results come out: found, but nothing can be recorded
        assert publisher.all_posts() == []
    back = clock.now()
    while publisher.all_posts() != sorted([(C1, one), (C2, two)]) and clock.now() - back < 600:
        await ticks(0.5)
    assert publisher.all_posts() == sorted([(C1, one), (C2, two)])
    assert clock.now() - back <= 120  # posted within two minutes of the database answering again
    assert await store.pending.waiting() == 0
    await ticks(10)
    clock.advance(7 * 3600)
    await engine.run_cycle()  # the safety net adds nothing
    assert publisher.all_posts() == sorted([(C1, one), (C2, two)])


async def test_a_race_held_by_a_process_that_died_is_posted_by_another_from_its_pending_row(
    stores: tuple[Store, Store],
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
) -> None:
    first, second = stores
    w = World(first, fake, clock)
    fake.add_race([A], session_start_time=clock.now() - 5 * 86_400)
    await w.server(G1, C1)
    await w.track(G1, A)
    dying = make_engine(first, process="dies")
    watcher = LiveWatcher(dying, Metrics(), clock, poll_seconds=60)
    fake.add_race([800, 801], session_start_time=clock.now() - 60, race_minutes=90)
    sid = fake.add_race([A, 900], session_start_time=clock.now() - 120, race_minutes=20, results_delay=120)
    await watcher.tick()  # its roster is read: the race is kept, and written down
    row = await first.pending.get(sid)
    assert row is not None and row.found_by == "roster"
    # ...and the process dies with it in hand (no stop, no post).

    other = make_engine(second, process="lives")
    before = len(fake.requests)
    end = clock.now() + 40 * 60
    while clock.now() < end:
        await other.run_owed()  # what its cycle (or its watcher) does first
        clock.advance(60)

    assert publisher.all_posts() == [(C1, sid)]
    assert await second.pending.known([sid]) == {}
    found_by = [r.path for r in fake.requests[before:] if not r.path.endswith("results/get")]
    assert not any(p.endswith(("member_recent_races", "search_series")) for p in found_by)
    mark = await second.last_seen.get(G1, A)
    assert mark is not None and mark.last_subsession_id == sid
    await other.run_cycle()
    assert publisher.all_posts() == [(C1, sid)]


async def test_health_says_maintenance_while_the_last_answers_were_so_even_with_the_watcher_healthy(
    sqlite_store: Store, fake: FakeIRacing, clock: ManualClock, make_engine: EngineFactory
) -> None:
    w = World(sqlite_store, fake, clock)
    await w.server(G1, C1)
    await w.track(G1, A)
    engine = make_engine(sqlite_store)
    watcher = LiveWatcher(engine, Metrics(), clock, poll_seconds=60)
    fake.add_race([800, 801], session_start_time=clock.now() - 60, race_minutes=90)
    await engine.run_cycle()
    await watcher.tick()
    assert watcher.healthy()

    def iracing() -> str:
        now = clock.now()
        inputs = HealthInputs(True, now, 300, now - 86_400, engine.status().maintenance, now, watcher.status())
        return str(evaluate_health(inputs)[1]["checks"]["iracing"])

    assert iracing() == "ok"
    clock.advance(60)
    fake.fault("maintenance", count=100)
    await watcher.tick()
    assert watcher.healthy()  # one failed list is no reason to distrust it yet
    assert iracing() == "maintenance"
    await engine.run_cycle()  # an idle cycle (nobody due) does not hide it
    assert iracing() == "maintenance"
    fake.clear_faults()
    clock.advance(60)
    await watcher.tick()
    assert iracing() == "ok"


async def test_a_race_owed_in_memory_while_the_database_is_down_is_written_when_it_answers(
    sqlite_store: Store, clock: ManualClock, make_engine: EngineFactory
) -> None:
    engine = make_engine(sqlite_store)
    with database_down(sqlite_store):
        await engine.owe(7777, int(clock.now()) - 600, "live")
        assert engine.store_failing_since() == clock.now()
        assert await engine.run_owed() == 0
    assert await sqlite_store.pending.get(7777) is None
    await engine.run_owed()  # written first, then asked (the fake has no such race yet: still owed)
    row = await sqlite_store.pending.get(7777)
    assert isinstance(row, PendingRace) and row.gave_up_at is None
    assert engine.store_failing_since() is None


async def settled_watcher(
    store: Store, fake: FakeIRacing, clock: ManualClock, make_engine: EngineFactory, *, busy_minutes: int
) -> LiveWatcher:
    """G1 tracks A, polled once; a live watcher healthy for 20 minutes beside an untracked race of
    ``busy_minutes``, its start-up catch-up over."""
    w = World(store, fake, clock)
    fake.add_race([A], session_start_time=clock.now() - 5 * 86_400)
    await w.server(G1, C1)
    await w.track(G1, A)
    engine = make_engine(store)
    watcher = LiveWatcher(engine, Metrics(), clock, poll_seconds=60)
    await engine.run_cycle()
    fake.add_race([800, 801], session_start_time=clock.now() - 60, race_minutes=busy_minutes)
    for _ in range(20):
        await watcher.tick()
        clock.advance(60)
    assert watcher.healthy() and not watcher.status().catching_up
    return watcher


async def test_after_a_spell_of_failures_the_catch_up_runs_though_the_watcher_stayed_healthy(
    sqlite_store: Store, fake: FakeIRacing, clock: ManualClock, publisher: MemoryPublisher, make_engine: EngineFactory
) -> None:
    watcher = await settled_watcher(sqlite_store, fake, clock, make_engine, busy_minutes=90)

    fake.broken_endpoints.append("season/spectator_subsessionids_detail")  # the live list fails...
    sid = fake.add_race([A, 900], session_start_time=clock.now(), race_minutes=1)  # ...while a race runs
    for _ in range(2):
        await watcher.tick()
        clock.advance(60)
    assert watcher.healthy()  # two failed lists are not enough to distrust it
    fake.broken_endpoints.clear()
    for _ in range(3):
        await watcher.tick()
        clock.advance(60)
    assert publisher.posted(C1) == [sid]  # found by race, not left to the per-driver sweep
    assert not any(r.path.endswith("member_recent_races") for r in fake.requests[-20:])


async def test_a_race_that_ran_whole_during_a_database_outage_is_caught_up_on_when_it_answers(
    sqlite_store: Store, fake: FakeIRacing, clock: ManualClock, publisher: MemoryPublisher, make_engine: EngineFactory
) -> None:
    watcher = await settled_watcher(sqlite_store, fake, clock, make_engine, busy_minutes=120)

    with database_down(sqlite_store):
        # Its roster cannot be checked against the tracked drivers while it runs.
        sid = fake.add_race([A, 900], session_start_time=clock.now(), race_minutes=2)
        for _ in range(4):
            with contextlib.suppress(ConnectionRefusedError):
                await watcher.tick()
            clock.advance(60)
    for _ in range(4):
        await watcher.tick()
        clock.advance(60)
    assert publisher.posted(C1) == [sid]
