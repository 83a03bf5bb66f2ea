"""The live watcher's catch-up: races that ended while it was not watching, found by race.

A race that ended just before a start (or during a spell when the watcher was down) is in no
live list any more, and finding it by driver takes the sweep of every tracked driver (hours at
50,000). ``results/search_series`` lists the official races that finished in a range instead;
its rows name no driver, so each costs one ``results/get`` to learn whether a tracked driver was
in it. Results come out minutes after a race's end (reported; 1 to 6 min in the benchmark), so
the search is repeated for a while after the start. When there are more races to fetch than
tracked drivers, the sweep is the cheaper way and the catch-up stands aside. A failure costs
speed only: the per-driver sweep still runs and finds the same races.

The decisions are the pure functions here; ``CatchUp`` is the thin shell the watcher runs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from ir2dis_cog.iracing.errors import CircuitOpenError, MaintenanceError
from ir2dis_cog.iracing.models import Subsession
from ir2dis_cog.iracing.search_series import SeriesRace
from ir2dis_cog.observability.logging import log_event
from ir2dis_cog.observability.metrics import Metrics

from .ports import Clock

if TYPE_CHECKING:
    from .engine import PollEngine

log = logging.getLogger("red.ir2dis.poller.live")

CAP = 6 * 3600.0  # never searched further back than this (the watermarks bound what is posted anyway)
MARGIN = 1800.0  # before the newest settled race's finish: races the bot was still waiting on then
REPEAT = 120.0  # searched again this often...
FOR = 900.0  # ...for this long after it began: results come minutes after the end
AHEAD = 60.0  # the range's end is sent to the minute: a little ahead so the last minute is in it


@dataclass(frozen=True)
class Window:
    """One catch-up: races that finished from ``since``, searched from ``began`` until ``ends``."""

    since: float | None  # None: from the store's newest settled finish, found at the first search
    began: float
    next_at: float

    @property
    def ends(self) -> float:
        return self.began + FOR


def search_since(now: float, newest_finish: float | None) -> float:
    """Where a start's search begins: a margin before the newest race settled, at most CAP ago."""
    floor = now - CAP
    if newest_finish is None:
        return floor
    return max(floor, min(now, newest_finish - MARGIN))


def after_search(w: Window, now: float) -> Window | None:
    """The next search of this catch-up, or None once it is over."""
    nxt = now + REPEAT
    return Window(w.since, w.began, nxt) if nxt <= w.ends else None


def to_fetch(rows: Iterable[SeriesRace], settled: Callable[[int], bool]) -> list[int]:
    """The races of a search still to look at, oldest end first, each once."""
    seen: set[int] = set()
    out = []
    for r in sorted(rows, key=lambda r: (r.end_time, r.subsession_id)):
        if r.subsession_id not in seen and not settled(r.subsession_id):
            seen.add(r.subsession_id)
            out.append(r.subsession_id)
    return out


def sweep_is_cheaper(races: int, drivers: int) -> bool:
    """A results/get per race against a member_recent_races per driver the sweep asks anyway."""
    return races > drivers


class CatchUpSource(Protocol):
    async def search_series(self, begin: datetime, end: datetime) -> list[SeriesRace]: ...

    async def get_subsession(self, subsession_id: int) -> Subsession: ...


Found = Callable[[int, Subsession], None]  # the watcher posts it (in a task of its own)


class CatchUp:
    """Runs one catch-up window at a time; ``begin`` starts one, ``step`` does a search and its fetches."""

    def __init__(
        self,
        engine: PollEngine,
        metrics: Metrics,
        clock: Clock,
        request: Callable[[str], Awaitable[None]],
        failed: Callable[[str, Exception], None],
    ) -> None:
        self._engine = engine
        self._metrics = metrics
        self._clock = clock
        self._request = request  # counts a watcher request
        self._failed = failed  # logs a failed request, holds the pacer on a 429
        self._window: Window | None = None
        self._done: set[int] = set()  # races fetched (posted or without a tracked driver)
        self._running = False

    def begin(self, since: float | None) -> None:
        """Search races that finished from ``since`` (None: from the store's newest settled race)."""
        now = self._clock.now()
        w = self._window
        if w is not None:  # a window still open keeps its older start
            known = [t for t in (since, w.since) if t is not None]
            since = min(known) if known else None
        self._window = Window(since, now, now)

    @property
    def active(self) -> bool:
        return self._window is not None

    def next_at(self) -> float | None:
        return None if self._window is None or self._running else self._window.next_at

    def due(self, now: float) -> bool:
        w = self._window
        return w is not None and not self._running and now >= w.next_at

    def retry(self, subsession_id: int) -> None:
        """Its post failed: fetched again at the next search (the sweep finds it otherwise)."""
        self._done.discard(subsession_id)

    async def step(self, source: CatchUpSource, watched: Callable[[int], bool], found: Found) -> None:
        w = self._window
        if w is None or self._running:
            return
        self._running = True
        try:
            await self._search(source, w, watched, found)
        finally:
            self._running = False

    async def _search(self, source: CatchUpSource, w: Window, watched: Callable[[int], bool], found: Found) -> None:
        now = self._clock.now()
        since = w.since
        if since is None:
            since = search_since(now, await self._engine.newest_settled_finish())
            w = Window(since, w.began, w.next_at)
        self._window = after_search(w, now)
        try:
            async with self._engine.slot(urgent=True):
                await self._request("catchup_search")
                rows = await source.search_series(_utc(since), _utc(now + AHEAD))
        except Exception as exc:
            self._metrics.live_catchup_total.labels("search_failed").inc()
            self._failed("catchup_search", exc)
            self._ended_without(w, "the search failed")
            return
        self._metrics.live_catchup_total.labels("search").inc()
        todo = to_fetch(rows, lambda s: s in self._done or watched(s))
        if not todo:
            return
        drivers = len(await self._engine.tracked_drivers())
        if sweep_is_cheaper(len(todo), drivers):
            self._metrics.live_catchup_total.labels("skipped").inc()
            self._window = None
            log_event(
                log,
                "live_catchup_skipped",
                f"catch-up skipped: {len(todo)} races since {_utc(since):%H:%M} UTC to fetch against {drivers} "
                "tracked drivers; the per-driver sweep is cheaper",
                races=len(todo),
                drivers=drivers,
            )
            return
        log_event(
            log,
            "live_catchup",
            f"catch-up: {len(todo)} races finished since {_utc(since):%H:%M} UTC to look at",
            races=len(todo),
            drivers=drivers,
        )
        for sid in todo:
            try:
                async with self._engine.slot(urgent=True):
                    await self._request("catchup_results")
                    sub = await source.get_subsession(sid)
            except (MaintenanceError, CircuitOpenError) as exc:
                self._metrics.live_catchup_total.labels("results_failed").inc()
                self._failed("catchup_results", exc)
                break  # nothing gets through now; the rest at the next search
            except Exception as exc:
                # Not out yet, or failed: asked again at the next search, else the sweep finds it.
                self._metrics.live_catchup_total.labels("results_failed").inc()
                self._failed("catchup_results", exc)
                continue
            self._done.add(sid)
            if sub.cust_ids() & await self._engine.tracked_drivers(sub.cust_ids()):
                found(sid, sub)
            else:
                self._metrics.live_catchup_total.labels("no_tracked").inc()

    def _ended_without(self, w: Window, why: str) -> None:
        if self._window is None:
            log_event(
                log,
                "live_catchup_gave_up",
                f"catch-up over ({why}); races that ended before are left to the per-driver sweep",
                level=logging.WARNING,
                since=int(w.since) if w.since is not None else None,
            )


def _utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)
