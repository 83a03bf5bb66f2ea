"""Season schedules for the on-track notice's series and track: one request per season, kept a day.

The live list gives a race's season and week; ``series/season_schedule`` names the series and each
week's track. A season lasts 12 weeks and its schedule does not change within a day, so one answer
per season serves every race of it for ``KEEP`` seconds; races of one season that go live together
share one request. It is asked only when some server is about to get a notice (``OnTrackNotices``
asks it after the cheap checks), through the engine's pacer in the live watcher's lane.

A failing or malformed answer is logged and counted, and the notice goes out without names; the
season is asked again after ``RETRY_AFTER`` rather than at every race.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast

from ir2dis_cog.iracing.errors import IRacingError, RateLimitedError
from ir2dis_cog.iracing.schedule import RaceWeek, SeasonSchedule
from ir2dis_cog.observability.metrics import Metrics

from .live_watcher import watcher_lane
from .ports import Clock

if TYPE_CHECKING:
    from .engine import PollEngine

log = logging.getLogger("red.ir2dis.poller.live")

KEEP = 86_400.0  # a season's schedule is asked at most once a day
RETRY_AFTER = 900.0  # after a failure: a bad answer costs one request per season a quarter-hour


class ScheduleSource(Protocol):
    async def get_season_schedule(self, season_id: int) -> SeasonSchedule: ...


@dataclass(frozen=True, slots=True)
class _Kept:
    schedule: SeasonSchedule | None  # None: the last ask failed
    until: float


class SeasonSchedules:
    def __init__(
        self,
        engine: PollEngine,
        metrics: Metrics,
        clock: Clock,
        *,
        keep: float = KEEP,
        retry_after: float = RETRY_AFTER,
    ) -> None:
        self._engine = engine
        self._metrics = metrics
        self._clock = clock
        self._keep = keep
        self._retry_after = retry_after
        self._kept: dict[int, _Kept] = {}
        self._asking: dict[int, asyncio.Task[SeasonSchedule | None]] = {}

    async def week(self, season_id: int | None, race_week_num: int | None) -> RaceWeek | None:
        """The week's series and track, or None (unknown week, or no schedule to be had now)."""
        if season_id is None or race_week_num is None:
            return None
        schedule = await self.schedule(season_id)
        found = schedule.week(race_week_num) if schedule is not None else None
        if schedule is not None and found is None:
            log.info("week not in its season's schedule", extra={"season_id": season_id, "week": race_week_num})
        return found

    async def schedule(self, season_id: int) -> SeasonSchedule | None:
        kept = self._kept.get(season_id)
        if kept is not None and kept.until > self._clock.now():
            return kept.schedule
        task = self._asking.get(season_id)
        if task is None:
            task = asyncio.create_task(self._ask(season_id))
            self._asking[season_id] = task
            task.add_done_callback(lambda _: self._asking.pop(season_id, None))
        # Shielded: a notice that is cancelled must not cancel the answer the others wait for.
        return await asyncio.shield(task)

    async def _ask(self, season_id: int) -> SeasonSchedule | None:
        source = self._engine.source
        try:
            with watcher_lane(source):
                async with self._engine.slot(urgent=True):
                    self._metrics.live_requests_total.labels("schedule").inc()
                    schedule = await cast(ScheduleSource, source).get_season_schedule(season_id)
            if schedule.season_id != season_id:
                raise IRacingError(f"asked for season {season_id}, got season {schedule.season_id}")
        except Exception as exc:
            if isinstance(exc, RateLimitedError):
                self._engine.hold_until(exc.reset_at)
            self._metrics.poll_errors_total.labels("live_schedule").inc()
            log.warning(
                "season schedule not read; the on-track notice goes without series and track",
                exc_info=not isinstance(exc, IRacingError),
                extra={"season_id": season_id, "error": type(exc).__name__},
            )
            self._remember(season_id, None, self._retry_after)
            return None
        self._remember(season_id, schedule, self._keep)
        return schedule

    def _remember(self, season_id: int, schedule: SeasonSchedule | None, seconds: float) -> None:
        now = self._clock.now()
        self._kept = {s: k for s, k in self._kept.items() if k.until > now}
        self._kept[season_id] = _Kept(schedule, now + seconds)
