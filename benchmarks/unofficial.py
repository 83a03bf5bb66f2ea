"""Hosted and league races beside the official ones (issue 13), in one process.

The official world of ``benchmarks/world.py`` (servers, tracked drivers, their official races)
gains league racing: a share of the tracked drivers (15% by default) race in one of the
followed leagues (20 by default, each followed by one to three servers) on its weekly race night,
which falls inside the run, and a third of them also join a hosted lobby; each had a league race
in the weeks before, so they are searched every cycle from the start. The real engine with its
hosted and league check, the real client over HTTP against the fake iRacing (240 requests a
minute), SQLite, simulated time (``--speed`` times the wall clock).

Measured: requests a minute by kind, the lateness of each post from its results coming out
(p50/p95) for official, hosted and league races, 429s, and every expected (server, race) posted
exactly once.

    python -m benchmarks.unofficial [--hours 8] [--speed 150] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import statistics
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.poll_cycle import (
    CountingPublisher,
    SimClock,
    _seed_store,
    fake_timing,
)
from benchmarks.world import DAY, HOUR, World, build_world, expected_posts

LEAGUE_BASE, SEASON_BASE = 9_000, 190_000
UNOFFICIAL_BASE = 80_000_001
LEAGUE_FILLERS = 9_000_000


@dataclass(frozen=True)
class Unofficial:
    subsession_id: int
    start: float
    minutes: float
    drivers: tuple[int, ...]  # tracked drivers in it
    fillers: tuple[int, ...]
    league_id: int | None  # None: a hosted lobby

    @property
    def end(self) -> float:
        return self.start + self.minutes * 60


@dataclass(frozen=True)
class LeagueWorld:
    follows: dict[int, list[int]]  # league -> servers following it
    racers: dict[int, int]  # tracked driver -> their league
    history: list[Unofficial]  # a league race of each racer in the weeks before
    races: list[Unofficial]  # during the run, by end


def build_leagues(world: World, *, share: float, leagues: int, seed: int = 13) -> LeagueWorld:
    rng = random.Random(seed)
    drivers = world.drivers()
    racers = {d: LEAGUE_BASE + rng.randrange(leagues) for d in rng.sample(drivers, round(share * len(drivers)))}
    follows = {LEAGUE_BASE + i: rng.sample(world.guilds, rng.randint(1, 3)) for i in range(leagues)}
    ids = iter(range(UNOFFICIAL_BASE, UNOFFICIAL_BASE + 1_000_000))
    span = world.end - world.start

    def fillers(n: int) -> tuple[int, ...]:
        return tuple(LEAGUE_FILLERS + rng.randrange(5_000) for _ in range(n))

    history, races = [], []
    for i, league in enumerate(sorted(follows)):
        members = tuple(sorted(d for d, lg in racers.items() if lg == league))
        night = world.start + (0.5 + i % max(1, int(span // HOUR) - 2)) * HOUR  # its weekly race night
        weeks_ago = night - rng.randint(1, 4) * 7 * DAY
        history.append(Unofficial(next(ids), weeks_ago, 45.0, members, fillers(12), league))
        for heat in range(2):  # a sprint and a feature race
            start = night + heat * 55 * 60
            races.append(Unofficial(next(ids), start, 45.0, members, fillers(rng.randint(10, 20)), league))
    for d in sorted(racers):
        if rng.random() < 1 / 3:
            start = world.start + rng.uniform(0.2, 0.8) * span
            races.append(Unofficial(next(ids), start, 30.0, (d,), fillers(rng.randint(5, 15)), None))
    races.sort(key=lambda r: (r.end, r.subsession_id))
    return LeagueWorld(follows, racers, history, races)


def expected_unofficial(world: World, lw: LeagueWorld) -> dict[tuple[int, int], float]:
    """(server, race) -> when its results came out (at its end in the fake)."""
    trackers: dict[int, set[int]] = {}
    for g, ds in world.tracking.items():
        for d in ds:
            trackers.setdefault(d, set()).add(g)
    out: dict[tuple[int, int], float] = {}
    for r in lw.races:
        if r.end > world.end:
            continue  # posted while the run drains, counted apart
        guilds = {g for d in r.drivers for g in trackers.get(d, ())}
        if r.league_id is not None:
            guilds |= set(lw.follows[r.league_id])
        for g in guilds:
            out[(g, r.subsession_id)] = r.end
    return out


def _kind_of(path: str) -> str:
    for suffix, kind in (
        ("member_recent_races", "official: recent races"),
        ("search_hosted", "hosted: search_hosted"),
        ("league/seasons", "league: seasons"),
        ("league/season_sessions", "league: season sessions"),
        ("results/get", "results/get (all kinds)"),
        ("lap_chart_data", "lap chart"),
    ):
        if path.endswith(suffix):
            return kind
    return "other"


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


async def run(
    *, servers: int, pairs: int, drivers: int, hours: float, speed: float, share: float, leagues: int
) -> dict[str, Any]:
    from ir2dis_cog.config.settings import load_settings
    from ir2dis_cog.iracing.auth_state import MemoryAuthStateStore
    from ir2dis_cog.iracing.client import ClientTuning, IRacingClient
    from ir2dis_cog.observability.metrics import Metrics
    from ir2dis_cog.poller.engine import PollEngine
    from ir2dis_cog.poller.unofficial import UnofficialRaces
    from ir2dis_cog.store import open_store
    from tests.fakes.iracing import (
        FAKE_CLIENT_ID,
        FAKE_CLIENT_SECRET,
        FAKE_EMAIL,
        FAKE_PASSWORD,
        FakeIRacing,
        RaceEntry,
    )

    logging.getLogger("red.ir2dis").setLevel(logging.ERROR)
    world = build_world(servers=servers, pairs=pairs, drivers=drivers, hours=hours)
    lw = build_leagues(world, share=share, leagues=leagues)
    clock = SimClock(world.start, speed)
    fake = FakeIRacing(**fake_timing(clock))
    for league in lw.follows:
        fake.add_league(league, f"Bench League {league}", [(SEASON_BASE + league, f"Bench League {league} S1")])

    def add_official(race: Any) -> None:
        entries = [RaceEntry((c,)) for c in (*race.drivers, *race.fillers)]
        fake.add_race(
            entries,
            subsession_id=race.subsession_id,
            session_start_time=race.start,
            race_minutes=race.minutes,
            series_name="Benchmark Cup",
        )

    def add_unofficial(race: Unofficial) -> None:
        entries = [RaceEntry((c,)) for c in (*race.drivers, *race.fillers)]
        league = (
            {"league_id": race.league_id, "league_season_id": SEASON_BASE + race.league_id} if race.league_id else {}
        )
        fake.add_race(
            entries,
            subsession_id=race.subsession_id,
            session_start_time=race.start,
            race_minutes=race.minutes,
            series_name="Hosted iRacing",
            hosted=True,
            session_name="Bench lobby" if race.league_id is None else "Bench round",
            **league,
        )

    for race in world.history():
        add_official(race)
    for u in lw.history:
        add_unofficial(u)
    await fake.start()
    workdir = Path(tempfile.mkdtemp(prefix="ir2dis-unofficial-"))
    env = {
        "IRACING_EMAIL": FAKE_EMAIL,
        "IRACING_PASSWORD": FAKE_PASSWORD,
        "IRACING_CLIENT_ID": FAKE_CLIENT_ID,
        "IRACING_CLIENT_SECRET": FAKE_CLIENT_SECRET,
        "IRACING_API_BASE": fake.base_url or "",
        "IRACING_OAUTH_URL": fake.oauth_url,
        "POLL_INTERVAL_SECONDS": str(int(world.interval)),
        "LOG_LEVEL": "WARNING",
    }
    settings = load_settings(env, config_file=workdir / "absent.json", mode="cog", data_dir=workdir)
    url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    await (await open_store(url, data_dir=workdir)).close()
    _seed_store(world, workdir / "bench.sqlite3")
    store = await open_store(url, data_dir=workdir)
    t0 = int(world.start)
    for d in world.drivers():
        await store.hosted.start(d, t0)  # as /iracing track does
    for league, guilds in lw.follows.items():
        # As the follow command does: from the newest race with results at the follow.
        after = max((u.subsession_id for u in lw.history if u.league_id == league), default=0)
        for g in guilds:
            await store.leagues.follow(g, league, f"Bench League {league}", after, None, now=t0)
    metrics = Metrics()
    publisher = CountingPublisher(clock)  # type: ignore[arg-type]
    clock.start(__import__("time").time())
    future_official = sorted(world.future(), key=lambda r: r.available_at)
    future_unofficial = list(lw.races)
    stop = world.end + 1800

    async def feeder() -> None:
        i = j = 0
        while clock.now() < stop:
            now = clock.now()
            while i < len(future_official) and future_official[i].available_at <= now:
                add_official(future_official[i])
                i += 1
            while j < len(future_unofficial) and future_unofficial[j].end <= now:
                add_unofficial(future_unofficial[j])
                j += 1
            await asyncio.sleep(0.005)

    async with IRacingClient(
        settings,
        state_store=MemoryAuthStateStore(),
        metrics=metrics,
        tuning=ClientTuning(max_rate_wait=600.0),
        clock=clock.now,
        sleep=clock.sleep,
    ) as client:
        engine = PollEngine(store, client, publisher, settings, metrics, clock, process="bench")  # type: ignore[arg-type]
        engine.attach_unofficial(UnofficialRaces(engine, store, clock, metrics=metrics))

        async def poller() -> None:
            tick = world.start
            while tick < stop:
                await clock.sleep_until(tick)
                await engine.run_cycle()
                tick = max(tick + world.interval, clock.now())

        await asyncio.gather(feeder(), poller())
    await store.close()
    await fake.stop()

    official = expected_posts(world, until=world.end).posts
    unofficial = expected_unofficial(world, lw)
    league_ids = {r.subsession_id for r in lw.races if r.league_id is not None}
    late = {r.subsession_id for r in world.races if r.available_at > world.end}
    late |= {r.subsession_id for r in lw.races if r.end > world.end}
    sent = Counter((world.guild_of_channel(c), s) for c, s, _ in publisher.sent)
    first = {}
    for c, s, at in publisher.sent:
        first.setdefault((world.guild_of_channel(c), s), at)

    def kind(s: int) -> str:
        if s in league_ids:
            return "league"
        return "hosted" if s >= UNOFFICIAL_BASE else "official"

    lateness: dict[str, list[float]] = {"official": [], "hosted": [], "league": []}
    expected = {**official, **unofficial}
    for key, out_at in expected.items():
        if key in first:
            lateness[kind(key[1])].append(first[key] - out_at)
    minutes = (stop - world.start) / 60
    data = [r for r in fake.requests if r.kind == "data"]
    by_kind = Counter(_kind_of(r.path) for r in data)
    return {
        "world": {
            "servers": servers,
            "tracked_pairs": world.pairs(),
            "drivers": len(world.drivers()),
            "league_racers": len(lw.racers),
            "followed_leagues": len(lw.follows),
            "follows": sum(len(g) for g in lw.follows.values()),
            "hours": hours,
            "poll_interval_s": world.interval,
        },
        "requests_per_minute": {k: round(v / minutes, 2) for k, v in sorted(by_kind.items())},
        "requests_per_minute_total": round(len(data) / minutes, 2),
        "rate_limited_429": fake.stats["rate_limited"],
        "expected_posts": {k: sum(1 for key in expected if kind(key[1]) == k) for k in lateness},
        "missed": {k: sum(1 for key in expected if kind(key[1]) == k and key not in first) for k in lateness},
        "posted_twice": sum(1 for n in sent.values() if n > 1),
        # As in poll_cycle: races out after the simulated hours are posted while it drains, and
        # counted apart.
        "posts_of_races_out_after_the_hours": sum(1 for key in sent if key[1] in late),
        "unexpected_posts": sum(1 for key in sent if key not in expected and key[1] not in late),
        "lateness_s": {
            k: {"p50": _pct(v, 0.5), "p95": _pct(v, 0.95), "mean": round(statistics.mean(v), 1) if v else None}
            for k, v in lateness.items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--servers", type=int, default=20)
    p.add_argument("--pairs", type=int, default=300)
    p.add_argument("--drivers", type=int, default=220)
    p.add_argument("--hours", type=float, default=8.0)
    p.add_argument("--speed", type=float, default=150.0)
    p.add_argument("--league-share", type=float, default=0.15)
    p.add_argument("--leagues", type=int, default=20)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    result = asyncio.run(
        run(
            servers=args.servers,
            pairs=args.pairs,
            drivers=args.drivers,
            hours=args.hours,
            speed=args.speed,
            share=args.league_share,
            leagues=args.leagues,
        )
    )
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
