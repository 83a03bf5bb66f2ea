"""Several processes on one database split the drivers: 2 and 3 engines, each with its own
connection and its own iRacing client, against one fake iRacing over real HTTP, on every backend.

PostgreSQL and MariaDB share the work (about the requests of one process); SQLite does not
(each process polls everything, and says once that SQLite is for one process). A process that
stops beating (SIGKILL) loses its drivers to the others within two poll intervals; every race
is posted once to every server that tracks one of its drivers.
"""

from __future__ import annotations

import asyncio
import logging
import random
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from ir2dis_cog.iracing.auth_state import MemoryAuthStateStore
from ir2dis_cog.iracing.client import IRacingClient
from ir2dis_cog.observability.metrics import Metrics
from ir2dis_cog.poller.engine import PollEngine
from ir2dis_cog.poller.work_share import WorkShare, heartbeat_period, lease_ttl, share_of
from ir2dis_cog.store import Store, open_store
from tests.fakes.iracing import FakeIRacing
from tests.iracing.conftest import FAST, make_settings
from tests.poller.conftest import T0, ManualClock, MemoryPublisher, World

INTERVAL = 300.0
GUILDS = {111_000_000_001: 9_001, 111_000_000_002: 9_002, 111_000_000_003: 9_003}
DRIVERS = list(range(700_001, 700_037))  # 36 tracked drivers
FIELD = 20  # cars in a race: a few tracked drivers among strangers


@dataclass
class Process:
    name: str
    store: Store
    engine: PollEngine
    work: WorkShare
    alive: bool = True


@dataclass
class Run:
    fake: FakeIRacing
    clock: ManualClock
    publisher: MemoryPublisher
    processes: list[Process]
    tracking: dict[int, set[int]] = field(default_factory=dict)  # cust_id -> guilds
    races: dict[int, list[int]] = field(default_factory=dict)  # subsession -> tracked drivers in it
    _stranger: int = 800_000

    def live(self) -> list[Process]:
        return [p for p in self.processes if p.alive]

    async def beat(self) -> None:
        for p in self.live():
            await p.work.beat()

    async def cycle(self) -> None:
        await asyncio.gather(*(p.engine.run_cycle() for p in self.live()))

    async def wait(self, seconds: float) -> None:
        """Time passes; the live processes' heartbeat loops keep beating meanwhile."""
        step = heartbeat_period(INTERVAL)
        left = seconds
        while left > 0:
            self.clock.advance(min(step, left))
            left -= step
            await self.beat()

    def race(self, rng: random.Random, drivers: list[int]) -> int:
        """A 30-minute race of ``FIELD`` cars that finishes now, with these tracked drivers in it."""
        strangers = []
        for _ in range(FIELD - len(drivers)):
            self._stranger += 1
            strangers.append(self._stranger)
        cars: list[int] = [*drivers, *strangers]
        rng.shuffle(cars)
        s = self.fake.add_race(cars, session_start_time=self.clock.now() - 31 * 60, race_minutes=30)
        self.races[s] = drivers
        return s

    def expected_posts(self) -> list[tuple[int, int]]:
        return sorted(
            (GUILDS[g], s) for s, drivers in self.races.items() for g in {g for c in drivers for g in self.tracking[c]}
        )

    def data_requests(self, since: float = 0.0) -> int:
        return sum(1 for r in self.fake.requests if r.kind == "data" and r.at > since)

    def polled_since(self, since: float, *, until: float) -> set[int]:
        return {
            int(parse_qs(r.query)["cust_id"][0])
            for r in self.fake.requests
            if r.kind == "data" and r.path.endswith("stats/member_recent_races") and since < r.at <= until
        }


async def start(stack: AsyncExitStack, url: str, tmp_path: Path, names: list[str], *, split: bool) -> Run:
    clock = ManualClock(T0)
    fake = FakeIRacing(clock=clock.now)
    await fake.start()
    stack.push_async_callback(fake.stop)
    settings = make_settings(fake, tmp_path, POLL_INTERVAL_SECONDS=str(int(INTERVAL)))
    publisher = MemoryPublisher()
    processes = []
    for name in names:
        store = await open_store(url, data_dir=tmp_path)
        stack.push_async_callback(store.close)
        client = await stack.enter_async_context(
            IRacingClient(settings, state_store=MemoryAuthStateStore(), metrics=Metrics(), tuning=FAST, clock=clock.now)
        )
        work = WorkShare(store.work, clock, process=name, split=split, ttl=lease_ttl(INTERVAL))
        engine = PollEngine(store, client, publisher, settings, Metrics(), clock, process=name, work=work)
        processes.append(Process(name, store, engine, work))
    run = Run(fake, clock, publisher, processes)
    world = World(processes[0].store, fake, clock)
    rng = random.Random(16)
    for g, channel in GUILDS.items():
        await world.server(g, channel)
    for c in DRIVERS:
        guilds = rng.sample(sorted(GUILDS), rng.choice([1, 1, 2]))
        run.tracking[c] = set(guilds)
        for g in guilds:
            await world.track(g, c)
    await run.beat()  # every process is up before the first cycle, as the cog beats at load
    return run


async def play(run: Run, cycles: int, seed: int) -> None:
    """Cycles of the poll loop, with two races finishing before each (2-3 tracked drivers each)."""
    rng = random.Random(seed)
    for _ in range(cycles):
        for _ in range(2):
            run.race(rng, rng.sample(DRIVERS, rng.choice([2, 3])))
        await run.cycle()
        await run.wait(INTERVAL)


async def one_process_requests(tmp_path: Path) -> int:
    async with AsyncExitStack() as stack:
        base = tmp_path / "one"
        base.mkdir()
        run = await start(stack, f"sqlite:///{base / 'one.sqlite3'}", base, ["solo"], split=True)
        await play(run, cycles=6, seed=5)
        assert run.publisher.all_posts() == run.expected_posts()
        return run.data_requests()


@pytest.mark.parametrize("count", [2, 3])
async def test_processes_share_the_drivers_and_post_every_race_once(
    db_url: str, backend: str, tmp_path: Path, count: int, caplog: pytest.LogCaptureFixture
) -> None:
    alone = await one_process_requests(tmp_path)
    names = [f"p{i}" for i in range(1, count + 1)]
    caplog.set_level(logging.WARNING, logger="red.ir2dis.work")
    async with AsyncExitStack() as stack:
        run = await start(stack, db_url, tmp_path, names, split=backend != "sqlite")
        await play(run, cycles=6, seed=5)

        assert run.publisher.all_posts() == run.expected_posts()  # each race once in each server
        total = run.data_requests()
        views = [p.work.view() for p in run.processes]
        if backend == "sqlite":
            # One process per SQLite file: each polls every driver, and it is said once.
            assert total >= count * alone * 0.9
            assert all(v.others_on_sqlite for v in views)
            warnings = [r.message for r in caplog.records]
            assert len(warnings) == count  # once in each process, not once a beat
            assert all("SQLite is for one process" in w for w in warnings)
        else:
            assert total <= alone * 1.1, (total, alone)
            assert sorted(v.mine for v in views) != [0] * count
            assert sum(v.mine for v in views) == len(DRIVERS)  # a partition: nobody twice, nobody left
            assert all(len(v.processes) == count for v in views)
            assert not caplog.records


@pytest.mark.parametrize("count", [2, 3])
async def test_a_killed_process_loses_its_drivers_within_two_intervals(
    db_url: str, backend: str, tmp_path: Path, count: int
) -> None:
    names = [f"p{i}" for i in range(1, count + 1)]
    split = backend != "sqlite"
    async with AsyncExitStack() as stack:
        run = await start(stack, db_url, tmp_path, names, split=split)
        await play(run, cycles=2, seed=7)
        victim = run.processes[-1]
        its_drivers = share_of(DRIVERS, victim.name, names) if split else frozenset(DRIVERS)
        assert 0 < len(its_drivers) < len(DRIVERS) or not split

        # SIGKILL: no goodbye, no more beats, no more cycles; a race of its drivers just finished.
        victim.alive = False
        killed_at = run.clock.now()
        rng = random.Random(8)
        run.race(rng, sorted(its_drivers)[:3])
        await run.wait(INTERVAL)  # the survivors' next cycle, one interval later
        await run.cycle()

        assert its_drivers <= run.polled_since(killed_at, until=killed_at + 2 * INTERVAL)
        assert run.publisher.all_posts() == run.expected_posts()
        survivors = [p.work.view() for p in run.live()]
        assert all(victim.name not in {r.process_id for r in v.processes} for v in survivors)
        if split:
            assert sum(v.mine for v in survivors) == len(DRIVERS)
