"""Three real bot processes on one PostgreSQL or MariaDB database, one of them SIGKILLed mid-run
(and on one SQLite file, where each process polls every driver and says SQLite is for one).

Each process is ``python -m tests.poller.bot_process``: the poll engine with its work share on a
real clock (a cycle every 10 s, a beat every 2 s, dead after three missed beats), its own
connection and its own login, against one fake iRacing served from this test. Races finish
while they run; one process is killed with SIGKILL (no goodbye, claims perhaps half done); the
two left must poll its drivers within two intervals, and every race must reach every server
that tracks one of its drivers exactly once: counted in the shared sink the processes post to
(Discord's stand-in) and in post_history.
"""

from __future__ import annotations

import asyncio
import random
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from ir2dis_cog.poller.ports import SystemClock
from ir2dis_cog.poller.work_share import share_of
from ir2dis_cog.store import Store, open_store
from tests.fakes.iracing import FakeIRacing
from tests.poller.conftest import World

ROOT = Path(__file__).resolve().parents[2]
INTERVAL = 10  # seconds between one process's cycles
GUILDS = {111_000_000_011: 9_011, 111_000_000_012: 9_012, 111_000_000_013: 9_013}
DRIVERS = list(range(710_001, 710_019))  # 18 tracked drivers
NAMES = ["bot-a", "bot-b", "bot-c"]
FIELD = 16


class Processes:
    """The bot processes of one test, their files, and the races of the world they watch."""

    def __init__(self, tmp_path: Path, fake: FakeIRacing, store: Store, url: str) -> None:
        self.tmp = tmp_path
        self.fake = fake
        self.store = store
        self.url = url
        self.sink = tmp_path / "discord.sink"
        self.sink.touch()
        self.running: dict[str, asyncio.subprocess.Process] = {}
        self.tracking: dict[int, set[int]] = {}  # cust_id -> guilds
        self.races: dict[int, list[int]] = {}  # subsession -> tracked drivers in it
        self._stranger = 810_000

    async def start(self, name: str) -> None:
        log = (self.tmp / f"{name}.log").open("wb")
        self.running[name] = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.poller.bot_process",
            f"--db-url={self.url}",
            f"--fake-url={self.fake.base_url}",
            f"--name={name}",
            f"--sink={self.sink}",
            f"--ready={self.tmp / (name + '.ready')}",
            f"--data-dir={self.tmp}",
            f"--interval={INTERVAL}",
            cwd=ROOT,
            stdout=log,
            stderr=log,
        )

    async def wait_ready(self) -> None:
        async with asyncio.timeout(60):
            for name, proc in self.running.items():
                while not (self.tmp / f"{name}.ready").exists():
                    assert proc.returncode is None, self.log_of(name)
                    await asyncio.sleep(0.1)

    def log_of(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text()[-3000:]

    def race(self, rng: random.Random, drivers: list[int]) -> int:
        """A 30-minute race of ``FIELD`` cars that finished a minute ago, these tracked drivers in it."""
        strangers = list(range(self._stranger + 1, self._stranger + 1 + FIELD - len(drivers)))
        self._stranger += len(strangers)
        cars = [*drivers, *strangers]
        rng.shuffle(cars)
        s = self.fake.add_race(cars, session_start_time=time.time() - 31 * 60, race_minutes=30)
        self.races[s] = drivers
        return s

    def expected_posts(self) -> list[tuple[int, int]]:
        return sorted(
            (GUILDS[g], s) for s, drivers in self.races.items() for g in {g for c in drivers for g in self.tracking[c]}
        )

    def sink_posts(self) -> list[tuple[int, int]]:
        lines = [line.split() for line in self.sink.read_text().splitlines()]
        return sorted((int(channel), int(s)) for _, channel, s, _ in lines)

    def polled(self, since: float, until: float) -> set[int]:
        return {
            int(parse_qs(r.query)["cust_id"][0])
            for r in self.fake.requests
            if r.kind == "data" and r.path.endswith("stats/member_recent_races") and since < r.at <= until
        }

    async def stop_all(self) -> None:
        live = [(name, proc) for name, proc in self.running.items() if proc.returncode is None]
        for _, proc in live:
            proc.terminate()
        for name, proc in live:
            if proc.returncode is None:
                try:
                    await asyncio.wait_for(proc.wait(), 30)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
                    pytest.fail(f"{name} did not stop: {self.log_of(name)}")


async def seed(run: Processes) -> None:
    world = World(run.store, run.fake, SystemClock())
    rng = random.Random(16)
    for g, channel in GUILDS.items():
        await world.server(g, channel)
    for c in DRIVERS:
        guilds = rng.sample(sorted(GUILDS), rng.choice([1, 1, 2]))
        run.tracking[c] = set(guilds)
        for g in guilds:
            await world.track(g, c)


async def test_a_sigkilled_process_s_drivers_go_to_the_others_and_every_race_is_posted_once(
    backend: str, db_url: str, tmp_path: Path
) -> None:
    url, split = db_url, backend != "sqlite"
    fake = FakeIRacing(rate_limit=2400)  # three processes' logins and polls, 10 s apart: not a budget test
    await fake.start()
    store = await open_store(url, data_dir=tmp_path)
    run = Processes(tmp_path, fake, store, url)
    try:
        await seed(run)
        for name in NAMES:
            await run.start(name)
        await run.wait_ready()
        rng = random.Random(5)

        # Three processes share the drivers while races finish.
        for _ in range(2):
            for _ in range(2):
                run.race(rng, rng.sample(DRIVERS, rng.choice([2, 3])))
            await asyncio.sleep(INTERVAL)
        rows = await store.work.all()
        assert sorted(r.process_id for r in rows) == NAMES
        if split:
            assert sum(r.drivers for r in rows) == len(DRIVERS) and all(r.drivers > 0 for r in rows)
        else:  # SQLite is for one process: each polls every driver, and says so once
            assert all(r.drivers == len(DRIVERS) for r in rows)
            assert all("SQLite is for one process" in run.log_of(name) for name in NAMES)

        # SIGKILL one mid-run; a race of its drivers (one shared with a survivor's) has just finished.
        victim = NAMES[-1]
        its_drivers = share_of(DRIVERS, victim, NAMES) if split else frozenset(DRIVERS)
        survivors_drivers = sorted(set(DRIVERS) - its_drivers) or DRIVERS[:1]
        run.running[victim].send_signal(signal.SIGKILL)
        assert await run.running[victim].wait() == -signal.SIGKILL
        killed_at = time.time()
        run.race(rng, sorted(its_drivers)[:3])
        run.race(rng, [sorted(its_drivers)[-1], survivors_drivers[0]])

        await asyncio.sleep(2 * INTERVAL)
        assert its_drivers <= run.polled(killed_at, killed_at + 2 * INTERVAL), run.log_of(NAMES[0])
        live = {r.process_id: r.drivers for r in await store.work.all() if r.heartbeat_at >= killed_at}
        assert sorted(live) == NAMES[:2] and sum(live.values()) == len(DRIVERS) * (1 if split else 2)

        # One more interval for a claim the victim may have left half done (its lease: two intervals).
        run.race(rng, rng.sample(DRIVERS, 2))
        await asyncio.sleep(INTERVAL + 2)
        await run.stop_all()
        for name in NAMES[:2]:
            assert run.running[name].returncode == 0, run.log_of(name)

        posts = run.sink_posts()
        assert not [k for k, n in Counter(posts).items() if n > 1], "posted twice"
        assert posts == run.expected_posts()
        channel_of = {c: g for g, c in GUILDS.items()}
        for channel, s in posts:
            record = await store.posts.get(channel_of[channel], s)
            assert record is not None and record.state == "posted" and record.message_id is not None
        # The survivors left cleanly; the victim's row stays (pruned after a day), dead since the kill.
        assert [(r.process_id, r.heartbeat_at < killed_at) for r in await store.work.all()] == [(victim, True)]
    finally:
        for proc in run.running.values():
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        await store.close()
        await fake.stop()
