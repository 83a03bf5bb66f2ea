"""Pure decisions of a poll cycle: which races are new for whom, and who shares a card.

Everything here works on plain data (races, watermarks, id sets) and does no I/O, so each rule
is tested on its own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from ir2dis_cog.core.records import GuildConfig, Watermark
from ir2dis_cog.core.tracking import RaceRef
from ir2dis_cog.iracing.models import RecentRace

# The longest a race lasts from its session's start to its end: iRacing's longest races are
# 24-hour ones (about 25 h with gridding). Only used as a bound where a race's end is not known
# yet: a race that started longer ago than this before a moment has surely ended before it.
MAX_RACE_SECONDS = 30 * 3600


Age = Literal["young", "old", "unknown"]


def age(ref: RaceRef, oldest_postable: int, *, finished_at: int | None = None) -> Age:
    """Whether a race ended recently enough to post: judged by its **end**, never by its start.

    With the end known (from its results, or when this bot first saw it finished) the answer is
    exact. Without it, the start bounds it: a race that started after ``oldest_postable`` is young,
    one that started more than ``MAX_RACE_SECONDS`` before it is old, and the rest need their end.
    """
    if finished_at is not None:
        return "young" if finished_at >= oldest_postable else "old"
    if ref.started_at >= oldest_postable:
        return "young"
    if ref.started_at + MAX_RACE_SECONDS < oldest_postable:
        return "old"
    return "unknown"


def finish_time(end_time: datetime | None, first_seen: int) -> int:
    """When a race ended: its results' end time, or else when this bot first saw it finished."""
    return int(end_time.timestamp()) if end_time is not None else first_seen


@dataclass(frozen=True)
class PairPlan:
    """What one (guild, driver) pair needs this cycle.

    ``post`` is every race not handled yet that may be young enough, oldest first (its end, once
    fetched, decides); ``stale`` are races surely too old to post (reported, never posted, and the
    watermark moves past them); ``baseline`` is where to put a missing watermark (tracking just
    started: the driver's latest race, so no backlog is posted).
    """

    guild_id: int
    cust_id: int
    post: tuple[RaceRef, ...] = ()
    stale: tuple[RaceRef, ...] = ()
    baseline: RaceRef | None = None

    @property
    def pending(self) -> tuple[RaceRef, ...]:
        """Every race the watermark must get past, oldest first."""
        return tuple(sorted(self.post + self.stale))


def channel_tracking(
    tracking: Mapping[int, frozenset[int]], guilds: Mapping[int, GuildConfig]
) -> dict[int, frozenset[int]]:
    """cust_id -> the guilds that track it *and* have a results channel; drivers left with none drop out.

    A server without a channel gets nothing, so its drivers cost no request on its behalf.
    """
    out: dict[int, frozenset[int]] = {}
    for cust_id, guild_ids in tracking.items():
        with_channel = frozenset(
            g for g in guild_ids if (cfg := guilds.get(g)) is not None and cfg.channel_id is not None
        )
        if with_channel:
            out[cust_id] = with_channel
    return out


def guilds_to_drivers(tracking: Mapping[int, frozenset[int]]) -> dict[int, frozenset[int]]:
    """Invert cust_id -> guilds into guild -> cust_ids."""
    inverted: defaultdict[int, set[int]] = defaultdict(set)
    for cust_id, guild_ids in tracking.items():
        for guild_id in guild_ids:
            inverted[guild_id].add(cust_id)
    return {g: frozenset(c) for g, c in inverted.items()}


def late_candidates(races: Iterable[RecentRace], mark: Watermark | None, *, tracked_since: int) -> list[int]:
    """Races listed *below* the watermark that may still be new: overlapping races published late.

    A team driver can race a sprint during their team's 24-hour race; the sprint is posted first
    and moves the watermark past the 24-hour race, whose results come later. Such a race started
    after tracking began and was still running when the watermark's race finished. Whether it was
    already handled is for the outbox to say (its subsession ids are returned to ask it).
    """
    if mark is None:
        return []
    return sorted(
        r.subsession_id
        for r in races
        if r.subsession_id < mark.last_subsession_id
        and int(r.start_time.timestamp()) >= tracked_since
        and int(r.start_time.timestamp()) + MAX_RACE_SECONDS > mark.last_finish_at
    )


def plan_pair(
    guild_id: int,
    cust_id: int,
    races: Iterable[RecentRace],
    mark: Watermark | None,
    *,
    oldest_postable: int,
    late: Iterable[int] = (),
) -> PairPlan:
    """Every race after the pair's watermark (and the ``late`` ones not handled yet), oldest first.

    Without a watermark the pair has just started tracking: its baseline is the newest race
    and nothing is posted. A race surely ended before ``oldest_postable`` is never posted, so a
    long outage does not flood a channel; one whose end is not known yet is fetched and its end
    decides (``age``).
    """
    refs = sorted({RaceRef.of(r) for r in races})
    if mark is None:
        return PairPlan(guild_id, cust_id, baseline=refs[-1] if refs else None)
    late_ids = set(late)
    newer = [r for r in refs if r.subsession_id > mark.last_subsession_id or r.subsession_id in late_ids]
    post = tuple(r for r in newer if age(r, oldest_postable) != "old")
    stale = tuple(r for r in newer if age(r, oldest_postable) == "old")
    return PairPlan(guild_id, cust_id, post=post, stale=stale)


def watermark_target(pending: Sequence[RaceRef], handled: Iterable[int]) -> RaceRef | None:
    """How far a watermark may move: up to the last race of an unbroken run of handled ones.

    A race that could not be handled this cycle (a transient iRacing error) holds the
    watermark before it, so it is tried again next cycle rather than lost.
    """
    done = set(handled)
    target: RaceRef | None = None
    for ref in sorted(pending):
        if ref.subsession_id not in done:
            break
        target = ref
    return target


def card_audience(
    subsession_cust_ids: Iterable[int],
    tracking: Mapping[int, frozenset[int]],
) -> dict[int, frozenset[int]]:
    """guild -> the drivers it tracks who raced in this subsession (one card per guild lists them all)."""
    audience: defaultdict[int, set[int]] = defaultdict(set)
    for cust_id in subsession_cust_ids:
        for guild_id in tracking.get(cust_id, ()):
            audience[guild_id].add(cust_id)
    return {g: frozenset(c) for g, c in audience.items()}


def owed_for(
    ref: RaceRef,
    audience: Mapping[int, frozenset[int]],
    watermarks: Mapping[tuple[int, int], Watermark],
    tracked_since: Mapping[tuple[int, int], int],
) -> tuple[frozenset[int], frozenset[int]]:
    """Guilds a race found (and owed) is for: (new, late). New: a tracked driver's watermark is
    before it. Late: every such watermark moved past it (a later race was posted while this one
    waited) but it started after tracking began; the outbox says whether it was handled. A pair
    without a watermark is left to its own poll, which sets the baseline."""
    new, late = set(), set()
    for guild_id, cust_ids in audience.items():
        for c in cust_ids:
            mark = watermarks.get((guild_id, c))
            if mark is None:
                continue
            if mark.last_subsession_id < ref.subsession_id:
                new.add(guild_id)
            elif ref.started_at >= tracked_since.get((guild_id, c), 0):
                late.add(guild_id)
    return frozenset(new), frozenset(late - new)


def also_new_for(
    ref: RaceRef,
    audience: Mapping[int, frozenset[int]],
    watermarks: Mapping[tuple[int, int], Watermark],
    *,
    young: bool,
) -> frozenset[int]:
    """Guilds for which this race is new through a driver who was *not* polled this cycle.

    The results show every driver of the race, so a guild tracking a teammate or a friend in
    the same split gets its card now; that driver counts as seen. A pair without a watermark
    is left to its own poll, which sets the baseline. ``young``: the race ended recently enough.
    """
    if not young:
        return frozenset()
    return frozenset(
        guild_id
        for guild_id, cust_ids in audience.items()
        if any(
            (mark := watermarks.get((guild_id, c))) is not None and mark.last_subsession_id < ref.subsession_id
            for c in cust_ids
        )
    )
