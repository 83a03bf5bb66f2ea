"""Who is polled when, and how fast requests may go: activity-aware, inside iRacing's rate limit.

A driver who raced in the last day is polled every cycle; one idle for days less often, up to
``max_idle`` between polls, but only when the budget is tight: while every tracked driver fits in
a share of one cycle's budget (``spare_share``), everyone is polled every cycle, so a driver back
from a break is posted as fast as one who races daily. When the budget of a cycle cannot cover
every due driver, the most overdue go first, so nobody starves. The pacer spreads requests evenly
over the rate-limit window the client reports, so a steady state never sees a 429.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from .ports import Clock, RateBudgetLike

DAY = 86_400.0
DEFAULT_LIMIT = 240  # what iRacing announces today; used until the first answer says otherwise
DEFAULT_WINDOW = 60.0  # iRacing's window is one minute


# --- pure rules -----------------------------------------------------------------------------


def poll_period(idle_seconds: float | None, interval: float, max_idle: float) -> float:
    """Seconds between two polls of a driver whose last race started ``idle_seconds`` ago.

    Raced within a day: every cycle. Then one more interval per idle day, up to ``max_idle``.
    Never seen racing: ``max_idle``.
    """
    ceiling = max(interval, max_idle)
    if idle_seconds is None:
        return ceiling
    if idle_seconds <= DAY:
        return interval
    return min(ceiling, interval * (1 + idle_seconds // DAY))


@dataclass(frozen=True)
class DriverTiming:
    last_polled: float | None = None
    last_active: float | None = None


def overdue(timing: DriverTiming, now: float, interval: float, max_idle: float) -> float:
    """How due a driver is: 1.0 means due now, larger means waiting longer than its period.

    Half an interval of slack absorbs where in a cycle the previous poll happened; a driver
    never polled is infinitely due.
    """
    if timing.last_polled is None:
        return math.inf
    idle = None if timing.last_active is None else max(0.0, now - timing.last_active)
    period = poll_period(idle, interval, max_idle)
    return (now - timing.last_polled + interval / 2) / period


def pick_due(
    timings: Mapping[int, DriverTiming], now: float, interval: float, max_idle: float, capacity: int
) -> tuple[list[int], int]:
    """The drivers to poll this cycle, most overdue first, at most ``capacity``; and how many were left."""
    scored = [
        (score, timing.last_active or 0.0, cust_id)
        for cust_id, timing in timings.items()
        if (score := overdue(timing, now, interval, max_idle)) >= 1.0
    ]
    # Most overdue first; among equals (never polled) the most recently active first.
    scored.sort(key=lambda s: (-s[0], -s[1], s[2]))
    chosen = [cust_id for _, _, cust_id in scored[: max(0, capacity)]]
    return chosen, len(scored) - len(chosen)


def cycle_capacity(
    limit: int | None, interval: float, window: float, utilization: float, expected_subsessions: float
) -> int:
    """Driver polls one cycle may make: the budget of one interval, less what results/get will need."""
    per_cycle = (limit or DEFAULT_LIMIT) * interval / window * utilization
    reserve = max(math.ceil(per_cycle * 0.05), math.ceil(expected_subsessions * 1.5))
    return max(1, math.floor(per_cycle - reserve))


def pacing_delay(
    budget: RateBudgetLike | None,
    now: float,
    *,
    in_flight: int,
    last_start: float | None,
    blocked_until: float,
    window: float,
    reserve: int,
    margin: float,
) -> float:
    """Seconds to wait before the next request so the window's budget lasts until it resets.

    Requests are spaced evenly over what is left of the window (never a burst then a wall);
    requests still in flight count as spent, since their answers have not lowered
    ``remaining`` yet.
    """
    if blocked_until > now:
        return blocked_until - now
    limit = budget.limit if budget is not None else None
    remaining = budget.remaining if budget is not None else None
    reset_at = budget.reset_at if budget is not None else None
    if not limit or remaining is None or reset_at is None:
        return 0.0  # nothing known yet; the first answer tells us
    if now >= reset_at:
        # That window is over and the new one is full; keep an even pace through it.
        available, horizon = limit - reserve - in_flight, window
        if available <= 0:
            return window / limit
    else:
        available, horizon = remaining - reserve - in_flight, reset_at - now
        if available <= 0:
            return reset_at - now + margin
    if last_start is None:
        return 0.0
    return max(0.0, last_start + horizon / available - now)


# --- the stateful shell -----------------------------------------------------------------------


@dataclass(frozen=True)
class NetSchedule:
    """The safety net's periods while the live watcher is healthy, and the watcher's share.

    The watcher finds the races of active drivers, so the per-driver poll only has to catch what
    it misses: every driver about every ``interval`` (idle ones up to ``max_idle``), on what the
    watcher leaves of the budget (``other_per_window`` requests in each rate window).
    """

    interval: float = 3 * 3600.0
    max_idle: float = 6 * 3600.0
    other_per_window: float = 0.0


@dataclass(frozen=True)
class DueDrivers:
    due: tuple[int, ...]
    capacity: int
    deferred: int  # due but left for a later cycle (over budget)


class Scheduler:
    """Remembers when each driver was polled and last seen racing; picks who is due each cycle."""

    def __init__(
        self,
        *,
        interval: float,
        max_idle: float,
        window: float = DEFAULT_WINDOW,
        utilization: float = 0.9,
        spare_share: float = 0.5,
    ) -> None:
        self.interval = float(interval)
        self.spare_share = spare_share
        self.max_idle = float(max_idle)
        self.window = float(window)
        self.utilization = utilization
        self._polled: dict[int, float] = {}
        self._active: dict[int, float] = {}
        self._expected_subsessions = 0.0

    def due_now(
        self,
        cust_ids: Iterable[int],
        now: float,
        activity: Mapping[int, int],
        limit: int | None,
        net: NetSchedule | None = None,
    ) -> DueDrivers:
        tracked = set(cust_ids)
        # Forget drivers nobody tracks any more, so memory follows the tracked set.
        for gone in [c for c in self._polled if c not in tracked]:
            del self._polled[gone]
        for gone in [c for c in self._active if c not in tracked]:
            del self._active[gone]
        for cust_id, started_at in activity.items():
            if cust_id in tracked:
                self.saw_race(cust_id, started_at)
        timings = {c: DriverTiming(self._polled.get(c), self._active.get(c)) for c in tracked}
        capacity = cycle_capacity(limit, self.interval, self.window, self.utilization, self._expected_subsessions)
        if net is not None:
            # The live watcher is healthy: the per-driver poll is only its safety net.
            others = math.ceil(net.other_per_window * self.interval / self.window)
            capacity = max(1, capacity - others)
            due, deferred = pick_due(timings, now, max(self.interval, net.interval), net.max_idle, capacity)
            return DueDrivers(tuple(due), capacity, deferred)
        # Spare budget: waiting on idle drivers would save requests nobody needs.
        spare = len(tracked) <= capacity * self.spare_share
        max_idle = self.interval if spare else self.max_idle
        due, deferred = pick_due(timings, now, self.interval, max_idle, capacity)
        return DueDrivers(tuple(due), capacity, deferred)

    def adopt(self, other: Scheduler) -> None:
        """Take over what another scheduler learnt (settings changed, history kept)."""
        self._polled.update(other._polled)
        self._active.update(other._active)
        self._expected_subsessions = other._expected_subsessions

    def forget_poll(self, cust_id: int) -> None:
        """Poll this driver in the next cycle (tracking just started)."""
        self._polled.pop(cust_id, None)

    def polled(self, cust_id: int, at: float) -> None:
        self._polled[cust_id] = at

    def saw_race(self, cust_id: int, started_at: float) -> None:
        """A race of this driver was seen (its own list, or a fetched subsession): it is active."""
        if started_at > self._active.get(cust_id, -math.inf):
            self._active[cust_id] = float(started_at)

    def note_subsession_fetches(self, count: int) -> None:
        """Feed the results/get count of a cycle into the estimate the next budget reserves."""
        self._expected_subsessions = 0.7 * self._expected_subsessions + 0.3 * count


class _Gate:
    """A lock whose waiters go by rank, then in order of arrival: the live watcher's few,
    time-bound requests pass the safety net's bulk polls queued before them."""

    def __init__(self) -> None:
        self._held = False
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()

    async def acquire(self, rank: int) -> None:
        if not self._held and not self._waiting:
            self._held = True
            return
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (rank, next(self._arrivals), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # handed the gate just as it was cancelled: pass it on
            else:
                self._waiting = [w for w in self._waiting if w[2] is not future]
                heapq.heapify(self._waiting)
            raise

    def release(self) -> None:
        while self._waiting:
            _, _, future = heapq.heappop(self._waiting)
            if not future.done():
                future.set_result(None)  # the gate stays held, by the next waiter now
                return
        self._held = False


URGENT, BULK = 0, 1  # Pacer.slot ranks: the live watcher's requests, everything else


class Pacer:
    """Gates every iRacing request: at most one waits at a time, so the spacing holds.

    An urgent request (the live watcher's: a few a minute, each holding up a post) waits only
    for the request in front, not for the queue of per-driver polls.
    """

    def __init__(
        self,
        budget: Callable[[], RateBudgetLike | None],
        clock: Clock,
        *,
        window: float = DEFAULT_WINDOW,
        reserve: int = 2,
        margin: float = 1.0,
    ) -> None:
        self._budget = budget
        self._clock = clock
        self._window = window
        self._reserve = reserve
        self._margin = margin
        self._gate = _Gate()
        self._in_flight = 0
        self._last_start: float | None = None
        self._blocked_until = 0.0
        self.requests = 0

    def hold_until(self, when: float) -> None:
        """iRacing said the limit is spent (429): send nothing before ``when``."""
        self._blocked_until = max(self._blocked_until, when + self._margin)

    @asynccontextmanager
    async def slot(self, rank: int = BULK) -> AsyncIterator[None]:
        await self._gate.acquire(rank)
        try:
            while True:
                wait = pacing_delay(
                    self._budget(),
                    self._clock.now(),
                    in_flight=self._in_flight,
                    last_start=self._last_start,
                    blocked_until=self._blocked_until,
                    window=self._window,
                    reserve=self._reserve,
                    margin=self._margin,
                )
                if wait <= 0:
                    break
                await self._clock.sleep(wait)
            self._in_flight += 1
            self._last_start = self._clock.now()
            self.requests += 1
        finally:
            self._gate.release()
        try:
            yield
        finally:
            self._in_flight -= 1
