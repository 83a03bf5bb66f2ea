"""Pure rules for the hosted and league races of tracked drivers (``search_hosted``).

- Cadence: a driver with a hosted or league race in the last 90 days is checked every cycle; the
  others every ``QUIET_CHECK_SECONDS`` (6 h): most tracked drivers never race one, and four
  requests a day each keeps their cost small, while the first race after a quiet spell is still
  posted the same evening and every later one at the next cycle. A driver never checked yet is
  checked at once with one search over the last 90 days, which learns their cadence.
- Watermark: iRacing's advice, the largest ``end_time`` seen is the next ``finish_range_begin``.
  The search's begin has minute precision, so a race ending at the watermark itself comes back:
  only races ending after it are new.
- Sessions without a race (practice or qualifying only) are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ir2dis_cog.iracing.models import HostedSession
from ir2dis_cog.store import HostedWatch

ACTIVE_SECONDS = 90 * 86_400
QUIET_CHECK_SECONDS = 6 * 3600
LEARN_SECONDS = 89 * 86_400  # the client's clamp: iRacing answers a range of at most 90 days
MAX_CHECKS_PER_CYCLE = 60  # the rest wait for the next cycle, the stalest first


def is_active(watch: HostedWatch, now: float) -> bool:
    return watch.last_race_at is not None and now - watch.last_race_at <= ACTIVE_SECONDS


def due(watch: HostedWatch, now: float) -> bool:
    if not watch.learned or is_active(watch, now):
        return True
    return now - watch.checked_at >= QUIET_CHECK_SECONDS


def plan_checks(watches: Iterable[HostedWatch], now: float, limit: int = MAX_CHECKS_PER_CYCLE) -> list[HostedWatch]:
    """The drivers to search this cycle: never checked first, then the longest unchecked."""
    chosen = [w for w in watches if due(w, now)]
    chosen.sort(key=lambda w: (w.learned, w.checked_at, w.cust_id))
    return chosen[:limit]


def search_begin(watch: HostedWatch, now: float) -> float:
    """Where this search starts: 90 days back the first time (to learn), else the watermark."""
    return now - LEARN_SECONDS if not watch.learned else watch.finish_begin


def end_of(row: HostedSession) -> int | None:
    return int(row.end_time.timestamp()) if row.end_time is not None else None


@dataclass(frozen=True)
class HostedPlan:
    """What one search found: the races to deliver (oldest first), the new watermark, the last race."""

    new: tuple[HostedSession, ...]
    finish_begin: int
    last_race_at: int | None
    skipped_no_race: int


def plan_rows(watch: HostedWatch, rows: Sequence[HostedSession]) -> HostedPlan:
    races = [r for r in rows if r.has_race and end_of(r) is not None]
    skipped = sum(1 for r in rows if not r.has_race)
    ends = [end_of(r) or 0 for r in races]
    new = sorted(
        (r for r in races if (end_of(r) or 0) > watch.finish_begin), key=lambda r: (end_of(r), r.subsession_id)
    )
    return HostedPlan(
        new=tuple(new),
        finish_begin=max([watch.finish_begin, *ends]),
        last_race_at=max(ends) if ends else None,
        skipped_no_race=skipped,
    )


def watermark_after(plan: HostedPlan, failed: Iterable[HostedSession], start: int) -> int:
    """The watermark once delivered: not past a race that must be tried again."""
    ends = [end_of(r) or 0 for r in failed]
    if not ends:
        return plan.finish_begin
    return max(start, min(ends) - 1)


def tracked_before(finished: int, since: Mapping[tuple[int, int], int], guild_id: int, cust_id: int) -> bool:
    """No backlog: a server gets a driver's race only when it tracked them before it finished."""
    started = since.get((guild_id, cust_id))
    return started is not None and started <= finished
