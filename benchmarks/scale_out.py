"""Running big, measured: the poll-cycle world at 10,000 drivers on 1 and 3 iRacing accounts, in 1
and 3 bot processes, side by side in one run.

    python -m benchmarks.scale_out                  # the four runs (about 15 minutes)
    python -m benchmarks.scale_out --smoke          # a small, busy world, 30 s a column

Every run has its own fake iRacing process (the poll-cycle benchmark's world and latencies;
each account its own 240-per-60-s window), its own fresh PostgreSQL database and 1 or 3 engine
processes: real OS processes, each with its own database connection, its own ``AccountPool``
over every account (its own token pairs), its own ``WorkShare`` beating in ``work_lease`` every
``POLL_INTERVAL_SECONDS / 5`` and its own Discord stand-in. This process builds the world,
seeds the database, starts the others and compares what was posted with what had to be.
Simulated time runs ``--speed`` times the wall clock for all of them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from benchmarks.poll_cycle import (
    DATA_LATENCY_MS,
    DRAIN_SECONDS,
    RATE_LIMIT,
    RATE_WINDOW,
    CountingPublisher,
    Options,
    SimClock,
    _latest_before,
    _pct,
    _wait_for_go,
    fake_timing,
)
from benchmarks.world import World, expected_posts

HERE = Path(__file__).resolve().parent
# (label, accounts, processes), in the order of the report's columns.
RUNS = (
    ("1 account, 1 process", 1, 1),
    ("3 accounts, 1 process", 3, 1),
    ("1 account, 3 processes", 1, 3),
    ("3 accounts, 3 processes", 3, 3),
)
EXTRA_PASSWORD = "bench-password-{n}"  # noqa: S105 - the fake iRacing's further accounts
PG_HOST = os.environ.get("IR2DIS_TEST_PG_HOST", "127.0.0.1")  # the local server the store tests use


def account_email(n: int) -> str:
    from tests.fakes.iracing import FAKE_EMAIL

    return FAKE_EMAIL if n == 1 else f"bench-account-{n}@example.com"


@dataclass(frozen=True)
class Run:
    """One configuration of one run: how many accounts and processes, on which database."""

    accounts: int
    processes: int
    db_url: str


# --- the fake iRacing process ----------------------------------------------------------------


async def serve_fake(opts: Options, run: Run, workdir: Path) -> None:
    from tests.fakes.iracing import FakeIRacing, RaceEntry

    class AccountLoggingFake(FakeIRacing):
        """Notes which account each data request spent (the fake counts them, this keeps when)."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.spent: list[tuple[float, str]] = []

        def window_for(self, authorization: str) -> Any:
            who, window = super().window_for(authorization)
            self.spent.append((self.clock(), who))
            return who, window

    world = opts.world()
    clock = SimClock(world.start, opts.speed)
    fake = AccountLoggingFake(**fake_timing(clock))
    for n in range(2, run.accounts + 1):
        fake.add_account(account_email(n), EXTRA_PASSWORD.format(n=n))

    def add(race: Any) -> None:
        entries = [RaceEntry((c,)) for c in (*race.drivers, *race.fillers)]
        fake.add_race(
            entries,
            subsession_id=race.subsession_id,
            session_start_time=race.start,
            race_minutes=race.minutes,
            series_name="Benchmark Cup",
            track_name="Sim Raceway",
        )

    for race in world.history():
        add(race)
    await fake.start()
    (workdir / "fake.url").write_text(fake.base_url or "")
    clock.start(await _wait_for_go(workdir))
    future = sorted(world.future(), key=lambda r: r.available_at)
    i = 0
    while not (workdir / "stop").exists():
        now = clock.now()
        while i < len(future) and future[i].available_at <= now:
            add(future[i])
            i += 1
        await asyncio.sleep(0.01)
    data = [[r.at, r.path, r.query, r.status] for r in fake.requests if r.kind == "data"]
    (workdir / "requests.json").write_text(json.dumps({"requests": data, "spent": fake.spent}))
    (workdir / "fake.done").write_text("ok")
    await fake.stop()


# --- one engine process ------------------------------------------------------------------------


def _settings(base_url: str, opts: Options, run: Run, data_dir: Path) -> Any:
    from ir2dis_cog.config.settings import load_settings
    from tests.fakes.iracing import FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, FAKE_PASSWORD

    env = {
        "IRACING_EMAIL": account_email(1),
        "IRACING_PASSWORD": FAKE_PASSWORD,
        "IRACING_CLIENT_ID": FAKE_CLIENT_ID,
        "IRACING_CLIENT_SECRET": FAKE_CLIENT_SECRET,
        "IRACING_API_BASE": base_url,
        "IRACING_OAUTH_URL": f"{base_url}/oauth2/token",
        "IRACING_CONCURRENCY": str(opts.concurrency),
        "POLL_INTERVAL_SECONDS": str(int(opts.interval)),
        "DATABASE_URL": run.db_url,
        "LOG_LEVEL": "WARNING",
    }
    for n in range(2, run.accounts + 1):
        env[f"IRACING_EMAIL_{n}"] = account_email(n)
        env[f"IRACING_PASSWORD_{n}"] = EXTRA_PASSWORD.format(n=n)
    return load_settings(environ=env, config_file=data_dir / "absent.json", mode="cog", data_dir=data_dir)


async def run_engine(opts: Options, run: Run, workdir: Path, index: int) -> None:
    from ir2dis_cog.iracing.accounts import AccountPool
    from ir2dis_cog.iracing.auth_state import MemoryAuthStateStore
    from ir2dis_cog.iracing.client import ClientTuning, IRacingClient
    from ir2dis_cog.observability.metrics import Metrics
    from ir2dis_cog.poller.engine import PollEngine
    from ir2dis_cog.poller.work_share import WorkShare, heartbeat_period, lease_ttl
    from ir2dis_cog.store import open_store

    logging.getLogger("red.ir2dis").setLevel(logging.ERROR)
    world = opts.world()
    clock = SimClock(world.start, opts.speed)
    settings = _settings((workdir / "fake.url").read_text(), opts, run, workdir)
    metrics = Metrics()
    publisher = CountingPublisher(clock)
    name = f"process-{index}"
    store = await open_store(run.db_url, data_dir=workdir)
    # The client never sleeps on its own clock (wall seconds); the engine's pacer paces in simulated time.
    tuning = ClientTuning(max_rate_wait=0.0, rate_limit_tries=1)
    clients = [
        IRacingClient(
            settings.for_account(n), state_store=MemoryAuthStateStore(), metrics=metrics, tuning=tuning, clock=clock.now
        )
        for n in range(1, run.accounts + 1)
    ]
    for c in clients:
        await c.__aenter__()
    pool = AccountPool(clients, clock=clock.now)
    work = WorkShare(store.work, clock, process=name, split=True, ttl=lease_ttl(opts.interval))
    engine = PollEngine(store, pool, publisher, settings, metrics, clock, process=name, work=work)
    await work.beat()  # in the live set before the first cycle, as the cog does at load
    await engine.resolve_unfinished()
    (workdir / f"{name}.ready").write_text("ok")
    clock.start(await _wait_for_go(workdir))

    async def heartbeat() -> None:
        while True:
            await clock.sleep(heartbeat_period(opts.interval))
            try:
                await work.beat()
            except Exception:
                logging.getLogger("red.ir2dis").exception("heartbeat failed")

    beating = asyncio.create_task(heartbeat())
    cycles: list[dict[str, Any]] = []
    tick = world.start
    while tick < world.end + DRAIN_SECONDS + world.interval:
        await clock.sleep_until(tick)
        report = await engine.run_cycle()
        cycles.append(asdict(report))
        tick = max(tick + world.interval, clock.now())
    beating.cancel()
    await work.leave()
    for c in clients:
        await c.__aexit__(None, None, None)
    await store.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    (workdir / f"{name}.json").write_text(
        json.dumps(
            {
                "cycles": cycles,
                "posts": [[world.guild_of_channel(c), s, t] for c, s, t in publisher.sent],
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "peak_rss_mb": usage.ru_maxrss / 1024,
            }
        )
    )


# --- the database ------------------------------------------------------------------------------


def _conninfo(dbname: str) -> str:
    return f"host={PG_HOST} port=5432 user=postgres dbname={dbname}"


def create_database() -> tuple[str, str]:
    import psycopg

    name = f"ir2dis_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"postgresql://postgres@{PG_HOST}:5432/{name}", name


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(_conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def migrate(url: str, workdir: Path) -> None:
    from ir2dis_cog.store import open_store

    await (await open_store(url, data_dir=workdir)).close()


def seed_database(world: World, dbname: str) -> None:
    """Servers, tracked drivers and watermarks in bulk (COPY): the rows the store's own track and
    set would write, in seconds rather than minutes at 25,000 pairs."""
    import psycopg

    latest = _latest_before(world)
    t = int(world.start)
    with psycopg.connect(_conninfo(dbname)) as conn, conn.cursor() as cur:
        with cur.copy("COPY guild (guild_id, channel_id, created_at, updated_at) FROM STDIN") as copy:
            for g in world.tracking:
                copy.write_row((g, world.channel(g), t, t))
        columns = "guild_id, cust_id, display_name, active, created_by, created_at"
        with cur.copy(f"COPY tracked_driver ({columns}) FROM STDIN") as copy:
            for g, ds in world.tracking.items():
                for d in ds:
                    copy.write_row((g, d, f"Driver {d}", 1, None, t))
        with cur.copy("COPY last_seen (guild_id, cust_id, last_subsession_id, last_finish_at) FROM STDIN") as copy:
            for g, ds in world.tracking.items():
                for d in ds:
                    started, sid = latest.get(d, (0, 0))
                    copy.write_row((g, d, sid, started))
        conn.commit()


# --- the orchestration -------------------------------------------------------------------------


def _child(opts: Options, run: Run, workdir: Path, role: str) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.scale_out",
        f"--role={role}",
        f"--workdir={workdir}",
        f"--accounts={run.accounts}",
        f"--processes={run.processes}",
        f"--db-url={run.db_url}",
        *opts.argv(),
    ]
    return subprocess.Popen(cmd, cwd=HERE.parent)


def _wait_file(path: Path, procs: list[subprocess.Popen[bytes]], timeout: float = 900) -> None:
    deadline = time.time() + timeout
    while not path.exists():
        for p in procs:
            if p.poll() is not None:
                raise SystemExit(f"a benchmark process ended early (exit {p.returncode}): {p.args!r}")
        if time.time() > deadline:
            raise SystemExit(f"gave up waiting for {path.name}")
        time.sleep(0.05)


def run_one(opts: Options, world: World, accounts: int, processes: int) -> dict[str, Any]:
    url, dbname = create_database()
    try:
        with tempfile.TemporaryDirectory(prefix="ir2dis-scale-") as tmp:
            workdir = Path(tmp)
            asyncio.run(migrate(url, workdir))
            seed_database(world, dbname)
            run = Run(accounts, processes, url)
            fake = _child(opts, run, workdir, "fake")
            engines: list[subprocess.Popen[bytes]] = []
            try:
                _wait_file(workdir / "fake.url", [fake])
                engines = [_child(opts, run, workdir, f"engine-{i}") for i in range(1, processes + 1)]
                for i in range(1, processes + 1):
                    _wait_file(workdir / f"process-{i}.ready", [fake, *engines])
                (workdir / "go").write_text(repr(time.time() + 0.5))
                for p in engines:
                    if p.wait() != 0:
                        raise SystemExit(f"an engine process failed (exit {p.returncode})")
                (workdir / "stop").write_text("stop")
                _wait_file(workdir / "fake.done", [fake])
                fake.wait(timeout=60)
            finally:
                for p in [*engines, fake]:
                    if p.poll() is None:
                        p.terminate()
            parts = [json.loads((workdir / f"process-{i}.json").read_text()) for i in range(1, processes + 1)]
            return {"processes": parts, **json.loads((workdir / "requests.json").read_text())}
    finally:
        drop_database(dbname)


# --- the analysis --------------------------------------------------------------------------------


def most_in_a_window(times: list[float], window: float) -> int:
    """The most requests in one of iRacing's rate windows (fixed: they start at multiples of ``window``)."""
    return max(Counter(math.floor(t / window) for t in times).values(), default=0)


def analyse(world: World, raw: dict[str, Any], accounts: int) -> dict[str, Any]:
    must = expected_posts(world, until=world.end)
    anything = expected_posts(world, until=float("inf"))
    posts = [tuple(p) for part in raw["processes"] for p in part["posts"]]
    sent = Counter((g, s) for g, s, _ in posts)
    first_at: dict[tuple[int, int], float] = {}
    for g, s, t in sorted(posts, key=lambda p: p[2]):
        first_at.setdefault((g, s), t)
    latency = [(first_at[k] - at) / 60 for k, at in must.posts.items() if k in first_at]
    latency_active = [
        (first_at[k] - at) / 60 for k, at in must.posts.items() if k in first_at and k in must.recently_active
    ]
    requests = [r for r in raw["requests"] if r[0] >= world.start]
    polls = [r for r in requests if r[1].endswith("member_recent_races")]
    fetches = Counter(int(parse_qs(r[2])["subsession_id"][0]) for r in requests if r[1].endswith("results/get"))
    spent: dict[str, list[float]] = {}
    for at, who in raw["spent"]:
        if at >= world.start:
            spent.setdefault(who, []).append(at)
    by_account = [len(spent.get(account_email(n).lower(), [])) for n in range(1, accounts + 1)]
    cycles = [c for part in raw["processes"] for c in part["cycles"]]
    return {
        "requests": len(requests),
        "requests_per_account": by_account,
        "most_per_account_window": [
            most_in_a_window(spent.get(account_email(n).lower(), []), RATE_WINDOW) for n in range(1, accounts + 1)
        ],
        "polls": len(polls),
        "distinct_drivers_polled": len({parse_qs(r[2])["cust_id"][0] for r in polls}),
        "results_fetched": sum(fetches.values()),
        "results_fetched_twice": sum(n - 1 for n in fetches.values() if n > 1),
        "r429": sum(1 for r in requests if r[3] == 429),
        "expected": len(must.posts),
        "made": sum(sent.values()),
        "missed": sum(1 for k in must.posts if k not in sent),
        "duplicated": sum(n - 1 for n in sent.values() if n > 1),
        "unexpected": sum(1 for k in sent if k not in anything.posts),
        "p50_all": _pct(latency, 0.5),
        "p95_all": _pct(latency, 0.95),
        "p50_active": _pct(latency_active, 0.5),
        "p95_active": _pct(latency_active, 0.95),
        "deferred_max": max((c.get("drivers_deferred", 0) for c in cycles), default=0),
        "cycles": len(cycles),
        "cpu_seconds": sum(p["cpu_seconds"] for p in raw["processes"]),
        "peak_rss_mb": max(p["peak_rss_mb"] for p in raw["processes"]),
    }


ROWS = [
    ("data requests (all accounts)", "requests", "{:.0f}"),
    ("data requests per account", "requests_per_account", "list"),
    ("most data requests of one account in one 60 s rate window (limit 240)", "most_per_account_window", "list"),
    ("429 answers", "r429", "{:.0f}"),
    ("driver polls (member_recent_races)", "polls", "{:.0f}"),
    ("results fetched (results/get)", "results_fetched", "{:.0f}"),
    ("of which a race fetched again (by another process)", "results_fetched_twice", "{:.0f}"),
    ("most drivers deferred in one cycle (of one process)", "deferred_max", "{:.0f}"),
    ("posts expected", "expected", "{:.0f}"),
    ("posts made", "made", "{:.0f}"),
    ("posts missed (not found by the end of the drain)", "missed", "{:.0f}"),
    ("posts duplicated", "duplicated", "{:.0f}"),
    ("latency p50, all (sim min, results out to post)", "p50_all", "{:.1f}"),
    ("latency p95, all (sim min)", "p95_all", "{:.1f}"),
    ("latency p50, drivers active in the last day (sim min)", "p50_active", "{:.1f}"),
    ("latency p95, drivers active in the last day (sim min)", "p95_active", "{:.1f}"),
    ("CPU seconds of the engine processes (sum)", "cpu_seconds", "{:.1f}"),
    ("peak RSS of one engine process (MB)", "peak_rss_mb", "{:.1f}"),
    ("simulated seconds per wall second", "speed", "{:.0f}x"),
    ("wall seconds of the run", "wall_seconds", "{:.0f}"),
]


def _cell(value: Any, pattern: str) -> str:
    if value is None:
        return "n/a"
    if pattern == "list":
        return " / ".join(str(v) for v in value)
    return str(pattern.format(value))


def table(results: dict[str, dict[str, Any]]) -> str:
    names = list(results)
    lines = ["| measure | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
    for label, key, pattern in ROWS:
        lines.append(f"| {label} | " + " | ".join(_cell(results[n].get(key), pattern) for n in names) + " |")
    ratios = []
    for name, accounts, _ in RUNS:
        alone = next((results[n] for n, a, p in RUNS if a == accounts and p == 1 and n in results), None)
        if name in results and alone and alone["requests"]:
            ratios.append(f"{results[name]['requests'] / alone['requests']:.2f}x")
        else:
            ratios.append("n/a")
    if all(n in results for n, _, _ in RUNS):
        lines.append("| data requests / one process's with the same accounts | " + " | ".join(ratios) + " |")
    return "\n".join(lines)


SECTION = "## Running big: accounts and processes (issue 16)"


def markdown(command: str, opts: Options, world: World, report: str) -> str:
    shared = sum(1 for r in world.future() if len(r.drivers) > 1)
    return "\n".join(
        [
            SECTION,
            "",
            f"Produced by `{command}` on {time.strftime('%Y-%m-%d', time.gmtime())} ({os.cpu_count()} CPUs, "
            "shared with other jobs). "
            f"World (the poll-cycle benchmark's): {len(world.guilds)} servers, {world.pairs()} (server, driver) "
            f"pairs over {len(world.drivers())} drivers; {len(world.future())} races came out during "
            f"{opts.hours:g} simulated hours ({shared} with several tracked drivers), then "
            f"{DRAIN_SECONDS / 60:g} more minutes of polling; poll interval {opts.interval:g} s, "
            f"{RATE_LIMIT} requests per {RATE_WINDOW:g} s window per account, {DATA_LATENCY_MS:g} ms per "
            f"data call, concurrency {opts.concurrency} per process; simulated time ran as the table says. "
            "Each column is its own run: a fresh PostgreSQL database, one fake iRacing with 1 or 3 accounts, "
            "1 or 3 engine processes (real OS processes with their own connection, "
            "account pool and work share).",
            "",
            report,
            "",
        ]
    )


def replace_section(text: str, section: str) -> str:
    """Put ``section`` in place of the previous run's (up to the next ``## ``), or at the end."""
    start = text.find(SECTION)
    if start < 0:
        return text.rstrip("\n") + "\n\n" + section
    end = text.find("\n## ", start + len(SECTION))
    rest = text[end + 1 :] if end >= 0 else ""
    notes = _notes(text[start:end] if end >= 0 else text[start:])
    return text[:start] + section + notes + ("\n" + rest if rest else "")


def _notes(old: str) -> str:
    """The hand-written reading of the numbers below the table is kept across runs."""
    marker = "\n### Reading the numbers"
    at = old.find(marker)
    return old[at:].rstrip("\n") + "\n" if at >= 0 else ""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.scale_out", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--servers", type=int, default=5000)
    p.add_argument("--pairs", type=int, default=25000)
    p.add_argument("--drivers", type=int, default=10000)
    p.add_argument("--hours", type=float, default=1.0, help="simulated hours")
    p.add_argument("--speed", type=float, default=40.0, help="simulated seconds per wall second, one account")
    p.add_argument(
        "--speed-3",
        type=float,
        default=20.0,
        help="the same with three accounts: three times the requests a simulated second, so a slower "
        "clock keeps the wall-clock request rate (and the CPU it needs) about the same",
    )
    p.add_argument("--interval", type=float, default=300.0)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--activity", type=float, default=1.0)
    p.add_argument("--runs", default="all", help="comma-separated columns to run: 1a1p,3a1p,1a3p,3a3p (default all)")
    p.add_argument("--smoke", action="store_true", help="400 drivers racing 6x as often, 15 minutes")
    p.add_argument("--write", type=Path, default=None, help="the report's file (default RESULTS.md, not in smoke)")
    p.add_argument("--json", type=Path, default=None, help="also write the numbers as JSON")
    p.add_argument("--role", default=None, help=argparse.SUPPRESS)
    p.add_argument("--workdir", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument("--accounts", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--processes", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--db-url", default="", help=argparse.SUPPRESS)
    p.add_argument("--world-kind", default="drivers", help=argparse.SUPPRESS)  # Options.argv() passes it
    args = p.parse_args(argv)
    if args.smoke:
        args.servers, args.pairs, args.drivers, args.hours, args.activity = 200, 1000, 400, 0.25, 6.0
        args.speed = args.speed_3 = 100.0
    opts = Options(
        servers=args.servers,
        pairs=args.pairs,
        drivers=args.drivers,
        hours=args.hours,
        speed=args.speed,
        interval=args.interval,
        concurrency=args.concurrency,
        seed=args.seed,
        activity=args.activity,
    )
    if args.role:
        run = Run(args.accounts, args.processes, args.db_url)
        if args.role == "fake":
            asyncio.run(serve_fake(opts, run, args.workdir))
        else:
            asyncio.run(run_engine(opts, run, args.workdir, int(args.role.removeprefix("engine-"))))
        return 0

    world = opts.world()
    print(
        f"world: {len(world.guilds)} servers, {world.pairs()} pairs, {len(world.drivers())} drivers, "
        f"{len(world.future())} races in {opts.hours:g} simulated hours; speed x{opts.speed:g}",
        flush=True,
    )
    wanted = None if args.runs == "all" else set(args.runs.split(","))
    results: dict[str, dict[str, Any]] = {}
    for label, accounts, processes in RUNS:
        if wanted is not None and f"{accounts}a{processes}p" not in wanted:
            continue
        started = time.time()
        timed = opts if accounts == 1 else replace(opts, speed=args.speed_3)
        results[label] = analyse(world, run_one(timed, world, accounts, processes), accounts)
        results[label]["speed"] = timed.speed
        results[label]["wall_seconds"] = time.time() - started
        print(f"{label}: done in {results[label]['wall_seconds']:.0f} s", flush=True)
    report = table(results)
    print(report)
    if args.json:
        args.json.write_text(json.dumps({"options": asdict(opts), "results": results}, indent=2))
    target = args.write or (None if args.smoke else HERE / "RESULTS.md")
    if target is not None:
        command = "python -m benchmarks.scale_out " + " ".join(argv if argv is not None else sys.argv[1:])
        text = target.read_text() if target.exists() else ""
        target.write_text(replace_section(text, markdown(command.strip(), opts, world, report)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
