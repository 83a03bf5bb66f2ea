"""The poll-cycle benchmark: the engine against a simulated world, side by side with a naive bot.

    python -m benchmarks.poll_cycle                 # 1,000 servers, 5,000 pairs, 2,000 drivers
    python -m benchmarks.poll_cycle --scale 5       # 10,000 drivers (memory check)
    python -m benchmarks.poll_cycle --smoke         # a small world in seconds (used by a test)
    python -m benchmarks.poll_cycle --world sessions --hours 1 --speed 60
                                                    # the live watcher: naive, engine and watcher
                                                    # at 2,000 / 10,000 / 50,000 drivers (--sizes)

IR2DIS_BENCH_PROFILE=<folder> writes a cProfile of each strategy's process there.

Three processes: the fake iRacing (HTTP on loopback, 80 ms per data call and 40 ms per S3 link
in simulated time, 240 requests per 60 s window), the strategy under test (its CPU time and peak
RSS are what is reported), and this one, which builds the world, starts both and compares what
was posted with what had to be. Simulated time runs ``--speed`` times faster than the wall
clock; all latencies, windows and intervals are simulated seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.sessions_world import SessionsWorld, build_sessions_world
from benchmarks.world import World, build_world, expected_posts

HERE = Path(__file__).resolve().parent
RATE_LIMIT = 240
RATE_WINDOW = 60.0
# After the last race comes out, keep polling long enough for the idlest driver's next poll
# (MAX_IDLE_POLL_MINUTES, 30) so every race of the run can be counted as posted or missed.
DRAIN_SECONDS = 1800.0
# The sessions world is about the live watcher, which asks for results minutes after a race:
# a quarter of an hour after the last results is enough for it (what the per-driver poll has
# not found by then counts as missed).
SESSIONS_DRAIN_SECONDS = 900.0
DATA_LATENCY_MS = 80.0
S3_LATENCY_MS = 40.0


class SimClock:
    """Simulated epoch seconds: ``speed`` times the wall clock from a shared real start."""

    def __init__(self, sim_start: float, speed: float) -> None:
        self.sim_start = sim_start
        self.speed = speed
        self.real_start: float | None = None

    def start(self, real_start: float) -> None:
        self.real_start = real_start

    def now(self) -> float:
        if self.real_start is None:
            return self.sim_start
        return self.sim_start + (time.time() - self.real_start) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)

    async def sleep_until(self, when: float) -> None:
        await self.sleep(when - self.now())


@dataclass(frozen=True)
class Options:
    servers: int
    pairs: int
    drivers: int
    hours: float
    speed: float
    interval: float
    concurrency: int
    seed: int
    activity: float = 1.0
    world_kind: str = "drivers"  # "sessions": official series on a schedule, for the live watcher

    def world(self) -> World:
        if self.world_kind == "sessions":
            return build_sessions_world(
                servers=self.servers,
                pairs=self.pairs,
                drivers=self.drivers,
                hours=self.hours,
                interval=self.interval,
                seed=self.seed,
                activity=self.activity,
            )
        return build_world(
            servers=self.servers,
            pairs=self.pairs,
            drivers=self.drivers,
            hours=self.hours,
            interval=self.interval,
            seed=self.seed,
            activity=self.activity,
        )

    def argv(self) -> list[str]:
        return [f"--{k.replace('_', '-')}={v}" for k, v in asdict(self).items()]


# --- the fake iRacing process ----------------------------------------------------------------


def fake_timing(clock: SimClock) -> dict[str, Any]:
    """Every benchmark's fake iRacing: its latencies, rate window and links in simulated time."""
    return {
        "clock": clock.now,
        "latency_ms": DATA_LATENCY_MS / clock.speed,
        "s3_latency_ms": S3_LATENCY_MS / clock.speed,
        "rate_limit": RATE_LIMIT,
        "rate_window": RATE_WINDOW,
        "link_ttl": 600,
    }


async def serve_fake(opts: Options, workdir: Path) -> None:
    from tests.fakes.iracing import FakeIRacing, RaceEntry

    world = opts.world()
    clock = SimClock(world.start, opts.speed)
    fake = FakeIRacing(**fake_timing(clock))

    def add(race: Any) -> None:
        entries = [RaceEntry((c,)) for c in race.drivers] + [RaceEntry((c,)) for c in race.fillers]
        fake.add_race(
            entries,
            subsession_id=race.subsession_id,
            session_start_time=race.start,
            race_minutes=race.minutes,
            series_name="Benchmark Cup",
            track_name="Sim Raceway",
        )

    if isinstance(world, SessionsWorld):
        # Official sessions are known before they start: listed while live, published later.
        for race in world.races:
            _add_session_race(fake, world, race)
        fake.world.live_noise.extend(world.noise)
    else:
        for race in world.history():
            add(race)
    await fake.start()
    (workdir / "fake.url").write_text(fake.base_url or "")
    real_start = await _wait_for_go(workdir)
    clock.start(real_start)
    future = [] if isinstance(world, SessionsWorld) else sorted(world.future(), key=lambda r: r.available_at)
    i = 0
    stop = workdir / "stop"
    while not stop.exists():
        now = clock.now()
        while i < len(future) and future[i].available_at <= now:
            add(future[i])
            i += 1
        await asyncio.sleep(0.01)
    (workdir / "requests.json").write_text(
        json.dumps([[r.at, r.kind, r.path, r.query, r.status] for r in fake.requests if r.kind == "data"])
    )
    (workdir / "fake.done").write_text("ok")
    await fake.stop()


def _add_session_race(fake: Any, world: SessionsWorld, race: Any) -> None:
    from tests.fakes.iracing import RaceEntry

    end = race.start + race.minutes * 60
    fake.add_race(
        [RaceEntry((c,)) for c in (*race.drivers, *race.fillers)],
        subsession_id=race.subsession_id,
        session_start_time=race.start,
        race_minutes=race.minutes,
        season_id=world.season_of[race.subsession_id],
        series_name="Benchmark Series",
        track_name="Sim Raceway",
        results_delay=race.available_at - end,
    )


async def _wait_for_go(workdir: Path) -> float:
    go = workdir / "go"
    while not go.exists():  # noqa: ASYNC110 - the signal is a file another process writes
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.02)  # the writer may not have finished
    return float(go.read_text())


# --- the strategies ----------------------------------------------------------------------------


class CountingPublisher:
    """Discord stand-in: counts every message with the simulated time it was sent."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.sent: list[tuple[int, int, float]] = []  # channel, subsession, when

    async def publish(self, channel_id: int, card: Any, image: bytes | None = None) -> int:
        self.sent.append((channel_id, card.subsession_id, self.clock.now()))
        return len(self.sent)

    async def find_existing(self, channel_id: int, subsession_id: int) -> int | None:
        return next((i + 1 for i, (c, s, _) in enumerate(self.sent) if c == channel_id and s == subsession_id), None)


def _settings(base_url: str, opts: Options, data_dir: Path) -> Any:
    from ir2dis_cog.config.settings import load_settings
    from tests.fakes.iracing import FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, FAKE_EMAIL, FAKE_PASSWORD

    env = {
        "IRACING_EMAIL": FAKE_EMAIL,
        "IRACING_PASSWORD": FAKE_PASSWORD,
        "IRACING_CLIENT_ID": FAKE_CLIENT_ID,
        "IRACING_CLIENT_SECRET": FAKE_CLIENT_SECRET,
        "IRACING_API_BASE": base_url,
        "IRACING_OAUTH_URL": f"{base_url}/oauth2/token",
        "IRACING_CONCURRENCY": str(opts.concurrency),
        "POLL_INTERVAL_SECONDS": str(int(opts.interval)),
        "LOG_LEVEL": "WARNING",
    }
    return load_settings(environ=env, config_file=data_dir / "absent.json", mode="cog", data_dir=data_dir)


def _latest_before(world: World) -> dict[int, tuple[int, int]]:
    latest: dict[int, tuple[int, int]] = {}
    for race in world.history():
        for d in race.drivers:
            latest[d] = max(latest.get(d, (0, 0)), (int(race.start), race.subsession_id))
    return latest


async def run_strategy(opts: Options, workdir: Path, strategy: str) -> None:
    from ir2dis_cog.iracing.auth_state import MemoryAuthStateStore
    from ir2dis_cog.iracing.client import ClientTuning, IRacingClient
    from ir2dis_cog.observability.metrics import Metrics

    # The naive bot's 429 warnings would flood the terminal; errors still show.
    logging.getLogger("red.ir2dis").setLevel(logging.ERROR)
    world = opts.world()
    clock = SimClock(world.start, opts.speed)
    settings = _settings((workdir / "fake.url").read_text(), opts, workdir)
    metrics = Metrics()
    publisher = CountingPublisher(clock)
    # Never let the client sleep on its own: its waits are wall-clock seconds, ours are simulated.
    if strategy == "naive":
        tuning = ClientTuning(max_rate_wait=0.0, rate_limit_tries=1, rate_reserve=-(10**9))
        run = await _setup_naive(world, workdir, settings, metrics, publisher, clock)
    else:
        tuning = ClientTuning(max_rate_wait=0.0, rate_limit_tries=1)
        watch = strategy == "watcher"
        run = await _setup_engine(world, workdir, settings, metrics, publisher, clock, watch=watch)
    async with IRacingClient(
        settings, state_store=MemoryAuthStateStore(), metrics=metrics, tuning=tuning, clock=clock.now
    ) as client:
        (workdir / f"{strategy}.ready").write_text("ok")
        clock.start(await _wait_for_go(workdir))
        cycles = await run(client)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    (workdir / f"{strategy}.json").write_text(
        json.dumps(
            {
                "cycles": cycles,
                "posts": [[world.guild_of_channel(c), s, t] for c, s, t in publisher.sent],
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "metrics": _live_counts(metrics) if strategy == "watcher" else {},
                "peak_rss_mb": usage.ru_maxrss / 1024,
            }
        )
    )


def _live_counts(metrics: Any) -> dict[str, float]:
    """The live watcher's own counters: races it found, misses by reason, requests by kind."""
    out: dict[str, float] = {}
    for family in metrics.registry.collect():
        if not family.name.startswith(("ir2dis_live_", "ir2dis_poll_errors")):
            continue
        for sample in family.samples:
            if sample.name.endswith("_total"):
                label = ",".join(f"{v}" for v in sample.labels.values())
                out[sample.name + (f"{{{label}}}" if label else "")] = sample.value
    return out


async def _setup_engine(
    world: World, workdir: Path, settings: Any, metrics: Any, publisher: Any, clock: SimClock, *, watch: bool = False
) -> Any:
    from ir2dis_cog.poller.engine import PollEngine
    from ir2dis_cog.poller.live_watcher import LiveWatcher
    from ir2dis_cog.store import open_store

    url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    await (await open_store(url, data_dir=workdir)).close()  # the migrations make the tables
    _seed_store(world, workdir / "bench.sqlite3")
    store = await open_store(url, data_dir=workdir)

    async def run(client: Any) -> list[dict[str, Any]]:
        engine = PollEngine(store, client, publisher, settings, metrics, clock, process="bench")
        watcher = LiveWatcher(engine, metrics, clock, poll_seconds=settings.live_poll_seconds) if watch else None
        await engine.resolve_unfinished()
        if watcher is not None:
            watcher.start()
        cycles: list[dict[str, Any]] = []
        tick = world.start
        while tick < world.end + _drain(world) + world.interval:
            await clock.sleep_until(tick)
            report = await engine.run_cycle()
            cycles.append(asdict(report))
            tick = max(tick + world.interval, clock.now())
        if watcher is not None:
            await watcher.stop()
        await store.close()
        return cycles

    return run


def _seed_store(world: World, path: Path) -> None:
    """Servers, tracked drivers and watermarks in bulk (one by one through the store takes minutes
    at 50,000 drivers); the same rows the store's own track and set would write."""
    latest = _latest_before(world)
    t = int(world.start)
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO guild (guild_id, channel_id, created_at, updated_at) VALUES (?, ?, ?, ?)",
            [(g, world.channel(g), t, t) for g in world.tracking],
        )
        db.executemany(
            "INSERT INTO tracked_driver (guild_id, cust_id, display_name, active, created_by, created_at) "
            "VALUES (?, ?, ?, 1, NULL, ?)",
            [(g, d, f"Driver {d}", t) for g, ds in world.tracking.items() for d in ds],
        )
        db.executemany(
            "INSERT INTO last_seen (guild_id, cust_id, last_subsession_id, last_finish_at) VALUES (?, ?, ?, ?)",
            [
                (g, d, latest.get(d, (0, 0))[1], latest.get(d, (0, 0))[0])
                for g, ds in world.tracking.items()
                for d in ds
            ],
        )


def _drain(world: World) -> float:
    return SESSIONS_DRAIN_SECONDS if isinstance(world, SessionsWorld) else DRAIN_SECONDS


async def _setup_naive(
    world: World, workdir: Path, settings: Any, metrics: Any, publisher: Any, clock: SimClock
) -> Any:
    """Today's bots: every server polls each of its drivers every interval, fetches each new race per
    driver and posts it per driver; on a 429 it waits for the reset and tries again."""
    from ir2dis_cog.core.cards import build_card
    from ir2dis_cog.iracing.errors import IRacingError, RateLimitedError

    latest = _latest_before(world)
    marks = {(g, d): latest.get(d, (0, 0)) for g, ds in world.tracking.items() for d in ds}

    async def call(fn: Any, *args: Any) -> Any:
        while True:
            try:
                return await fn(*args)
            except RateLimitedError as exc:
                await clock.sleep_until(exc.reset_at + 0.25)

    async def run(client: Any) -> list[dict[str, Any]]:
        slots = asyncio.Semaphore(settings.iracing_concurrency)
        errors = Counter[str]()

        async def pair(g: int, d: int) -> None:
            async with slots:
                try:
                    races = await call(client.get_recent_races, d)
                    for race in sorted(races, key=lambda r: (r.start_time, r.subsession_id)):
                        key = (int(race.start_time.timestamp()), race.subsession_id)
                        if key <= marks[(g, d)]:
                            continue
                        sub = await call(client.get_subsession, race.subsession_id)
                        await publisher.publish(world.channel(g), build_card(sub, {d: f"Driver {d}"}, "UTC"))
                        marks[(g, d)] = key
                except IRacingError as exc:
                    errors[type(exc).__name__] += 1

        cycles: list[dict[str, Any]] = []
        tick, last = world.start, world.end + _drain(world) + world.interval
        while tick < last:
            await clock.sleep_until(tick)
            started = clock.now()
            everyone = asyncio.gather(*(pair(g, d) for g, ds in world.tracking.items() for d in ds))
            try:
                # A cycle it cannot finish (50,000 drivers) ends with the run, not hours later.
                await asyncio.wait_for(everyone, timeout=max(0.0, last - clock.now()) / clock.speed)
            except TimeoutError:
                errors["cycle_cut_at_the_end"] += 1
            cycles.append({"started_at": started, "duration": clock.now() - started, "errors": dict(errors)})
            tick = max(tick + world.interval, clock.now())
        return cycles

    return run


# --- the orchestration and the report ------------------------------------------------------------


def _child(opts: Options, workdir: Path, role: str) -> subprocess.Popen[bytes]:
    profile = os.environ.get("IR2DIS_BENCH_PROFILE")  # a folder: cProfile each strategy's process there
    prof = ["-m", "cProfile", "-o", f"{profile}/{role}.prof"] if profile and role != "fake" else []
    cmd = [sys.executable, *prof, "-m", "benchmarks.poll_cycle", f"--role={role}", f"--workdir={workdir}", *opts.argv()]
    return subprocess.Popen(cmd, cwd=HERE.parent)


def _wait_file(path: Path, proc: subprocess.Popen[bytes], what: str, timeout: float = 600) -> None:
    deadline = time.time() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise SystemExit(f"the {what} process ended early (exit {proc.returncode})")
        if time.time() > deadline:
            raise SystemExit(f"the {what} process did not get ready")
        time.sleep(0.05)


def run_one(opts: Options, strategy: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"ir2dis-bench-{strategy}-") as tmp:
        workdir = Path(tmp)
        fake = _child(opts, workdir, "fake")
        try:
            _wait_file(workdir / "fake.url", fake, "fake iRacing")
            runner = _child(opts, workdir, strategy)
            try:
                _wait_file(workdir / f"{strategy}.ready", runner, strategy)
                (workdir / "go").write_text(repr(time.time() + 0.5))
                if runner.wait() != 0:
                    raise SystemExit(f"the {strategy} process failed (exit {runner.returncode})")
            finally:
                if runner.poll() is None:
                    runner.terminate()
            (workdir / "stop").write_text("stop")
            _wait_file(workdir / "fake.done", fake, "fake iRacing")
            fake.wait(timeout=30)
        finally:
            if fake.poll() is None:
                fake.terminate()
        result = json.loads((workdir / f"{strategy}.json").read_text())
        result["requests"] = json.loads((workdir / "requests.json").read_text())
        return result


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def analyse(world: World, result: dict[str, Any]) -> dict[str, Any]:
    must = expected_posts(world, until=world.end)
    anything = expected_posts(world, until=float("inf"))
    future_ids = {s for _, s in anything.posts}
    sent = Counter((g, s) for g, s, _ in result["posts"])
    first_at: dict[tuple[int, int], float] = {}
    for g, s, t in result["posts"]:
        first_at.setdefault((g, s), t)
    missed = [k for k in must.posts if k not in sent]
    duplicated = sum(n - 1 for n in sent.values() if n > 1)
    unexpected = [k for k in sent if k not in anything.posts]
    lat_all = [(first_at[k] - at) / 60 for k, at in must.posts.items() if k in first_at]
    lat_active = [
        (first_at[k] - at) / 60 for k, at in must.posts.items() if k in first_at and k in must.recently_active
    ]

    # Requests per cycle, from the fake's own log, against the lower bound of that cycle.
    starts = [c["started_at"] for c in result["cycles"]] + [float("inf")]
    per_cycle: list[dict[str, int]] = [{"requests": 0, "r429": 0} for _ in result["cycles"]]
    custs: list[set[str]] = [set() for _ in result["cycles"]]
    subs: list[set[int]] = [set() for _ in result["cycles"]]
    late_429 = total_429 = 0
    for at, _kind, path, query, status in result["requests"]:
        if at < world.start:
            continue
        i = max(0, min(len(per_cycle) - 1, _bucket(starts, at)))
        per_cycle[i]["requests"] += 1
        if status == 429:
            total_429 += 1
            per_cycle[i]["r429"] += 1
            if at >= world.start + RATE_WINDOW:
                late_429 += 1
        if path.endswith("member_recent_races"):
            custs[i].add(query)
        elif path.endswith("results/get"):
            sid = int(query.split("=")[1])
            if sid in future_ids:
                subs[i].add(sid)
    bounds = [len(c) + len(s) for c, s in zip(custs, subs, strict=True)]
    ratios = [p["requests"] / b for p, b in zip(per_cycle, bounds, strict=True) if b]
    requests = sum(p["requests"] for p in per_cycle)
    return {
        "cycles": len(result["cycles"]),
        "requests": requests,
        "lower_bound": sum(bounds),
        "ratio": requests / sum(bounds) if sum(bounds) else None,
        "ratio_max_cycle": max(ratios) if ratios else None,
        "requests_per_cycle": statistics.mean(p["requests"] for p in per_cycle) if per_cycle else 0,
        "r429": total_429,
        "r429_after_first_window": late_429,
        "expected": len(must.posts),
        "made": sum(sent.values()),
        "missed": len(missed),
        "duplicated": duplicated,
        "unexpected": len(unexpected),
        "late_extra": sum(1 for k in sent if k in anything.posts and k not in must.posts),
        "missed_posts": sorted(missed)[:50],
        "p50_active": _pct(lat_active, 0.5),
        "p95_active": _pct(lat_active, 0.95),
        "p50_all": _pct(lat_all, 0.5),
        "p95_all": _pct(lat_all, 0.95),
        "cpu_seconds": result["cpu_seconds"],
        "peak_rss_mb": result["peak_rss_mb"],
        "cycle_duration_max_min": max((c["duration"] for c in result["cycles"]), default=0) / 60,
        "driver_errors": sum(c.get("driver_errors", 0) for c in result["cycles"]),
        "deferred_max": max((c.get("drivers_deferred", 0) for c in result["cycles"]), default=0),
    }


def _bucket(starts: list[float], at: float) -> int:
    lo, hi = 0, len(starts) - 1
    while lo < hi:  # the last cycle that started at or before `at`
        mid = (lo + hi + 1) // 2
        if starts[mid] <= at:
            lo = mid
        else:
            hi = mid - 1
    return lo


ROWS = [
    ("poll cycles run", "cycles", "{:.0f}"),
    ("data requests made", "requests", "{:.0f}"),
    ("lower bound (unique due drivers + unique new subsessions)", "lower_bound", "{:.0f}"),
    ("requests / lower bound (whole run)", "ratio", "{:.3f}"),
    ("requests / lower bound (worst cycle)", "ratio_max_cycle", "{:.3f}"),
    ("429 answers received", "r429", "{:.0f}"),
    ("429 answers after the first window", "r429_after_first_window", "{:.0f}"),
    ("posts expected", "expected", "{:.0f}"),
    ("posts made", "made", "{:.0f}"),
    ("posts missed", "missed", "{:.0f}"),
    ("posts duplicated", "duplicated", "{:.0f}"),
    ("posts of races out after the simulated hours (not counted above)", "late_extra", "{:.0f}"),
    ("detection latency p50, drivers active in the last day (sim min)", "p50_active", "{:.1f}"),
    ("detection latency p95, drivers active in the last day (sim min)", "p95_active", "{:.1f}"),
    ("detection latency p50, all (sim min)", "p50_all", "{:.1f}"),
    ("detection latency p95, all (sim min)", "p95_all", "{:.1f}"),
    ("longest cycle (sim min)", "cycle_duration_max_min", "{:.1f}"),
    ("CPU seconds of the strategy's process", "cpu_seconds", "{:.1f}"),
    ("peak RSS of the strategy's process (MB)", "peak_rss_mb", "{:.1f}"),
]


def _fmt(value: Any, pattern: str) -> str:
    return "n/a" if value is None else pattern.format(value)


def table(results: dict[str, dict[str, Any]]) -> str:
    names = list(results)
    head = "| measure | " + " | ".join(names) + (" | naive / engine |" if len(names) == 2 else " |")
    lines = [head, "|" + "---|" * (len(names) + 1 + (len(names) == 2))]
    for label, key, pattern in ROWS:
        cells = [_fmt(results[n].get(key), pattern) for n in names]
        if len(names) == 2:
            a, b = results["engine"].get(key), results["naive"].get(key)
            cells.append(f"{b / a:.2f}x" if isinstance(a, int | float) and isinstance(b, int | float) and a else "n/a")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.poll_cycle",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--scale", type=float, default=1.0, help="multiply servers, pairs and drivers")
    p.add_argument("--servers", type=int, default=1000)
    p.add_argument("--pairs", type=int, default=5000)
    p.add_argument("--drivers", type=int, default=2000)
    p.add_argument("--hours", type=float, default=2.0, help="simulated hours")
    p.add_argument("--speed", type=float, default=40.0, help="simulated seconds per wall second")
    p.add_argument("--interval", type=float, default=300.0, help="poll interval (simulated seconds)")
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--activity", type=float, default=1.0, help="multiply how often drivers race")
    p.add_argument(
        "--strategy",
        choices=("both", "all", "engine", "naive", "watcher"),
        default=None,
        help="both: engine and naive (the drivers world's default); all: naive, engine and watcher "
        "(the sessions world's default); engine is today's engine, the live watcher off",
    )
    p.add_argument(
        "--world",
        "--world-kind",
        dest="world_kind",
        choices=("drivers", "sessions"),
        default="drivers",
        help="drivers: races of tracked drivers alone (the poll cycle); sessions: official series on a "
        "schedule, live in iRacing's spectator list (the live watcher)",
    )
    p.add_argument(
        "--sizes",
        default="2000,10000,50000",
        help="sessions world: tracked drivers of each run (servers = drivers / 2, pairs = 2.5 x drivers)",
    )
    p.add_argument(
        "--smoke",
        action="store_true",
        help="a small, busy world: 40 servers, 80 drivers racing 8x as often, 30 minutes",
    )
    p.add_argument(
        "--write", type=Path, default=None, help="write the report here (default RESULTS.md, not in smoke mode)"
    )
    p.add_argument("--append", action="store_true", help="add the report to the file instead of replacing it")
    p.add_argument("--json", type=Path, default=None, help="also write the numbers as JSON")
    p.add_argument("--role", default=None, help=argparse.SUPPRESS)
    p.add_argument("--workdir", type=Path, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.smoke and args.world_kind == "sessions":
        args.sizes, args.hours, args.speed, args.activity = "200", 0.5, 150.0, 6.0
    elif args.smoke:
        args.servers, args.pairs, args.drivers, args.hours, args.speed = 40, 160, 80, 0.5, 150.0
        args.activity = 8.0
    scale = 1.0 if args.role else args.scale
    opts = Options(
        servers=round(args.servers * scale),
        pairs=round(args.pairs * scale),
        drivers=round(args.drivers * scale),
        hours=args.hours,
        speed=args.speed,
        interval=args.interval,
        concurrency=args.concurrency,
        seed=args.seed,
        activity=args.activity,
        world_kind=args.world_kind,
    )
    if args.role == "fake":
        asyncio.run(serve_fake(opts, args.workdir))
        return 0
    if args.role in ("engine", "naive", "watcher"):
        asyncio.run(run_strategy(opts, args.workdir, args.role))
        return 0
    if args.world_kind == "sessions":
        return _main_sessions(args, opts, argv)

    world = opts.world()
    strategy = args.strategy or "both"
    strategies = {"both": ["engine", "naive"], "all": ["engine", "naive", "watcher"]}.get(strategy, [strategy])
    print(
        f"world: {len(world.guilds)} servers, {world.pairs()} pairs, {len(world.drivers())} drivers, "
        f"{len(world.history())} races before tracking, {len(world.future())} races in "
        f"{opts.hours:g} simulated hours; speed x{opts.speed:g}",
        flush=True,
    )
    results: dict[str, dict[str, Any]] = {}
    for strategy in strategies:
        started = time.time()
        results[strategy] = analyse(world, run_one(opts, strategy))
        results[strategy]["wall_seconds"] = time.time() - started
        print(f"{strategy}: done in {results[strategy]['wall_seconds']:.0f} s", flush=True)
    report = table(results)
    print(report)
    command = "python -m benchmarks.poll_cycle " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.json:
        args.json.write_text(json.dumps({"options": asdict(opts), "results": results}, indent=2))
    target = args.write or (None if args.smoke else HERE / "RESULTS.md")
    if target is not None:
        text = _markdown(command.strip(), opts, world, results, report)
        if args.append and target.exists():
            text = target.read_text() + "\n" + text.replace("# Poll-cycle benchmark", "## Scaled up", 1)
        target.write_text(text)
    return 0


def _main_sessions(args: argparse.Namespace, opts: Options, argv: list[str] | None) -> int:
    """The live watcher's benchmark: each size in turn, each strategy on its own fake iRacing."""
    from dataclasses import replace

    from benchmarks.live_report import analyse_sessions, replace_section, section
    from benchmarks.live_report import table as live_table

    strategy = args.strategy or "all"
    strategies = {"all": ["naive", "engine", "watcher"], "both": ["naive", "engine"]}.get(strategy, [strategy])
    runs: list[tuple[str, str, dict[str, dict[str, Any]]]] = []
    every: dict[str, dict[str, dict[str, Any]]] = {}
    for size in (int(n) for n in args.sizes.split(",")):
        sized = replace(opts, drivers=size, servers=max(1, size // 2), pairs=round(size * 2.5))
        world = sized.world()
        line = _sessions_line(sized, world)
        print(line, flush=True)
        results: dict[str, dict[str, Any]] = {}
        for name in strategies:
            started = time.time()
            raw = run_one(sized, name)
            results[name] = analyse_sessions(world, raw, run_end=world.end + _drain(world), window=RATE_WINDOW)
            results[name]["wall_seconds"] = time.time() - started
            print(f"{size} drivers, {name}: done in {results[name]['wall_seconds']:.0f} s", flush=True)
        print(live_table(results), flush=True)
        runs.append((f"{size} tracked drivers", line, results))
        every[str(size)] = results
    command = "python -m benchmarks.poll_cycle " + " ".join(argv if argv is not None else sys.argv[1:])
    if args.json:
        args.json.write_text(json.dumps({"options": asdict(opts), "results": every}, indent=2))
    target = args.write or (None if args.smoke else HERE / "RESULTS.md")
    if target is not None:
        notes = (HERE / "live_notes.md").read_text()
        text = target.read_text() if target.exists() else ""
        target.write_text(replace_section(text, section(command.strip(), runs, notes)))
    return 0


def _sessions_line(opts: Options, world: World) -> str:
    from benchmarks.sessions_world import SessionsWorld, live_at

    assert isinstance(world, SessionsWorld)
    future = [r for r in world.future() if r.available_at <= world.end]
    return (
        f"World: {len(world.guilds)} servers, {world.pairs()} (server, driver) pairs over {len(world.drivers())} "
        f"tracked drivers; {len(world.series)} official series; {len(future)} race subsessions published during "
        f"{opts.hours:g} simulated hours ({sum(1 for r in future if r.drivers)} with a tracked driver, "
        f"{sum(1 for r in future if len(r.drivers) > 1)} with several), {live_at(world, world.start)} races live "
        f"at the start and {live_at(world, world.end)} at the end, {len(world.noise)} other live subsessions in "
        f"the list; then {SESSIONS_DRAIN_SECONDS / 60:g} more minutes; poll interval {opts.interval:g} s, "
        f"live list every 60 s, {RATE_LIMIT} requests per {RATE_WINDOW:g} s window, simulated time "
        f"{opts.speed:g}x the wall clock."
    )


def _markdown(command: str, opts: Options, world: World, results: dict[str, dict[str, Any]], report: str) -> str:
    shared = sum(1 for r in world.future() if len(r.drivers) > 1)
    lines = [
        "# Poll-cycle benchmark",
        "",
        f"Produced by `{command}` on {time.strftime('%Y-%m-%d', time.gmtime())} ({os.cpu_count()} CPUs, shared).",
        "",
        f"World: {len(world.guilds)} servers, {world.pairs()} (server, driver) pairs over "
        f"{len(world.drivers())} drivers; {len(world.future())} races came out during "
        f"{opts.hours:g} simulated hours ({shared} with several tracked drivers), then "
        f"{DRAIN_SECONDS / 60:g} more minutes of polling so the idlest drivers come round; "
        f"poll interval {opts.interval:g} s, {RATE_LIMIT} requests per {RATE_WINDOW:g} s window, "
        f"{DATA_LATENCY_MS:g} ms per data call and {S3_LATENCY_MS:g} ms per S3 link, concurrency "
        f"{opts.concurrency}; simulated time ran {opts.speed:g}x the wall clock.",
        "",
        report,
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
