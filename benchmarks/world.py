"""The simulated world of the benchmark: servers, tracked drivers, and who races when.

Pure and seeded: the same arguments give the same world in every process. Drivers have an
activity profile (daily, weekly, rare), race in sessions of one to four back-to-back races with
an evening peak, and often bring friends from a server they share, so several tracked drivers
end up in one subsession. Results appear a few minutes after a race ends.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from dataclasses import dataclass

HOUR = 3600.0
DAY = 86_400.0
GUILD_BASE = 700_000_000_000_000_000
CHANNEL_BASE = 800_000_000_000_000_000
DRIVER_BASE = 100_000
FILLER_BASE = 5_000_000
FILLERS = 4_000
# (share of drivers, sessions per day) for daily racers, weekly racers and rare ones.
PROFILES = ((0.25, 1.2), (0.35, 0.3), (0.40, 0.07))


@dataclass(frozen=True)
class Race:
    subsession_id: int
    start: float
    minutes: float
    available_at: float  # when member_recent_races first shows it
    drivers: tuple[int, ...]  # tracked drivers in it
    fillers: tuple[int, ...]  # the rest of the field


@dataclass
class World:
    start: float  # when tracking starts (the benchmark's t0)
    end: float
    interval: float
    guilds: list[int]
    tracking: dict[int, list[int]]  # guild -> drivers
    races: list[Race]  # sorted by start

    def channel(self, guild_id: int) -> int:
        return CHANNEL_BASE + (guild_id - GUILD_BASE)

    def guild_of_channel(self, channel_id: int) -> int:
        return GUILD_BASE + (channel_id - CHANNEL_BASE)

    def drivers(self) -> list[int]:
        return sorted({d for ds in self.tracking.values() for d in ds})

    def pairs(self) -> int:
        return sum(len(ds) for ds in self.tracking.values())

    def history(self) -> list[Race]:
        """Races already out when tracking starts (the watermarks sit on the newest of each driver)."""
        return [r for r in self.races if r.available_at <= self.start]

    def future(self) -> list[Race]:
        return [r for r in self.races if r.available_at > self.start]


def evening_weight(t: float) -> float:
    """More racing in the evening (UTC), never none: 0.3 at 06:00, 1.0 at 20:00."""
    hour = (t % DAY) / HOUR
    return 0.65 + 0.35 * math.cos((hour - 20.0) / 24.0 * 2 * math.pi)


def track_drivers(
    rng: random.Random, servers: int, pairs: int, drivers: int
) -> tuple[list[int], dict[int, list[int]], dict[int, list[int]], list[int]]:
    """Who tracks whom: every driver by at least one server, popular drivers by many; and each
    driver's friends (drivers tracked by a server they share). Returns guilds, tracking, friends, drivers."""
    guilds = [GUILD_BASE + i + 1 for i in range(servers)]
    cust_ids = [DRIVER_BASE + i + 1 for i in range(drivers)]
    tracking: dict[int, set[int]] = {g: set() for g in guilds}
    for i, d in enumerate(cust_ids):
        tracking[guilds[i % servers]].add(d)
    weights = [1.0 / (1 + i) ** 0.6 for i in range(drivers)]
    rng.shuffle(weights)
    cumulative = list(itertools.accumulate(weights))  # what choices() would sum on every call
    total = drivers
    while total < pairs:
        g = guilds[rng.randrange(servers)]
        d = rng.choices(cust_ids, cum_weights=cumulative)[0]
        if d not in tracking[g]:
            tracking[g].add(d)
            total += 1
    friends: dict[int, list[int]] = {d: [] for d in cust_ids}
    for ds in tracking.values():
        members = sorted(ds)
        for d in members:
            friends[d].extend(x for x in members if x != d)
    return guilds, {g: sorted(ds) for g, ds in tracking.items()}, friends, cust_ids


def build_world(
    *,
    servers: int,
    pairs: int,
    drivers: int,
    hours: float,
    interval: float = 300.0,
    seed: int = 7,
    start: float = 1_771_869_600.0,  # a Monday, 18:00 UTC
    history_hours: float = 36.0,
    activity: float = 1.0,
) -> World:
    rng = random.Random(seed)
    guilds, tracking, friends, cust_ids = track_drivers(rng, servers, pairs, drivers)

    rates: dict[int, float] = {}
    for d in cust_ids:
        roll, acc = rng.random(), 0.0
        for share, per_day in PROFILES:
            acc += share
            if roll <= acc:
                rates[d] = per_day
                break
        else:
            rates[d] = PROFILES[-1][1]

    busy: dict[int, list[tuple[float, float]]] = {d: [] for d in cust_ids}

    def free(d: int, begin: float, finish: float) -> bool:
        spans = busy[d]
        i = bisect.bisect_left(spans, (begin, begin))
        if i > 0 and spans[i - 1][1] > begin:
            return False
        return not (i < len(spans) and spans[i][0] < finish)

    planned: list[tuple[float, float, float, tuple[int, ...]]] = []
    t_from, t_to = start - history_hours * HOUR, start + hours * HOUR
    for d in cust_ids:
        # A thinned Poisson process of sessions with the evening weight.
        t = t_from
        while True:
            t += rng.expovariate(rates[d] * activity / DAY)
            if t >= t_to:
                break
            if rng.random() > evening_weight(t):
                continue
            crew = [d]
            if friends[d] and rng.random() < 0.35:
                crew += rng.sample(friends[d], min(len(friends[d]), rng.randint(1, 3)))
            begin = t
            for _ in range(rng.choice((1, 2, 2, 3, 4))):
                minutes = rng.choice((15, 20, 25, 30, 40))
                finish = begin + minutes * 60
                racing = tuple(sorted({c for c in crew if free(c, begin, finish)}))
                if racing:
                    for c in racing:
                        bisect.insort(busy[c], (begin, finish))
                    delay = rng.uniform(2, 10) * 60
                    planned.append((begin, minutes, finish + delay, racing))
                begin = finish + rng.uniform(3, 8) * 60
    # One older race for everyone, so each driver has a history and a watermark.
    for d in cust_ids:
        begin = t_from - rng.uniform(1, 30) * DAY
        planned.append((begin, 20.0, begin + 25 * 60, (d,)))
    planned.sort()
    races = [
        Race(
            subsession_id=60_000_001 + i,
            start=begin,
            minutes=minutes,
            available_at=available,
            drivers=racing,
            fillers=tuple(FILLER_BASE + rng.randrange(FILLERS) for _ in range(rng.randint(3, 9))),
        )
        for i, (begin, minutes, available, racing) in enumerate(planned)
    ]
    return World(
        start=start,
        end=t_to,
        interval=interval,
        guilds=guilds,
        tracking=tracking,
        races=races,
    )


@dataclass(frozen=True)
class Expectation:
    posts: dict[tuple[int, int], float]  # (guild, subsession) -> when the results came out
    recently_active: frozenset[tuple[int, int]]  # posts of a driver who raced in the day before


def expected_posts(world: World, *, until: float) -> Expectation:
    """Every (guild, race) that must be posted: results out after tracking began and before ``until``."""
    trackers: dict[int, list[int]] = {}
    for g, ds in world.tracking.items():
        for d in ds:
            trackers.setdefault(d, []).append(g)
    last_start: dict[int, float] = {}
    posts: dict[tuple[int, int], float] = {}
    active: set[tuple[int, int]] = set()
    for race in world.races:  # by start
        was_active = {d for d in race.drivers if race.start - last_start.get(d, -math.inf) <= DAY}
        if world.start < race.available_at <= until:
            for d in race.drivers:
                for g in trackers.get(d, ()):
                    posts[(g, race.subsession_id)] = race.available_at
                    if d in was_active:
                        active.add((g, race.subsession_id))
        for d in race.drivers:
            last_start[d] = race.start
    return Expectation(posts, frozenset(active))
