"""The benchmark's world of official sessions, for the live watcher: races on a schedule.

Pure and seeded, like ``world``: the same arguments give the same world in every process.
Official series start sessions at fixed minutes (every 30 min, 1 h or 2 h, at :00, :15, :30 or
:45); a session's entrants (tracked drivers who race that series, and a crowd from the rest of
iRacing) are split into fields of at most ``FIELD`` cars, one subsession each. A tracked driver
races one to four sessions in a row of a series they like, with the activity profiles and the
evening peak of ``world``, often with friends from a server they share. Results come out 1 to 6
minutes after a race ends. The rest of iRacing does not depend on the tracked drivers, so the
number of live races (and rosters to read) barely grows with them.
"""

from __future__ import annotations

import bisect
import math
import random
from dataclasses import dataclass

from benchmarks.world import (
    DAY,
    HOUR,
    PROFILES,
    Race,
    World,
    evening_weight,
    track_drivers,
)

FIELD = 20  # cars per split at most
SERIES = 60
CROWD_BASE = 7_000_000  # cust ids of the rest of iRacing (never tracked)
CROWD = 30_000
# Non-race subsessions in the live list (the recorded answer: 199 practices, 20 time trials, 1
# qualifying among 303 live subsessions); the client keeps only races.
NOISE = ((2, 199), (4, 20), (3, 1))
NOISE_BASE = 50_000_001
# (period minutes, share of series, race lengths in minutes)
SCHEDULES = ((30, 0.3, (15, 20)), (60, 0.45, (20, 25, 30, 40)), (120, 0.25, (45, 50, 60)))
WARMUP_HOURS = 1.5  # sessions generated before tracking starts, so races are live at the start


@dataclass(frozen=True)
class Series:
    season_id: int
    period: float  # seconds between two session starts
    offset: float  # the first start past midnight UTC
    race_minutes: int
    crowd: float  # entrants from the rest of iRacing per session at the evening peak
    popularity: float  # how likely a tracked driver picks it as a favourite

    def next_start(self, t: float) -> float:
        """The first session start at or after ``t``."""
        day = math.floor(t / DAY) * DAY
        k = math.ceil((t - day - self.offset) / self.period)
        return day + self.offset + max(0, k) * self.period


@dataclass
class SessionsWorld(World):
    series: list[Series]
    noise: list[dict[str, object]]  # the live list's other subsessions
    season_of: dict[int, int]  # subsession -> season


def _series(rng: random.Random) -> list[Series]:
    out = []
    for i in range(SERIES):
        roll, acc = rng.random(), 0.0
        period, lengths = SCHEDULES[-1][0], SCHEDULES[-1][2]
        for minutes, share, options in SCHEDULES:
            acc += share
            if roll <= acc:
                period, lengths = minutes, options
                break
        offset = rng.choice([m for m in (0, 15, 30, 45) if m < period]) * 60.0
        popularity = 1.0 / (1 + i) ** 0.8
        out.append(Series(5_000 + i, period * 60.0, offset, rng.choice(lengths), 200.0 * popularity + 15.0, popularity))
    return out


def build_sessions_world(
    *,
    servers: int,
    pairs: int,
    drivers: int,
    hours: float,
    interval: float = 300.0,
    seed: int = 7,
    start: float = 1_771_869_600.0,  # a Monday, 18:00 UTC
    activity: float = 1.0,
) -> SessionsWorld:
    rng = random.Random(seed)
    guilds, tracking, friends, cust_ids = track_drivers(rng, servers, pairs, drivers)
    series = _series(rng)
    weights = [s.popularity for s in series]
    favourites = {d: sorted(set(rng.choices(range(SERIES), weights, k=rng.randint(1, 3)))) for d in cust_ids}
    rates: dict[int, float] = {}
    for d in cust_ids:
        roll, acc = rng.random(), 0.0
        rates[d] = PROFILES[-1][1]
        for share, per_day in PROFILES:
            acc += share
            if roll <= acc:
                rates[d] = per_day
                break

    # Who enters which session: (series index, start) -> tracked drivers.
    entrants: dict[tuple[int, float], set[int]] = {}
    busy: dict[int, list[tuple[float, float]]] = {d: [] for d in cust_ids}

    def free(d: int, begin: float, finish: float) -> bool:
        spans = busy[d]
        i = bisect.bisect_left(spans, (begin, begin))
        if i > 0 and spans[i - 1][1] > begin:
            return False
        return not (i < len(spans) and spans[i][0] < finish)

    t_from, t_to = start - WARMUP_HOURS * HOUR, start + hours * HOUR
    for d in cust_ids:
        t = t_from
        while True:
            t += rng.expovariate(rates[d] * activity / DAY)
            if t >= t_to:
                break
            if rng.random() > evening_weight(t):
                continue
            k = rng.choice(favourites[d])
            crew = [d]
            if friends[d] and rng.random() < 0.35:
                crew += rng.sample(friends[d], min(len(friends[d]), rng.randint(1, 3)))
            begin = series[k].next_start(t)
            for _ in range(rng.choice((1, 2, 2, 3, 4))):
                if begin >= t_to:
                    break
                finish = begin + series[k].race_minutes * 60
                racing = [c for c in crew if free(c, begin, finish)]
                for c in racing:
                    bisect.insort(busy[c], (begin, finish))
                entrants.setdefault((k, begin), set()).update(racing)
                begin = series[k].next_start(finish + 60)

    # Every session of every series in the time span, with the crowd, split into fields.
    sessions: list[tuple[float, int]] = []
    for k, s in enumerate(series):
        begin = s.next_start(t_from)
        while begin < t_to:
            sessions.append((begin, k))
            begin += s.period
    sessions.sort()
    crowd_ids = list(range(CROWD_BASE, CROWD_BASE + CROWD))
    planned: list[tuple[float, int, float, tuple[int, ...], tuple[int, ...]]] = []
    for begin, k in sessions:
        s = series[k]
        tracked = sorted(entrants.get((k, begin), ()))
        crowd = max(0, round(rng.gauss(s.crowd, s.crowd / 3) * evening_weight(begin)))
        field = [(d, True) for d in tracked] + [(c, False) for c in rng.sample(crowd_ids, crowd)]
        if not field:
            continue
        rng.shuffle(field)  # splits go by iRating, which says nothing about being tracked
        splits = math.ceil(len(field) / FIELD)
        for j in range(splits):
            cars = field[j::splits]
            delay = rng.uniform(1, 6) * 60
            finish = begin + s.race_minutes * 60
            planned.append(
                (
                    begin,
                    k,
                    finish + delay,
                    tuple(sorted(d for d, t in cars if t)),
                    tuple(sorted(d for d, t in cars if not t)),
                )
            )
    # Each driver's last race, days before: the watermark tracking starts from (20 to a field).
    older = list(cust_ids)
    rng.shuffle(older)
    for i in range(0, len(older), FIELD):
        begin = t_from - rng.uniform(1, 30) * DAY
        planned.append((begin, -1, begin + 25 * 60, tuple(sorted(older[i : i + FIELD])), ()))
    planned.sort(key=lambda p: (p[0], p[1]))
    races: list[Race] = []
    season_of: dict[int, int] = {}
    for i, (begin, k, available, racing, crowd_cars) in enumerate(planned):
        sid = 70_000_001 + i
        minutes = 20.0 if k < 0 else float(series[k].race_minutes)
        races.append(Race(sid, begin, minutes, available, racing, crowd_cars))
        season_of[sid] = series[k].season_id if k >= 0 else 4_999
    noise: list[dict[str, object]] = []
    for event_type, count in NOISE:
        for _ in range(count):
            noise.append(
                {
                    "subsession_id": NOISE_BASE + len(noise),
                    "session_id": NOISE_BASE + 300_000_000 + len(noise),
                    "season_id": series[rng.randrange(SERIES)].season_id,
                    "start_time": "2026-02-23T17:30:00Z",
                    "race_week_num": 3,
                    "event_type": event_type,
                }
            )
    return SessionsWorld(
        start=start,
        end=t_to,
        interval=interval,
        guilds=guilds,
        tracking=tracking,
        races=races,
        series=series,
        noise=noise,
        season_of=season_of,
    )


def live_at(world: World, t: float) -> int:
    """Official races running at ``t`` (how busy the live list is)."""
    return sum(1 for r in world.races if r.start <= t < r.start + r.minutes * 60)
