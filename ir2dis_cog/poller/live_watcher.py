"""The live watcher: finds races, not drivers, so the cost of detection grows with races.

Every ``LIVE_POLL_SECONDS`` it reads iRacing's list of live official races, reads the roster of
each race it has not seen (once), keeps the races with a tracked driver, and once a kept race has
left the list asks ``results/get`` until its results are out; then the engine posts it through
its usual pipeline (``PollEngine.deliver_found``). Its requests go through the engine's pacer.

What it watches is rebuilt from the live list at start, not stored: a race still running at a
restart is in the list again. One that ended just before the start (or while the watcher was
degraded) is in no list: the catch-up (``live_catchup``) finds it by race in
``results/search_series`` for the first minutes, and the first poll cycles, which ask every
driver after a start, remain the safety net. The decisions are in ``live_rules``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, Protocol, cast

from ir2dis_cog.core.status_text import LiveWatchView
from ir2dis_cog.iracing.errors import (
    CircuitOpenError,
    IRacingError,
    MaintenanceError,
    NotFoundError,
    RateLimitedError,
)
from ir2dis_cog.iracing.live import LiveRace, RosterEntry
from ir2dis_cog.iracing.models import Subsession
from ir2dis_cog.iracing.ratelimit import WATCHER
from ir2dis_cog.observability.logging import log_event
from ir2dis_cog.observability.metrics import Metrics

from .live_catchup import MARGIN, CatchUp, CatchUpSource
from .live_rules import (
    DAY,
    Health,
    HealthFacts,
    Watch,
    assess,
    miss_of,
    next_results_at,
    on_live_list,
    on_results,
    on_roster,
    on_roster_failed,
    results_due,
    watched_now,
)
from .owed import LEASE, ROSTER
from .ports import Clock

if TYPE_CHECKING:
    from .engine import PollEngine

log = logging.getLogger("red.ir2dis.poller.live")

LOAD_WINDOW = 600.0  # the watcher's request rate is averaged over this many seconds
WORKERS = 4  # roster reads in flight at once (the pacer spaces them anyway)
OWED_EVERY = 30.0  # the races owed (any process's) are looked at this often from the watcher's ticks


class LiveSource(Protocol):
    """The part of the iRacing client the watcher uses."""

    async def get_live_races(self) -> list[LiveRace]: ...

    async def get_roster(self, subsession_id: int) -> list[RosterEntry]: ...

    async def get_subsession(self, subsession_id: int) -> Subsession: ...


# Told of each new race with tracked drivers on its roster, once (poller/on_track.py): the race, the
# live list it came in, its roster and the tracked drivers on it. Must not block (it starts a task).
OnTrack = Callable[[LiveRace, Sequence[LiveRace], Sequence[RosterEntry], frozenset[int]], None]


# What the status command and /health show (plain data, defined with the status text).
WatcherStatus = LiveWatchView
WATCHER_OFF = WatcherStatus("off")


def _plain(exc: Exception) -> str:
    """A failure in words for the status line; never the exception's own text."""
    if isinstance(exc, MaintenanceError):
        return "iRacing maintenance"
    if isinstance(exc, RateLimitedError):
        return "rate limited"
    if isinstance(exc, CircuitOpenError):
        return "iRacing logins paused"
    return type(exc).__name__


def watcher_lane(source: object) -> AbstractContextManager[None]:
    """The client counts the watcher's requests apart from the poller's (same engine budget); a
    test's source may have no lanes."""
    lane = getattr(source, "lane", None)
    return cast(AbstractContextManager[None], lane(WATCHER)) if callable(lane) else nullcontext()


class LiveWatcher:
    def __init__(
        self,
        engine: PollEngine,
        metrics: Metrics,
        clock: Clock,
        *,
        poll_seconds: int = 60,
        on_track: OnTrack | None = None,
    ) -> None:
        self._engine = engine
        self._on_track = on_track
        self._listed: dict[int, LiveRace] = {}  # the last live list, for the on-track hook
        self._metrics = metrics
        self._clock = clock
        self._period = float(poll_seconds)
        self._watches: dict[int, Watch] = {}
        self._next_list = 0.0
        self._last_list_at: float | None = None
        self._last_error: str | None = None
        self._last_races = 0
        self._roster_failures = 0
        self._miss_times: deque[float] = deque()
        self._caught_times: deque[float] = deque()  # when the catch-up found a race (status)
        self._missed: set[int] = set()
        self._requests: deque[float] = deque()
        # Spells when the watcher was not trusted (the engine polled as always): a race that
        # started then is no miss of the watcher's. The first lasts until the first good list.
        self._unwatched: list[tuple[float, float]] = [(-math.inf, math.inf)]
        self._health = Health(False, "no live list yet")
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._ticking: asyncio.Event | None = None  # set while no tick runs
        # Posts of found races run beside the ticks: a race for hundreds of servers must not hold
        # up the next live list or the other races' results.
        self._deliveries: set[asyncio.Task[None]] = set()
        # Races that ended while nobody watched, found by race once the watcher is healthy.
        self._catchup = CatchUp(engine, metrics, clock, self._request, self._failed)
        # Since when requests or the store failed: once a tick goes through again, the catch-up
        # searches what ended meanwhile, whatever the watcher's health.
        self._trouble_since: float | None = None
        self._troubled_tick = False
        self._next_owed = 0.0
        engine.attach_live(self)

    def start(self, before: Callable[[], Awaitable[None]] | None = None) -> None:
        """Run the loop in a task of its own (``before``: what to wait for first, e.g. Red ready)."""

        async def main() -> None:
            if before is not None:
                await before()
            await self.run()

        if self._task is None:
            self._task = asyncio.create_task(main())

    async def stop(self, grace: float = 20.0) -> None:
        """End the loop between ticks: a post in flight is finished, not cut between send and record."""
        task, self._task = self._task, None
        self.detach()
        if task is None:
            return
        self._stopping = True
        if self._ticking is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(grace):
                    await self._ticking.wait()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if self._deliveries:
            _, late = await asyncio.wait(self._deliveries, timeout=grace)
            for cut in late:
                cut.cancel()  # the outbox settles a claim left without its message at the next start

    def set_period(self, poll_seconds: int) -> None:
        self._period = float(poll_seconds)
        self._next_list = min(self._next_list, self._clock.now() + self._period)

    def detach(self) -> None:
        """Watching stops (LIVE_WATCH off): the engine goes back to polling every driver."""
        self._engine.attach_live(None)

    # --- what the engine asks ----------------------------------------------------------------------

    def healthy(self) -> bool:
        return self._health.healthy

    def requests_per_window(self) -> float:
        """The watcher's own requests per minute, lately: the budget the safety net leaves it."""
        self._trim(self._clock.now())
        return len(self._requests) * 60.0 / LOAD_WINDOW

    def found_by_safety_net(self, subsession_id: int, started_at: int) -> None:
        """The per-driver poll found this race to post: counted and logged if the watcher missed it."""
        if subsession_id in self._missed:
            return
        now = self._clock.now()
        miss = miss_of(self._watches.get(subsession_id), started_at, self._unwatched)
        if miss is None:
            return
        self._missed.add(subsession_id)
        self._miss_times.append(now)
        self._metrics.live_misses_total.labels(miss.code).inc()
        log_event(
            log,
            "live_miss",
            f"the live watcher missed subsession {subsession_id} ({miss.reason}); the safety net posts it",
            level=logging.WARNING,
            subsession_id=subsession_id,
            reason=miss.code,
        )
        self._reassess(now)

    def status(self) -> WatcherStatus:
        now = self._clock.now()
        self._trim(now)
        return WatcherStatus(
            "healthy" if self._health.healthy else "degraded",
            self._health.reason,
            self._last_list_at,
            self._last_races,
            watched_now(self._watches),
            len(self._miss_times),
            len(self._caught_times),
            self._catchup.active,
        )

    # --- the loop ----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Tick until cancelled; an unexpected error is logged and the next tick tries again."""
        while not self._stopping:
            self._ticking = asyncio.Event()
            try:
                await self.tick(settle=False)
            except Exception:
                log.exception("the live watcher failed a tick; trying again")
                self._metrics.poll_errors_total.labels("live_watcher").inc()
                self._next_list = max(self._next_list, self._clock.now() + self._period)
            finally:
                self._ticking.set()
            await self._clock.sleep(self.next_wake() - self._clock.now())

    def next_wake(self) -> float:
        results = next_results_at(self._watches)
        catchup = self._catchup.next_at()
        return min(
            self._next_list,
            results if results is not None else math.inf,
            catchup if catchup is not None else math.inf,
        )

    async def tick(self, *, settle: bool = True) -> None:
        """Read the live list when it is due, then ask for the results that are due; the races
        found are posted in tasks of their own, waited for here unless ``settle`` is False."""
        with self._lane():
            self._troubled_tick = False
            try:
                if self._clock.now() >= self._next_list:
                    self._next_list = self._clock.now() + self._period
                    await self._read_list()
                await self._read_results()
            except Exception:
                self._troubled()  # e.g. the store failing under a roster: caught up on once it answers
                raise
            self._reassess(self._clock.now())
            self._after_trouble()
            if self._clock.now() >= self._next_owed:
                self._next_owed = self._clock.now() + OWED_EVERY
                self._spawn(self._run_owed())
            if self._catchup.due(self._clock.now()):
                # In a task of its own (tens of results/get): the next live list does not wait for it.
                self._spawn(self._catchup.step(cast(CatchUpSource, self._source()), self._watched, self._caught))
        if settle:
            await self.settle()

    async def _run_owed(self) -> None:
        await self._engine.run_owed()

    def _troubled(self) -> None:
        self._troubled_tick = True
        if self._trouble_since is None:
            self._trouble_since = self._clock.now()

    def _after_trouble(self) -> None:
        """A tick that went through after a spell of failures: search what ended meanwhile."""
        since = self._trouble_since
        if since is None or self._troubled_tick or self._last_error is not None or self._last_list_at is None:
            return
        if self._engine.store_failing_since() is not None:
            # A tick may go through without the database; a catch-up now would find races it
            # cannot write down, and its next search is minutes away. Wait until the store answers.
            return
        self._trouble_since = None
        self._catchup.begin(since - MARGIN)
        log_event(
            log,
            "live_catchup_after_failures",
            "requests go through again after a spell of failures; catching up on races that ended meanwhile",
            failing_seconds=round(self._clock.now() - since),
        )

    async def settle(self) -> None:
        """Wait until the posts of every race found so far are done."""
        while self._deliveries:
            await asyncio.gather(*self._deliveries)

    def _lane(self) -> AbstractContextManager[None]:
        return watcher_lane(self._engine.source)

    # --- the steps ---------------------------------------------------------------------------------

    def _source(self) -> LiveSource:
        # The engine's current client (new credentials replace it); the iRacing client is one.
        return cast(LiveSource, self._engine.source)

    async def _request(self, kind: str) -> None:
        self._requests.append(self._clock.now())
        self._metrics.live_requests_total.labels(kind).inc()

    async def _read_list(self) -> None:
        source = self._source()
        try:
            async with self._engine.slot(urgent=True):
                await self._request("live_list")
                races = await source.get_live_races()
        except Exception as exc:
            self._last_error = _plain(exc)
            self._failed("live_list", exc)
            return
        self._engine.note_iracing(None)
        now = self._clock.now()
        self._last_list_at, self._last_error, self._last_races = now, None, len(races)
        step = on_live_list(self._watches, races, now)
        self._watches = step.watches
        self._listed = {r.subsession_id: r for r in races}
        if step.rosters:
            await self._read_rosters(step.rosters)
        # Races this watcher has in hand are left to it; were it to die, any process asks for them.
        held = [sid for sid, w in self._watches.items() if w.phase in ("live", "awaiting")]
        await self._engine.hold_owed(held, self._hold())
        self._metrics.live_races_watched.set(watched_now(self._watches))

    def _hold(self) -> float:
        return max(5 * self._period, float(LEASE))

    async def _read_rosters(self, subsession_ids: Iterable[int]) -> None:
        queue = list(subsession_ids)
        queue.reverse()  # pop() from the end keeps the oldest start first

        async def worker() -> None:
            while queue:
                await self._roster(queue.pop())

        await asyncio.gather(*(worker() for _ in range(WORKERS)))

    async def _roster(self, subsession_id: int) -> None:
        source = self._source()
        try:
            async with self._engine.slot(urgent=True):
                await self._request("roster")
                entries = await source.get_roster(subsession_id)
        except Exception as exc:
            self._roster_failures += 1
            self._watches[subsession_id] = on_roster_failed(self._watches[subsession_id])
            self._failed("roster", exc, subsession_id=subsession_id)
            return
        self._roster_failures = 0
        # Who of this field is tracked: a query on its few drivers (not all tracking, per roster).
        tracked = await self._engine.tracked_drivers(e.cust_id for e in entries) if entries else frozenset()
        w = on_roster(self._watches[subsession_id], (e.cust_id for e in entries), tracked, self._clock.now())
        self._watches[subsession_id] = w
        if w.phase == "live":
            # A race found is a race owed: written down now, asked for by anyone if this process dies.
            await self._engine.owe(subsession_id, int(w.started_at), ROSTER, hold=self._hold())
        race = self._listed.get(subsession_id)
        if self._on_track is not None and w.phase == "live" and race is not None:
            try:
                self._on_track(race, list(self._listed.values()), entries, w.drivers)
            except Exception:
                log.exception("the on-track hook failed", extra={"subsession_id": subsession_id})

    async def _read_results(self) -> None:
        for sid in results_due(self._watches, self._clock.now()):
            try:
                async with self._engine.slot(urgent=True):
                    await self._request("results")
                    sub: Subsession | None = await self._source().get_subsession(sid)
            except NotFoundError:
                sub = None  # not out yet
            except (MaintenanceError, CircuitOpenError) as exc:
                self._failed("results", exc, subsession_id=sid)
                return  # nothing gets through now; the same races are due next tick
            except Exception as exc:
                self._failed("results", exc, subsession_id=sid)
                sub = None
            await self._results(sid, sub)

    async def _results(self, sid: int, sub: Subsession | None) -> None:
        now = self._clock.now()
        before = self._watches[sid]
        after = on_results(before, sub is not None, now)
        self._watches[sid] = after
        if after.phase == "given_up":
            # No longer in this watcher's hand: the races owed ask on with backoff (any process).
            await self._engine.owe(sid, int(after.started_at), "live")
            log_event(
                log,
                "live_gave_up",
                f"no results for subsession {sid} two hours after its end; asked again with backoff",
                level=logging.WARNING,
                subsession_id=sid,
                tries=after.tries,
            )
        if sub is None:
            return
        self._spawn(self._deliver(sid, sub, before, now))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run beside the ticks; the task keeps this context, so its requests (the lap chart, the
        catch-up's) stay in the watcher's lane."""
        task = asyncio.create_task(work)
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    def _watched(self, subsession_id: int) -> bool:
        """The watcher has this race from the live list already (posted, waiting or not ours)."""
        w = self._watches.get(subsession_id)
        return w is not None and w.phase in ("live", "awaiting", "done", "ignored")

    def _caught(self, sid: int, sub: Subsession) -> None:
        self._spawn(self._deliver_caught(sid, sub))

    async def _deliver_caught(self, sid: int, sub: Subsession) -> None:
        try:
            servers = await self._engine.deliver_found(sub, found_by="catchup")
        except Exception:
            self._troubled()
            log.exception("could not post a race the catch-up found", extra={"subsession_id": sid})
            self._metrics.poll_errors_total.labels("live_deliver").inc()
            self._catchup.retry(sid)
            return
        self._metrics.live_catchup_total.labels("found").inc()
        self._caught_times.append(self._clock.now())
        log_event(
            log,
            "live_catchup_found",
            f"the live watcher's catch-up found subsession {sid}; settled for {servers} servers",
            subsession_id=sid,
            servers=servers,
        )

    async def _deliver(self, sid: int, sub: Subsession, before: Watch, now: float) -> None:
        try:
            servers = await self._engine.deliver_found(sub)
        except Exception:
            # It is owed (written down, or kept in memory while the store fails): asked again here
            # after the usual wait, and by the races owed of any process.
            self._troubled()
            log.exception("could not post a race the live watcher found", extra={"subsession_id": sid})
            self._metrics.poll_errors_total.labels("live_deliver").inc()
            self._watches[sid] = on_results(before, False, now)  # asked again after the usual wait
            return
        self._metrics.live_races_found_total.inc()
        # Tells, in the log, that the watcher and not the per-driver poll found this race.
        log_event(
            log,
            "live_found",
            f"the live watcher found subsession {sid}; settled for {servers} servers",
            subsession_id=sid,
            servers=servers,
        )

    # --- bookkeeping -------------------------------------------------------------------------------

    def _failed(self, kind: str, exc: Exception, **ids: int) -> None:
        self._engine.note_iracing(exc)
        if not isinstance(exc, NotFoundError):  # results not out yet is no failure
            self._troubled()
        if isinstance(exc, RateLimitedError):
            self._engine.hold_until(exc.reset_at)
        label = kind if isinstance(exc, IRacingError) else "unexpected"
        self._metrics.poll_errors_total.labels(f"live_{label}").inc()
        log.warning(
            "live watcher request failed",
            exc_info=not isinstance(exc, IRacingError),
            extra={"kind": kind, "error": type(exc).__name__, **ids},
        )

    def _trim(self, now: float) -> None:
        while self._requests and now - self._requests[0] > LOAD_WINDOW:
            self._requests.popleft()
        while self._miss_times and now - self._miss_times[0] > DAY:
            self._miss_times.popleft()
        while self._caught_times and now - self._caught_times[0] > DAY:
            self._caught_times.popleft()
        if len(self._missed) > 10_000:
            self._missed.clear()  # only guards against counting one race twice within a cycle or two

    def _reassess(self, now: float) -> None:
        self._trim(now)
        health = assess(
            HealthFacts(
                now=now,
                period=self._period,
                last_list_at=self._last_list_at,
                last_list_error=self._last_error,
                last_list_races=self._last_races,
                roster_failures=self._roster_failures,
                miss_times=tuple(self._miss_times),
            )
        )
        if health.healthy != self._health.healthy:
            if health.healthy:
                since, _ = self._unwatched[-1]
                self._unwatched[-1] = (since, now)
                # What ended while nobody watched: from the store's newest race after a start.
                self._catchup.begin(since - MARGIN if math.isfinite(since) else None)
                log_event(log, "live_watcher_healthy", "live watcher healthy: the per-driver poll is its safety net")
            else:
                self._unwatched.append((now, math.inf))
                log_event(
                    log,
                    "live_watcher_degraded",
                    f"live watcher degraded ({health.reason}); every driver is polled as usual until it recovers",
                    level=logging.WARNING,
                    reason=health.reason,
                )
            self._unwatched = [(a, b) for a, b in self._unwatched if b > now - DAY]
            self._metrics.live_watcher_healthy.set(1 if health.healthy else 0)
        self._health = health
