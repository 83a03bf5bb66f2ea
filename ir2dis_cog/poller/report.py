"""What a poll cycle tells: its counts, its report, the engine's status, and the cycle_done event."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Literal

from ir2dis_cog.observability.logging import log_event

log = logging.getLogger("red.ir2dis.poller")

Outcome = Literal["ok", "maintenance", "circuit_open", "idle"]


@dataclass
class CycleCounts:
    """The tally of one cycle, counted as it runs (hence not frozen); a report keeps a copy."""

    drivers_polled: int = 0
    driver_errors: int = 0
    new_races: int = 0
    subsessions_fetched: int = 0
    subsession_errors: int = 0
    posts_published: int = 0
    dedupe_skips: int = 0
    post_failures: int = 0
    posts_dropped: int = 0
    outbox_waiting: int = 0
    races_too_old: int = 0


@dataclass(frozen=True)
class CycleReport:
    started_at: float
    duration: float
    outcome: Outcome
    counts: CycleCounts
    drivers_tracked: int = 0
    drivers_due: int = 0
    drivers_deferred: int = 0
    requests: int = 0


@dataclass(frozen=True)
class EngineStatus:
    """What ``/iracing status`` and the health check show."""

    last_cycle_at: float | None
    last_cycle_duration: float | None
    last_outcome: str | None
    drivers_tracked: int
    drivers_due: int
    drivers_deferred: int
    pending_posts: int
    maintenance: bool


NO_CYCLE_YET = EngineStatus(None, None, None, 0, 0, 0, 0, False)


def status_after(report: CycleReport) -> EngineStatus:
    c = report.counts
    return EngineStatus(
        last_cycle_at=report.started_at,
        last_cycle_duration=report.duration,
        last_outcome=report.outcome,
        drivers_tracked=report.drivers_tracked,
        drivers_due=report.drivers_due,
        drivers_deferred=report.drivers_deferred,
        pending_posts=c.post_failures + c.outbox_waiting,
        maintenance=report.outcome == "maintenance",
    )


def frozen_counts(counts: CycleCounts) -> CycleCounts:
    """A copy for the report, so the tally of a later cycle cannot change it."""
    return replace(counts)


def log_cycle(report: CycleReport) -> None:
    c, due = report.counts, report.drivers_due
    log_event(
        log,
        "cycle_done",
        f"poll cycle {report.outcome}: {c.drivers_polled}/{due} drivers polled, {c.new_races} new races, "
        f"{c.posts_published} posted, {c.dedupe_skips} already posted, {c.post_failures} failed, "
        f"{report.requests} requests in {report.duration:.1f} s",
        outcome=report.outcome,
        drivers_due=due,
        drivers_polled=c.drivers_polled,
        requests=report.requests,
        new_results=c.new_races,
        results_fetched=c.subsessions_fetched,
        posts=c.posts_published,
        dedupe_skips=c.dedupe_skips,
        post_failures=c.post_failures,
        races_too_old=c.races_too_old,
        duration_seconds=round(report.duration, 3),
    )
