"""The tracking rules: where a newly tracked driver starts (no backlog) and which race is newest.

Used by the track and lastrace commands and by the poller alike, so both follow one rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import total_ordering

from ir2dis_cog.iracing.models import RecentRace


@total_ordering
@dataclass(frozen=True)
class RaceRef:
    """One race as a recent-races list shows it. Ordered by subsession id, which iRacing hands out
    as sessions launch, so the order is the start order; never used to age a race (see ``age``)."""

    started_at: int
    subsession_id: int

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, RaceRef):
            return NotImplemented
        return self.subsession_id < other.subsession_id

    @classmethod
    def of(cls, race: RecentRace) -> RaceRef:
        return cls(int(race.start_time.timestamp()), race.subsession_id)


def baseline_mark(races: Iterable[RaceRef]) -> tuple[int, int]:
    """Where a (server, driver) pair starts when tracking begins, as (subsession id, finished at).

    No backlog: the newest race listed. Its end is not known without its results, so its start
    stands in (the earliest it can have finished; the scheduler reads it as the driver's last
    activity). A driver without any race gets (0, 0), so their first race is new.
    """
    newest = max(races, default=None)
    return (newest.subsession_id, newest.started_at) if newest is not None else (0, 0)


def newest_race(races: Sequence[RecentRace]) -> RecentRace | None:
    """The driver's latest race: by start, then subsession id (ordering only, never ageing)."""
    return max(races, key=lambda r: (r.start_time, r.subsession_id), default=None)
