"""The poll cycle: due drivers -> recent races -> new subsessions -> results -> cards -> the outbox.

The imperative shell around ``detection`` and ``scheduler``; posting and settling after a crash
are the ``outbox``'s, what a cycle tells is the ``report``'s. Each race reaches each server once:
the outbox claim decides between processes, and the watermark of a (guild, driver) pair only
moves past races that are settled.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import Protocol

from ir2dis_cog.config.settings import Settings
from ir2dis_cog.core.cards import RaceCard, build_card
from ir2dis_cog.core.records import PendingPost, PendingRace
from ir2dis_cog.core.tracking import RaceRef, baseline_mark
from ir2dis_cog.iracing.errors import (
    CircuitOpenError,
    IRacingError,
    MaintenanceError,
    NotFoundError,
    ParseError,
    RateLimitedError,
)
from ir2dis_cog.iracing.lap_chart import LapChart
from ir2dis_cog.iracing.models import RecentRace, Subsession
from ir2dis_cog.observability.logging import log_event
from ir2dis_cog.observability.metrics import Metrics
from ir2dis_cog.render.image_card import ImageCard, build_image_card, fit_for_storage, race_kind
from ir2dis_cog.store import Store

from .choices import ServerRoutes
from .cycle_state import CycleState, Fetch
from .detection import (
    PairPlan,
    age,
    also_new_for,
    card_audience,
    channel_tracking,
    finish_time,
    late_candidates,
    owed_for,
    plan_pair,
    watermark_target,
)
from .outbox import CardLoader, Outbox
from .owed import Owed
from .ports import Clock, Publisher, Renderer, ResultsSource, SystemClock
from .report import NO_CYCLE_YET, CycleReport, EngineStatus, Outcome, frozen_counts, log_cycle, status_after
from .scheduler import BULK, DEFAULT_LIMIT, DEFAULT_WINDOW, URGENT, NetSchedule, Pacer, Scheduler
from .work_share import WorkShare

log = logging.getLogger("red.ir2dis.poller")


class CardBuilder(Protocol):
    """``core.cards.build_card``: ``whole_field`` when the server follows the race's league."""

    def __call__(
        self, subsession: Subsession, tracked: Mapping[int, str], timezone: str, *, whole_field: bool = False
    ) -> RaceCard: ...


_FINISH_MEMORY = 20_000  # subsession -> when it finished, for watermarks of races not fetched again


class LiveView(Protocol):
    """What the engine asks of the live watcher (``live_watcher.LiveWatcher``)."""

    def healthy(self) -> bool: ...

    def requests_per_window(self) -> float: ...

    def found_by_safety_net(self, subsession_id: int, started_at: int) -> None: ...


class UnofficialHook(Protocol):
    """Hosted and league races, checked once per cycle (``unofficial.UnofficialRaces``)."""

    async def run_once(self) -> None: ...


class PollEngine:
    def __init__(
        self,
        store: Store,
        source: ResultsSource,
        publisher: Publisher,
        settings: Settings,
        metrics: Metrics,
        clock: Clock | None = None,
        *,
        process: str | None = None,
        instance: str | None = None,
        lease_seconds: int = 300,
        rate_window: float = DEFAULT_WINDOW,
        spare_share: float = 0.5,
        build_card: CardBuilder = build_card,
        load_card: CardLoader = RaceCard.from_json,
        renderer: Renderer | None = None,
        work: WorkShare | None = None,
    ) -> None:
        self._store = store
        self._work = work  # several processes on one database: this one polls its share
        self._source = source
        self._metrics = metrics
        self._clock: Clock = clock or SystemClock()
        # ``instance`` names the data folder this process runs on (stable across restarts): with it,
        # a restart settles what its dead predecessor claimed without waiting out the lease.
        self._instance = instance
        process = process or uuid.uuid4().hex[:12]
        claim_holder = f"{instance}:{process}" if instance else process
        self._rate_window = rate_window
        self._spare_share = spare_share
        self._build_card = build_card
        self._settings = settings
        self._scheduler = self._new_scheduler(settings)
        self._pacer = self._new_pacer(settings)
        self._outbox = Outbox(
            store,
            publisher,
            metrics,
            self._clock,
            lambda: self._settings,
            claim_holder=claim_holder,
            lease_seconds=lease_seconds,
            load_card=load_card,
            renderer=renderer,
        )
        # Each server's filters, routes, copies and pings (poller/choices.py).
        self._routes = ServerRoutes(
            store, publisher, self._outbox, metrics, self._clock, lambda: self._settings, lease_seconds=lease_seconds
        )
        self._finished: OrderedDict[int, int] = OrderedDict()
        self._cycle_lock = asyncio.Lock()
        self._status = NO_CYCLE_YET
        self._live: LiveView | None = None
        self._unofficial: UnofficialHook | None = None
        # Races found and owed (pending_race), asked for again with backoff until settled.
        self._owed = Owed(store, metrics, self._clock)
        self._owed_lock = asyncio.Lock()
        # The last iRacing answers were maintenance (the poll's or the live watcher's).
        self._maintenance = False

    # --- wiring ----------------------------------------------------------------------------------

    def _new_scheduler(self, settings: Settings) -> Scheduler:
        return Scheduler(
            interval=settings.poll_interval_seconds,
            max_idle=settings.max_idle_poll_minutes * 60,
            window=self._rate_window,
            spare_share=self._spare_share,
        )

    def _new_pacer(self, settings: Settings) -> Pacer:
        # Keep more in reserve than the client does, so its own limiter never has to hold.
        return Pacer(
            lambda: self._source.budget, self._clock, window=self._rate_window, reserve=settings.iracing_concurrency + 2
        )

    def replace_source(self, source: ResultsSource, settings: Settings) -> None:
        """New credentials: a new client (and maybe a new interval); what was learnt is kept."""
        self._source = source
        if (settings.poll_interval_seconds, settings.max_idle_poll_minutes) != (
            self._settings.poll_interval_seconds,
            self._settings.max_idle_poll_minutes,
        ):
            old = self._scheduler
            self._scheduler = self._new_scheduler(settings)
            self._scheduler.adopt(old)
        self._settings = settings
        self._pacer = self._new_pacer(settings)

    def notice_tracked(self, cust_id: int) -> None:
        """A server just started tracking this driver: poll them in the next cycle."""
        self._scheduler.forget_poll(cust_id)

    def status(self) -> EngineStatus:
        return replace(self._status, maintenance=self._maintenance)

    def note_iracing(self, exc: BaseException | None) -> None:
        """An iRacing answer (None: a good one): /health says maintenance while the last ones were."""
        if exc is None:
            self._maintenance = False
        elif isinstance(exc, MaintenanceError):
            self._maintenance = True

    def store_failing_since(self) -> float | None:
        """Since when races found could not be written to the database (None: it answers)."""
        return self._owed.store_failing_since

    def store_unreachable(self) -> float:
        """Someone found the database down (a command): since when it fails, from now if nobody knew."""
        self._owed.note_store(False)
        since = self._owed.store_failing_since
        return self._clock.now() if since is None else since

    @property
    def claim_holder(self) -> str:
        return self._outbox.claim_holder

    def _now(self) -> int:
        return int(self._clock.now())

    # --- entry points ------------------------------------------------------------------------------

    async def resolve_unfinished(self) -> int:
        """At start: settle claims left without a message id (a crash) before anything new is posted."""
        async with self._cycle_lock:
            if self._instance:
                released = await self._store.posts.release_earlier_lives(self._instance, self.claim_holder)
                # ...and its copies in other channels (the podium channel), settled by the same drain.
                released += await self._store.copies.release_earlier_lives(self._instance, self.claim_holder)
                if released:
                    log_event(
                        log,
                        "claims_released",
                        f"settling {released} posts left unfinished by the previous run",
                        released=released,
                    )
            cycle = await self._open_cycle()
            await self._outbox.drain(cycle)
            c = cycle.counts
            return c.posts_published + c.dedupe_skips + c.posts_dropped

    async def run_cycle(self) -> CycleReport:
        try:
            report = await self._run_cycle()
        except Exception:
            if not await self._store.ping():
                self._owed.note_store(False)  # /iracing status tells since when
            raise
        self._owed.note_store(True)
        return report

    async def _run_cycle(self) -> CycleReport:
        async with self._cycle_lock:
            started = self._clock.now()
            wall = time.perf_counter()
            requests_before = self._pacer.requests
            cycle = await self._open_cycle()
            outcome: Outcome = "ok"
            due_count = deferred = 0
            try:
                await self._outbox.drain(cycle)
                await self.run_owed()
                cycle.owed_at_start = await self._owed.snapshot()
                activity = await self._store.last_seen.latest_activity()
                budget = self._source.budget
                net = self._net_schedule()
                mine, limit = await self._my_share(cycle, budget.limit)
                due = self._scheduler.due_now(mine, started, activity, limit, net)
                due_count, deferred = len(due.due), due.deferred
                if due.due:
                    cycle.marks = await self._store.last_seen.for_cust_ids(due.due)
                    cycle.tracked_since = await self._store.drivers.tracked_since(due.due)
                    await self._poll_all(cycle, due.due)
                else:
                    outcome = "idle"
                if self._unofficial is not None and cycle.aborted is None:
                    await self._unofficial.run_once()  # hosted and league races (poller/unofficial.py)
                await self._settle(cycle)
                if cycle.aborted:
                    outcome = cycle.aborted
            finally:
                # Only reached with tasks left when the cycle itself was cancelled.
                for task in [*cycle.fetches.values(), *cycle.posts.values(), *cycle.names.values()]:
                    task.cancel()
            self._scheduler.note_subsession_fetches(cycle.counts.subsessions_fetched)
            report = self._finish(cycle, started, outcome, due_count, deferred, self._pacer.requests - requests_before)
            self._metrics.cycle_duration_seconds.observe(time.perf_counter() - wall)
            return report

    async def _my_share(self, cycle: CycleState, limit: int | None) -> tuple[frozenset[int], int | None]:
        """The drivers this process polls, and the part of the rate limit it plans on."""
        tracked = frozenset(cycle.tracking)
        if self._work is None:
            return tracked, limit
        try:
            await self._work.beat()
        except Exception:
            log.warning("could not refresh the work lease; keeping the last view", exc_info=True)
        share = self._work.budget_share()
        return self._work.mine(tracked), max(1, int((limit or DEFAULT_LIMIT) * share))

    @property
    def work(self) -> WorkShare | None:
        return self._work

    # --- the live watcher's side -----------------------------------------------------------------

    def attach_live(self, live: LiveView | None) -> None:
        """The live watcher reports here; while it is healthy the per-driver poll is its safety net."""
        self._live = live

    def _net_schedule(self) -> NetSchedule | None:
        live = self._live
        if live is None or not live.healthy():
            return None
        return NetSchedule(other_per_window=live.requests_per_window())

    @property
    def source(self) -> ResultsSource:
        return self._source

    def slot(self, *, urgent: bool = False) -> AbstractAsyncContextManager[None]:
        """One iRacing request through the engine's pacer (the watcher shares the budget); an
        urgent one (the live watcher's) is let through before the queued per-driver polls."""
        return self._pacer.slot(URGENT if urgent else BULK)

    def hold_until(self, when: float) -> None:
        self._pacer.hold_until(when)

    async def tracked_drivers(self, among: Iterable[int] | None = None) -> frozenset[int]:
        """Drivers tracked by a server with a results channel (the only ones worth a post); with
        ``among``, only those of them (one roster), which costs a query on those alone."""
        tracking = await self._store.drivers.active_tracking(among)
        guild_ids = {g for gs in tracking.values() for g in gs}
        guilds = await self._store.guilds.get_many(guild_ids) if guild_ids else {}
        return frozenset(channel_tracking(tracking, guilds))

    async def newest_settled_finish(self) -> int | None:
        """When the newest race any (server, driver) pair moved past finished (the watcher's
        catch-up searches from about then after a start)."""
        return await self._store.last_seen.newest_finish()

    async def deliver_found(self, sub: Subsession, *, found_by: str = "live") -> int:
        """A race the live watcher (or its catch-up) found, through the cycle's own pipeline: one
        card per server naming every driver it tracks in the race, claimed in the outbox, then the
        watermarks of those pairs moved past it, so the safety net neither posts it again nor
        counts a miss. It is written down as owed first (in memory while the store fails), so a
        failure here delays it and loses nothing: ``run_owed`` asks again. Returns the servers
        for which it is settled."""
        await self._owed.found(sub.subsession_id, int(sub.start_time.timestamp()), found_by)
        settled, complete = await self._deliver_owed(sub)
        if complete:
            await self._owed.settled(sub.subsession_id)
        return len(settled)

    async def _deliver_owed(self, sub: Subsession) -> tuple[list[int], bool]:
        """Post a fetched race to every server it is owed to: (servers settled, all of them)."""
        cycle = await self._open_cycle(among=sub.cust_ids())  # this race's drivers, not everyone's
        s = sub.subsession_id
        ref = RaceRef(int(sub.start_time.timestamp()), s)
        racing = sub.cust_ids() & cycle.tracking.keys()
        if not racing:
            return [], True
        finished = self._finish_of(sub)
        for c in racing:
            self._scheduler.saw_race(c, finished)
        cycle.marks = await self._store.last_seen.for_cust_ids(racing)
        cycle.tracked_since = await self._store.drivers.tracked_since(racing)
        audience = card_audience(racing, cycle.tracking)
        young = age(ref, cycle.oldest_postable, finished_at=finished) == "young"
        new, late = owed_for(ref, audience, cycle.marks, cycle.tracked_since)
        # Late: a later race moved the watermark past this one while it waited; the outbox knows.
        late_open = [g for g in sorted(late) if not self._outbox.handled(g, s)]
        late_open = [g for g in late_open if not await self._store.posts.decided(g, [s])]
        guilds = sorted(new | set(late_open))
        settled = [g for g in guilds if self._outbox.handled(g, s)]
        needed = [g for g in guilds if g not in settled]
        if young:
            oks = await asyncio.gather(*(self._post_once(cycle, g, ref, sub, audience[g]) for g in needed))
        else:
            oks = [await self._outbox.too_old(cycle, g, ref, finished_at=finished) for g in needed]
        await self._settle(cycle)
        settled += [g for g, ok in zip(needed, oks, strict=True) if ok]
        for g in settled:
            for c in sorted(audience[g]):
                if (g, c) in cycle.marks:
                    await self._store.last_seen.advance(g, c, s, finished)
        return settled, len(settled) == len(guilds)

    async def owe(self, subsession_id: int, started_at: int, found_by: str, *, hold: float = 0.0) -> None:
        """A race with tracked drivers whose results are not had yet: written down, so that
        ``run_owed`` (of any process) asks for it once ``hold`` seconds have passed, until its
        results come or iRacing has no such race. Never raises (kept in memory meanwhile)."""
        await self._owed.found(subsession_id, started_at, found_by, wait=hold)

    async def hold_owed(self, subsession_ids: list[int], seconds: float) -> None:
        """The live watcher still has these races in hand: nobody asks for them for ``seconds``."""
        await self._owed.hold(subsession_ids, self._clock.now() + seconds)

    async def run_owed(self) -> int:
        """Ask again for the races owed whose next try has come (this process's, or a dead
        one's), and post them; returns how many were settled. One run at a time; a store that
        does not answer leaves them for the next run."""
        if self._owed_lock.locked():
            return 0
        async with self._owed_lock:
            try:
                await self._owed.flush()
                due = await self._owed.due()
            except Exception:
                log.warning("could not read the races owed; trying again later", exc_info=True)
                self._metrics.poll_errors_total.labels("store").inc()
                return 0
            settled = 0
            for race in due:
                try:
                    if await self._owed.take(race.subsession_id):
                        settled += await self._retry_owed(race)
                except Exception:
                    log.exception("could not retry a race owed", extra={"subsession_id": race.subsession_id})
                    self._metrics.poll_errors_total.labels("owed").inc()
            if settled or due:
                await self._owed.purge()
            return settled

    async def _retry_owed(self, race: PendingRace) -> int:
        s = race.subsession_id
        try:
            async with self._pacer.slot():
                sub = await self._source.get_subsession(s)
        except Exception as exc:
            self.note_iracing(exc)
            if isinstance(exc, RateLimitedError):
                self._pacer.hold_until(exc.reset_at)
            log.warning("could not fetch a race owed", extra={"subsession_id": s, "error": type(exc).__name__})
            return 1 if await self._owed.failed(race, exc) else 0
        self.note_iracing(None)
        try:
            _, complete = await self._deliver_owed(sub)
        except Exception:
            log.exception("could not post a race owed", extra={"subsession_id": s})
            self._metrics.poll_errors_total.labels("owed").inc()
            complete = False
        if not complete:
            await self._owed.failed_to_post(race)
            return 0
        await self._owed.settled(s)
        return 1

    def attach_unofficial(self, hook: UnofficialHook | None) -> None:
        self._unofficial = hook

    async def deliver_unofficial(
        self, sub: Subsession, *, followers: Iterable[int] = (), wants: Callable[[int, int], bool] | None = None
    ) -> frozenset[int]:
        """A hosted or league race, through the same pipeline as ``deliver_found``: one card per
        server, claimed in the outbox. Servers in ``followers`` (they follow its league) get it
        whoever raced; a server tracking a driver in it gets it when ``wants(guild, cust_id)``.
        Official watermarks are left alone (the per-driver poll never lists these races).
        Returns the servers for which it is settled."""
        cycle = await self._open_cycle()
        s = sub.subsession_id
        ref = RaceRef(int(sub.start_time.timestamp()), s)
        racing = sub.cust_ids() & cycle.tracking.keys()
        finished = self._finish_of(sub)
        for c in racing:
            self._scheduler.saw_race(c, finished)
        audience = {
            g: frozenset(c for c in cs if wants is None or wants(g, c))
            for g, cs in card_audience(racing, cycle.tracking).items()
        }
        followed = frozenset(followers)
        if followed:
            extra = await self._store.guilds.get_many(followed - cycle.guilds.keys())
            cycle.guilds.update(extra)
        guilds = sorted({g for g, cs in audience.items() if cs} | followed)
        settled = [g for g in guilds if self._outbox.handled(g, s)]
        needed = [g for g in guilds if g not in settled]
        if age(ref, cycle.oldest_postable, finished_at=finished) == "young":
            oks = await asyncio.gather(
                *(
                    self._post_once(cycle, g, ref, sub, audience.get(g, frozenset()), whole_field=g in followed)
                    for g in needed
                )
            )
        else:
            oks = [await self._outbox.too_old(cycle, g, ref, finished_at=finished) for g in needed]
        await self._settle(cycle)
        return frozenset(settled + [g for g, ok in zip(needed, oks, strict=True) if ok])

    # --- the cycle -------------------------------------------------------------------------------

    async def _open_cycle(self, among: Iterable[int] | None = None) -> CycleState:
        now = self._clock.now()
        tracking_all = await self._store.drivers.active_tracking(among)
        guild_ids = {g for gs in tracking_all.values() for g in gs}
        guilds = await self._store.guilds.get_many(guild_ids) if guild_ids else {}
        if among is None:  # the gauges count everyone
            self._metrics.tracked_drivers.set(len(tracking_all))
            self._metrics.guilds.set(sum(1 for g in guilds.values() if g.channel_id is not None))
        max_age = self._settings.max_post_age_hours * 3600
        return CycleState(
            started_at=now,
            tracking=channel_tracking(tracking_all, guilds),
            guilds=guilds,
            oldest_postable=int(now - max_age),
        )

    async def _poll_all(self, cycle: CycleState, due: Iterable[int]) -> None:
        queue = list(due)
        queue.reverse()  # pop() from the end keeps the scheduler's order

        async def worker() -> None:
            while queue and cycle.aborted is None:
                await self._driver(cycle, queue.pop())

        workers = max(1, self._settings.iracing_concurrency)
        await asyncio.gather(*(worker() for _ in range(workers)))

    async def _settle(self, cycle: CycleState) -> None:
        """Wait for every post started this cycle: none is cut between publish and record."""
        while pending := [t for t in cycle.posts.values() if not t.done()]:
            for result in await asyncio.gather(*pending, return_exceptions=True):
                if isinstance(result, Exception):
                    log.error("a post failed", exc_info=result)
                    self._metrics.poll_errors_total.labels("post").inc()

    async def _driver(self, cycle: CycleState, cust_id: int) -> None:
        try:
            async with self._pacer.slot():
                races = await self._source.get_recent_races(cust_id)
        except Exception as exc:
            self._iracing_failure(cycle, exc, "recent_races", cust_id=cust_id)
            cycle.counts.driver_errors += 1
            return
        self.note_iracing(None)
        cycle.counts.drivers_polled += 1
        self._scheduler.polled(cust_id, cycle.started_at)
        if races:
            self._scheduler.saw_race(cust_id, max(r.start_time.timestamp() for r in races))
        try:
            plans = [await self._plan(cycle, g, cust_id, races) for g in sorted(cycle.tracking.get(cust_id, ()))]
            await self._handle_plans(cycle, cust_id, plans)
        except Exception:
            # A store outage or a bug for one driver must not stop the others.
            log.exception("could not handle new races of a driver", extra={"cust_id": cust_id})
            self._metrics.poll_errors_total.labels("driver").inc()
            cycle.counts.driver_errors += 1

    async def _plan(self, cycle: CycleState, guild_id: int, cust_id: int, races: list[RecentRace]) -> PairPlan:
        mark = cycle.marks.get((guild_id, cust_id))
        since = cycle.tracked_since.get((guild_id, cust_id), 0)
        late = [s for s in late_candidates(races, mark, tracked_since=since) if not self._outbox.handled(guild_id, s)]
        if late:
            late = sorted(set(late) - await self._store.posts.decided(guild_id, late))
        return plan_pair(guild_id, cust_id, races, mark, oldest_postable=cycle.oldest_postable, late=late)

    async def _handle_plans(self, cycle: CycleState, cust_id: int, plans: list[PairPlan]) -> None:
        for p in plans:
            if p.baseline is not None:
                await self._store.last_seen.set(p.guild_id, cust_id, *baseline_mark([p.baseline]))
        to_post = sorted({ref for p in plans for ref in p.post})
        cycle.counts.new_races += len(to_post)
        done: dict[int, set[int]] = {p.guild_id: set() for p in plans}
        for p in plans:
            for ref in p.stale:
                if await self._outbox.too_old(cycle, p.guild_id, ref, finished_at=None):
                    done[p.guild_id].add(ref.subsession_id)
        for ref in to_post:
            guilds = [p.guild_id for p in plans if ref in p.post]
            for guild_id in await self._deliver(cycle, ref, guilds, cust_id):
                done[guild_id].add(ref.subsession_id)
        for p in plans:
            target = watermark_target(p.pending, done[p.guild_id])
            if target is not None:
                finished = self._finished.get(target.subsession_id, target.started_at)
                await self._store.last_seen.advance(p.guild_id, cust_id, target.subsession_id, finished)

    async def _deliver(self, cycle: CycleState, ref: RaceRef, guilds: list[int], cust_id: int) -> list[int]:
        """Post ``ref`` to these guilds; returns those for which it is settled (claimed or skipped)."""
        s = ref.subsession_id
        settled = [g for g in guilds if self._outbox.handled(g, s)]
        if settled:
            # Seen again after this process settled it: counted, not logged (that happened once).
            cycle.counts.dedupe_skips += len(settled)
            self._metrics.dedupe_skips_total.inc(len(settled))
        needed = [g for g in guilds if not self._outbox.handled(g, s)]
        if needed and self._work is not None:
            # Another process may have claimed it from its own driver's list: no second results/get.
            elsewhere = [g for g in needed if await self._store.posts.decided(g, [s])]
            cycle.counts.dedupe_skips += len(elsewhere)
            self._metrics.dedupe_skips_total.inc(len(elsewhere))
            settled += elsewhere
            needed = [g for g in needed if g not in elsewhere]
        if not needed:
            return settled
        fetched = await self._subsession(cycle, ref)
        if fetched == "retry":
            return settled
        if fetched == "skip":
            return guilds
        finished = self._finish_of(fetched)
        if age(ref, cycle.oldest_postable, finished_at=finished) == "old":
            results = [await self._outbox.too_old(cycle, g, ref, finished_at=finished) for g in needed]
            return settled + [g for g, ok in zip(needed, results, strict=True) if ok]
        if self._live is not None:
            self._live.found_by_safety_net(s, ref.started_at)  # the watcher tells whether it missed it
        audience = card_audience(fetched.cust_ids(), cycle.tracking)
        results = await asyncio.gather(
            *(self._post_once(cycle, g, ref, fetched, audience.get(g, frozenset()) | {cust_id}) for g in needed)
        )
        if s in cycle.owed and all(results):
            await self._owed.settled(s)  # owed after an earlier failure: paid now
        return settled + [g for g, ok in zip(needed, results, strict=True) if ok]

    async def _subsession(self, cycle: CycleState, ref: RaceRef) -> Fetch:
        """results/get once per subsession and cycle, however many drivers and guilds share it."""
        task = cycle.fetches.get(ref.subsession_id)
        if task is None:
            task = asyncio.create_task(self._fetch_subsession(cycle, ref))
            cycle.fetches[ref.subsession_id] = task
        return await asyncio.shield(task)

    async def _fetch_subsession(self, cycle: CycleState, ref: RaceRef) -> Fetch:
        """results/get of a race a driver's list shows. A failure is never final on its own: the
        race is owed (written down) and asked again with backoff; only a race given up (iRacing
        said twice, minutes apart, it has no such subsession) is settled without a post."""
        s = ref.subsession_id
        owed = cycle.owed_at_start.get(s)
        if owed is not None:
            cycle.owed[s] = owed
            if owed.gave_up_at is not None:
                return "skip"  # given up, logged and counted once: its watermarks move past it
            if owed.next_try_at > self._now():
                return "retry"  # its backoff (or another process's try) is not over
        try:
            async with self._pacer.slot():
                sub = await self._source.get_subsession(s)
        except Exception as exc:
            self.note_iracing(exc)
            if isinstance(exc, (ParseError, NotFoundError)):
                kind = "parse" if isinstance(exc, ParseError) else "not_found"
                log.warning(
                    "a subsession iRacing could not give us; asking again later",
                    extra={"subsession_id": s, "error": type(exc).__name__},
                )
                self._metrics.poll_errors_total.labels(f"subsession_{kind}").inc()
            else:
                self._iracing_failure(cycle, exc, "subsession", subsession_id=s)
            cycle.counts.subsession_errors += 1
            if owed is None:
                owed = PendingRace(s, ref.started_at, self._now(), "poll", next_try_at=self._now())
                cycle.owed[s] = owed
            return "skip" if await self._owed.failed(owed, exc) else "retry"
        self.note_iracing(None)
        cycle.counts.subsessions_fetched += 1
        self._finish_of(sub)
        await self._share(cycle, ref, sub)
        return sub

    def _finish_of(self, sub: Subsession) -> int:
        """When a fetched race finished, remembered for the watermarks of the pairs that see it later."""
        s = sub.subsession_id
        if s not in self._finished:
            self._finished[s] = finish_time(sub.end_time, self._now())
            while len(self._finished) > _FINISH_MEMORY:
                self._finished.popitem(last=False)
        return self._finished[s]

    async def _share(self, cycle: CycleState, ref: RaceRef, sub: Subsession) -> None:
        """Every tracked driver in the results counts as seen: active, and their guilds get the card now."""
        racing = sub.cust_ids() & cycle.tracking.keys()
        finished = self._finish_of(sub)
        for c in racing:
            self._scheduler.saw_race(c, finished)
        audience = card_audience(racing, cycle.tracking)
        unknown = {c for c in racing if not any((g, c) in cycle.marks for g in cycle.tracking[c])}
        if unknown:
            cycle.marks.update(await self._store.last_seen.for_cust_ids(unknown))
        young = age(ref, cycle.oldest_postable, finished_at=finished) == "young"
        for g in also_new_for(ref, audience, cycle.marks, young=young):
            if not self._outbox.handled(g, ref.subsession_id) and (g, ref.subsession_id) not in cycle.posts:
                cycle.posts[(g, ref.subsession_id)] = asyncio.create_task(self._post(cycle, g, ref, sub, audience[g]))

    def _post_once(
        self,
        cycle: CycleState,
        guild_id: int,
        ref: RaceRef,
        sub: Subsession,
        drivers: frozenset[int],
        *,
        whole_field: bool = False,
    ) -> asyncio.Future[bool]:
        key = (guild_id, ref.subsession_id)
        task = cycle.posts.get(key)
        if task is None:
            task = asyncio.create_task(self._post(cycle, guild_id, ref, sub, drivers, whole_field=whole_field))
            cycle.posts[key] = task
        return asyncio.shield(task)

    async def _post(
        self,
        cycle: CycleState,
        guild_id: int,
        ref: RaceRef,
        sub: Subsession,
        drivers: frozenset[int],
        *,
        whole_field: bool = False,
    ) -> bool:
        """Claim, publish, record one (guild, subsession). True once it is settled for this cycle."""
        s = ref.subsession_id
        cfg = cycle.guilds.get(guild_id)
        if cfg is None or cfg.channel_id is None:
            return True  # no channel: nothing to post (the server gets nothing)
        try:
            names = await self._guild_names(cycle, guild_id)
            shown = {row.cust_id: row.display_name for _, row in sub.driver_rows() if row.cust_id in drivers}
            tracked = {c: names.get(c) or shown.get(c) or str(c) for c in sorted(drivers)}
            zone = cfg.timezone or self._settings.default_timezone
            card = self._build_card(sub, tracked, zone, whole_field=whole_field)
            card_json = card.to_json()
        except Exception:
            log.exception("could not build a result card", extra={"subsession_id": s, "guild_id": guild_id})
            self._metrics.poll_errors_total.labels("card").inc()
            cycle.counts.subsession_errors += 1
            return False
        if await self._routes.filtered(cycle, guild_id, sub, self._finished.get(s, self._now())):
            return True  # this server's filters keep it out: decided, logged and counted once
        image, image_json = None, None
        if cfg.post_style == "image":
            image = await self._image_card(cycle, guild_id, sub, tracked, zone, whole_field=whole_field)
            if image is not None:
                kept, image_json = fit_for_storage(image)
                if image.chart is not None and kept.chart is None:
                    self._outbox.picture_failed(guild_id, s, "too_large", "the chart is too long to keep with the post")
                image = kept
        finished = self._finished.get(s, self._now())
        pending = PendingPost(guild_id, s, cfg.channel_id, card_json, finished, image_json=image_json)
        return await self._routes.post(cycle, pending, card, image, sub)

    async def _image_card(
        self,
        cycle: CycleState,
        guild_id: int,
        sub: Subsession,
        tracked: Mapping[int, str],
        zone: str,
        *,
        whole_field: bool = False,
    ) -> ImageCard | None:
        """The picture's data; without its chart when the chart data cannot be had, None when it
        cannot be built (the post then goes out as an embed alone)."""
        chart = await self._chart(cycle, sub.subsession_id)
        try:
            image = build_image_card(sub, tracked, zone, chart, race_kind(sub), whole_field=whole_field)
        except Exception as exc:
            self._outbox.picture_failed(guild_id, sub.subsession_id, "build", type(exc).__name__, exc_info=exc)
            return None
        if chart is not None and image.chart is None:
            self._outbox.picture_failed(guild_id, sub.subsession_id, "chart_data", "no tracked car in the lap chart")
        return image

    async def _chart(self, cycle: CycleState, subsession_id: int) -> LapChart | None:
        """lap_chart_data once per subsession and cycle, whatever the number of servers."""
        task = cycle.charts.get(subsession_id)
        if task is None:
            task = asyncio.create_task(self._fetch_chart(subsession_id))
            cycle.charts[subsession_id] = task
        return await asyncio.shield(task)

    async def _fetch_chart(self, subsession_id: int) -> LapChart | None:
        try:
            async with self._pacer.slot():
                return await self._source.get_lap_chart(subsession_id)
        except Exception as exc:
            # The race is posted all the same; its picture just has no chart.
            reason = type(exc).__name__
            trace = None if isinstance(exc, IRacingError) else exc  # an unexpected bug gets its traceback
            self._outbox.picture_failed(None, subsession_id, "chart_data", reason, exc_info=trace)
            if isinstance(exc, RateLimitedError):
                self._pacer.hold_until(exc.reset_at)
            return None

    async def _guild_names(self, cycle: CycleState, guild_id: int) -> dict[int, str]:
        task = cycle.names.get(guild_id)
        if task is None:

            async def load() -> dict[int, str]:
                return {d.cust_id: d.display_name for d in await self._store.drivers.list_for_guild(guild_id)}

            task = asyncio.create_task(load())
            cycle.names[guild_id] = task
        return await asyncio.shield(task)

    # --- bookkeeping -------------------------------------------------------------------------------

    def _iracing_failure(self, cycle: CycleState, exc: Exception, kind: str, **ids: int) -> None:
        self.note_iracing(exc)
        if isinstance(exc, MaintenanceError):
            if cycle.aborted is None:
                log.info("iRacing is in maintenance; skipping the rest of this cycle")
            cycle.aborted = "maintenance"
            return
        if isinstance(exc, CircuitOpenError):
            if cycle.aborted is None:
                log.info("iRacing logins are paused; skipping the rest of this cycle")
            cycle.aborted = "circuit_open"
            return
        if isinstance(exc, RateLimitedError):
            self._pacer.hold_until(exc.reset_at)
            label = "rate_limited"
        elif isinstance(exc, IRacingError):
            label = kind
        else:
            label = "unexpected"
        self._metrics.poll_errors_total.labels(label).inc()
        log.warning(
            "iRacing request failed",
            exc_info=not isinstance(exc, IRacingError),
            extra={"kind": kind, "error": type(exc).__name__, **ids},
        )

    def _finish(
        self, cycle: CycleState, started: float, outcome: Outcome, due: int, deferred: int, requests: int
    ) -> CycleReport:
        self._metrics.poll_cycles_total.labels(outcome).inc()
        report = CycleReport(
            started_at=started,
            duration=self._clock.now() - started,
            outcome=outcome,
            counts=frozen_counts(cycle.counts),
            drivers_tracked=len(cycle.tracking),
            drivers_due=due,
            drivers_deferred=deferred,
            requests=requests,
        )
        self._status = status_after(report)
        log_cycle(report)
        return report
