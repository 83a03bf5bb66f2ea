"""Pure decisions of a poll cycle: which races are new for whom, and who shares a card.

Everything here works on plain data (races, watermarks, id sets) and does no I/O, so each rule
is tested on its own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ir2dis_cog.iracing.models import RecentRace
from ir2dis_cog.store import GuildConfig, Watermark


@dataclass(frozen=True, order=True)
class RaceRef:
    """One race, ordered as watermarks are: by start time (epoch seconds), then subsession id."""

    started_at: int
    subsession_id: int

    @classmethod
    def of(cls, race: RecentRace) -> RaceRef:
        return cls(int(race.start_time.timestamp()), race.subsession_id)

    @classmethod
    def from_mark(cls, mark: Watermark) -> RaceRef:
        return cls(mark.last_finish_at, mark.last_subsession_id)


@dataclass(frozen=True)
class PairPlan:
    """What one (guild, driver) pair needs this cycle.

    ``post`` is every race after the watermark that is young enough to post, oldest first;
    ``stale`` are races after the watermark too old to post (skipped, but the watermark moves
    past them); ``baseline`` is where to put a missing watermark (tracking just started: the
    driver's latest race, so no backlog is posted).
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


def plan_pair(
    guild_id: int,
    cust_id: int,
    races: Iterable[RecentRace],
    mark: Watermark | None,
    *,
    oldest_postable: int,
) -> PairPlan:
    """Every race after the pair's watermark, oldest first (never only the latest one).

    Without a watermark the pair has just started tracking: its baseline is the newest race
    and nothing is posted. Races that started before ``oldest_postable`` are never posted, so
    a long outage does not flood a channel.
    """
    refs = sorted({RaceRef.of(r) for r in races})
    if mark is None:
        return PairPlan(guild_id, cust_id, baseline=refs[-1] if refs else None)
    floor = RaceRef.from_mark(mark)
    newer = [r for r in refs if r > floor]
    post = tuple(r for r in newer if r.started_at >= oldest_postable)
    stale = tuple(r for r in newer if r.started_at < oldest_postable)
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


def also_new_for(
    ref: RaceRef,
    audience: Mapping[int, frozenset[int]],
    watermarks: Mapping[tuple[int, int], Watermark],
    *,
    oldest_postable: int,
) -> frozenset[int]:
    """Guilds for which this race is new through a driver who was *not* polled this cycle.

    The results show every driver of the race, so a guild tracking a teammate or a friend in
    the same split gets its card now; that driver counts as seen. A pair without a watermark
    is left to its own poll, which sets the baseline.
    """
    if ref.started_at < oldest_postable:
        return frozenset()
    return frozenset(
        guild_id
        for guild_id, cust_ids in audience.items()
        if any(
            (mark := watermarks.get((guild_id, c))) is not None and RaceRef.from_mark(mark) < ref
            for c in cust_ids
        )
    )
