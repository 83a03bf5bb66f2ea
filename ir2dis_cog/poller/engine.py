"""One poll cycle: due drivers -> recent races -> new subsessions -> results -> cards -> publish.

The imperative shell around ``detection`` and ``scheduler``. Each race reaches each server once:
the store's outbox claim (unique per guild and subsession) decides between processes, a claim
that never got its message id is checked against the channel before anything is sent again,
and the watermark of a (guild, driver) pair only moves past races that are claimed.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ir2dis_cog.config.settings import Settings
from ir2dis_cog.core.records import GuildConfig, PendingPost, Watermark
from ir2dis_cog.core.tracking import RaceRef, baseline_mark
from ir2dis_cog.iracing.errors import (
    CircuitOpenError,
    IRacingError,
    MaintenanceError,
    NotFoundError,
    ParseError,
    RateLimitedError,
)
from ir2dis_cog.iracing.models import RecentRace, Subsession
from ir2dis_cog.observability.logging import log_event
from ir2dis_cog.observability.metrics import Metrics
from ir2dis_cog.store import Store

from .detection import (
    PairPlan,
    age,
    also_new_for,
    card_audience,
    channel_tracking,
    finish_time,
    late_candidates,
    plan_pair,
    watermark_target,
)
from .ports import ChannelUnavailableError, Clock, Publisher, ResultsSource, SystemClock
from .scheduler import DEFAULT_WINDOW, Pacer, Scheduler

log = logging.getLogger("red.ir2dis.poller")

Outcome = Literal["ok", "maintenance", "circuit_open", "idle"]
CardBuilder = Callable[[Subsession, Mapping[int, str], str], Any]
CardLoader = Callable[[str], Any]
_HANDLED_MEMORY = 20_000  # (guild, subsession) pairs remembered as done, to skip refetching them
_FINISH_MEMORY = 20_000  # subsession -> when it finished, for watermarks of races not fetched again


@dataclass(frozen=True)
class CycleReport:
    started_at: float
    duration: float
    outcome: Outcome
    drivers_tracked: int = 0
    drivers_due: int = 0
    drivers_deferred: int = 0
    drivers_polled: int = 0
    driver_errors: int = 0
    new_races: int = 0
    subsessions_fetched: int = 0
    subsession_errors: int = 0
    posts_published: int = 0
    dedupe_skips: int = 0
    post_failures: int = 0
    posts_dropped: int = 0
    requests: int = 0
    races_too_old: int = 0


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


def _default_build_card(subsession: Subsession, tracked: Mapping[int, str], timezone: str) -> Any:
    from ir2dis_cog.core.cards import build_card

    return build_card(subsession, tracked, timezone)


def _default_load_card(text: str) -> Any:
    from ir2dis_cog.core.cards import RaceCard

    return RaceCard.from_json(text)


@dataclass
class _Counts:
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


# A subsession that could not be fetched: "skip" is permanent (parse error, unknown id: move
# past it), "retry" is transient (keep the watermark before it and try next cycle).
_Fetch = Subsession | Literal["skip", "retry"]


@dataclass
class _Cycle:
    """The state of one cycle: what was fetched, posted, and which channels failed."""

    started_at: float
    tracking: dict[int, frozenset[int]]
    guilds: dict[int, GuildConfig]
    oldest_postable: int
    marks: dict[tuple[int, int], Watermark] = field(default_factory=dict)
    tracked_since: dict[tuple[int, int], int] = field(default_factory=dict)
    fetches: dict[int, asyncio.Task[_Fetch]] = field(default_factory=dict)
    posts: dict[tuple[int, int], asyncio.Task[bool]] = field(default_factory=dict)
    names: dict[int, asyncio.Task[dict[int, str]]] = field(default_factory=dict)
    unavailable: dict[int, str] = field(default_factory=dict)
    counts: _Counts = field(default_factory=_Counts)
    aborted: Outcome | None = None


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
        owner: str | None = None,
        instance: str | None = None,
        lease_seconds: int = 300,
        rate_window: float = DEFAULT_WINDOW,
        spare_share: float = 0.5,
        build_card: CardBuilder = _default_build_card,
        load_card: CardLoader = _default_load_card,
    ) -> None:
        self._store = store
        self._source = source
        self._publisher = publisher
        self._metrics = metrics
        self._clock: Clock = clock or SystemClock()
        # ``instance`` names the data folder this process runs on (stable across restarts): with it,
        # a restart settles what its dead predecessor claimed without waiting out the lease.
        self._instance = instance
        process = owner or uuid.uuid4().hex[:12]
        self._owner = f"{instance}:{process}" if instance else process
        self._lease = lease_seconds
        self._rate_window = rate_window
        self._spare_share = spare_share
        self._build_card = build_card
        self._load_card = load_card
        self._settings = settings
        self._scheduler = self._new_scheduler(settings)
        self._pacer = self._new_pacer(settings)
        self._handled: OrderedDict[tuple[int, int], None] = OrderedDict()
        self._finished: OrderedDict[int, int] = OrderedDict()
        self._cycle_lock = asyncio.Lock()
        self._status = EngineStatus(None, None, None, 0, 0, 0, 0, False)

    # --- wiring ----------------------------------------------------------------------------------

    def _new_scheduler(self, settings: Settings) -> Scheduler:
        return Scheduler(interval=settings.poll_interval_seconds, max_idle=settings.max_idle_poll_minutes * 60,
                         window=self._rate_window, spare_share=self._spare_share)

    def _new_pacer(self, settings: Settings) -> Pacer:
        # Keep more in reserve than the client does, so its own limiter never has to hold.
        return Pacer(lambda: self._source.budget, self._clock, window=self._rate_window,
                     reserve=settings.iracing_concurrency + 2)

    def replace_source(self, source: ResultsSource, settings: Settings) -> None:
        """New credentials: a new client (and maybe a new interval); what was learnt is kept."""
        self._source = source
        if (settings.poll_interval_seconds, settings.max_idle_poll_minutes) != (
            self._settings.poll_interval_seconds, self._settings.max_idle_poll_minutes
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
        return self._status

    @property
    def owner(self) -> str:
        return self._owner

    def _now(self) -> int:
        return int(self._clock.now())

    # --- entry points ------------------------------------------------------------------------------

    async def resolve_unfinished(self) -> int:
        """At start: settle claims left without a message id (a crash) before anything new is posted."""
        async with self._cycle_lock:
            if self._instance:
                released = await self._store.posts.release_earlier_lives(self._instance, self._owner)
                if released:
                    log_event(log, "claims_released", f"settling {released} posts left unfinished by the "
                              "previous run", released=released)
            cycle = await self._open_cycle()
            await self._drain_outbox(cycle)
            c = cycle.counts
            return c.posts_published + c.dedupe_skips + c.posts_dropped

    async def run_cycle(self) -> CycleReport:
        async with self._cycle_lock:
            started = self._clock.now()
            wall = time.perf_counter()
            requests_before = self._pacer.requests
            cycle = await self._open_cycle()
            outcome: Outcome = "ok"
            plan_due = plan_deferred = 0
            try:
                await self._drain_outbox(cycle)
                activity = await self._store.last_seen.latest_activity()
                budget = self._source.budget
                plan = self._scheduler.plan(cycle.tracking.keys(), started, activity, budget.limit)
                plan_due, plan_deferred = len(plan.due), plan.deferred
                if plan.due:
                    cycle.marks = await self._store.last_seen.for_cust_ids(plan.due)
                    cycle.tracked_since = await self._store.drivers.tracked_since(plan.due)
                    await self._poll_all(cycle, plan.due)
                else:
                    outcome = "idle"
                await self._settle(cycle)
                if cycle.aborted:
                    outcome = cycle.aborted
            finally:
                # Only reached with tasks left when the cycle itself was cancelled.
                for task in [*cycle.fetches.values(), *cycle.posts.values(), *cycle.names.values()]:
                    task.cancel()
            self._scheduler.note_subsession_fetches(cycle.counts.subsessions_fetched)
            report = self._finish(cycle, started, outcome, plan_due, plan_deferred,
                                  self._pacer.requests - requests_before)
            self._metrics.cycle_duration_seconds.observe(time.perf_counter() - wall)
            return report

    # --- the cycle -------------------------------------------------------------------------------

    async def _open_cycle(self) -> _Cycle:
        now = self._clock.now()
        tracking_all = await self._store.drivers.active_tracking()
        guild_ids = {g for gs in tracking_all.values() for g in gs}
        guilds = await self._store.guilds.get_many(guild_ids) if guild_ids else {}
        self._metrics.tracked_drivers.set(len(tracking_all))
        self._metrics.guilds.set(sum(1 for g in guilds.values() if g.channel_id is not None))
        max_age = self._settings.max_post_age_hours * 3600
        return _Cycle(started_at=now, tracking=channel_tracking(tracking_all, guilds), guilds=guilds,
                      oldest_postable=int(now - max_age))

    async def _poll_all(self, cycle: _Cycle, due: Iterable[int]) -> None:
        queue = list(due)
        queue.reverse()  # pop() from the end keeps the scheduler's order

        async def worker() -> None:
            while queue and cycle.aborted is None:
                await self._driver(cycle, queue.pop())

        workers = max(1, self._settings.iracing_concurrency)
        await asyncio.gather(*(worker() for _ in range(workers)))

    async def _settle(self, cycle: _Cycle) -> None:
        """Wait for every post started this cycle: none is cut between publish and record."""
        while pending := [t for t in cycle.posts.values() if not t.done()]:
            for result in await asyncio.gather(*pending, return_exceptions=True):
                if isinstance(result, Exception):
                    log.error("a post failed", exc_info=result)
                    self._metrics.poll_errors_total.labels("post").inc()

    async def _driver(self, cycle: _Cycle, cust_id: int) -> None:
        try:
            async with self._pacer.slot():
                races = await self._source.get_recent_races(cust_id)
        except Exception as exc:
            self._iracing_failure(cycle, exc, "recent_races", cust_id=cust_id)
            cycle.counts.driver_errors += 1
            return
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

    async def _plan(self, cycle: _Cycle, guild_id: int, cust_id: int, races: list[RecentRace]) -> PairPlan:
        mark = cycle.marks.get((guild_id, cust_id))
        since = cycle.tracked_since.get((guild_id, cust_id), 0)
        late = [s for s in late_candidates(races, mark, tracked_since=since) if (guild_id, s) not in self._handled]
        if late:
            late = sorted(set(late) - await self._store.posts.decided(guild_id, late))
        return plan_pair(guild_id, cust_id, races, mark, oldest_postable=cycle.oldest_postable, late=late)

    async def _handle_plans(self, cycle: _Cycle, cust_id: int, plans: list[PairPlan]) -> None:
        for p in plans:
            if p.baseline is not None:
                await self._store.last_seen.set(p.guild_id, cust_id, *baseline_mark([p.baseline]))
        to_post = sorted({ref for p in plans for ref in p.post})
        cycle.counts.new_races += len(to_post)
        done: dict[int, set[int]] = {p.guild_id: set() for p in plans}
        for p in plans:
            for ref in p.stale:
                if await self._too_old(cycle, p.guild_id, ref, finished_at=None):
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

    async def _too_old(self, cycle: _Cycle, guild_id: int, ref: RaceRef, *, finished_at: int | None) -> bool:
        """A race that ended too long ago to post: recorded, reported once, counted; True when settled."""
        s, limit = ref.subsession_id, self._settings.max_post_age_hours
        if finished_at is None:
            hours = (cycle.started_at - ref.started_at) / 3600
            reason = f"too old to post: started {hours:.0f} h ago, so ended more than {limit} h ago"
        else:
            hours = (cycle.started_at - finished_at) / 3600
            reason = f"too old to post: ended {hours:.0f} h ago, more than MAX_POST_AGE_HOURS ({limit})"
        try:
            first = await self._store.posts.skip_too_old(
                guild_id, s, reason, finished_at=finished_at or ref.started_at, now=self._now())
        except Exception:
            log.exception("could not record a race too old to post", extra={"guild_id": guild_id, "subsession_id": s})
            self._metrics.poll_errors_total.labels("store").inc()
            return False
        if first:
            log_event(log, "race_too_old", f"not posting subsession {s} in server {guild_id}: {reason}",
                      level=logging.WARNING, guild_id=guild_id, subsession_id=s, reason=reason)
            cycle.counts.races_too_old += 1
            self._metrics.races_too_old_total.inc()
        self._remember(guild_id, s)
        return True

    async def _deliver(self, cycle: _Cycle, ref: RaceRef, guilds: list[int], cust_id: int) -> list[int]:
        """Post ``ref`` to these guilds; returns those for which it is settled (claimed or skipped)."""
        s = ref.subsession_id
        settled = [g for g in guilds if (g, s) in self._handled]
        if settled:
            # Seen again after this process settled it: counted, not logged (that happened once).
            cycle.counts.dedupe_skips += len(settled)
            self._metrics.dedupe_skips_total.inc(len(settled))
        needed = [g for g in guilds if (g, s) not in self._handled]
        if not needed:
            return settled
        fetched = await self._subsession(cycle, ref)
        if fetched == "retry":
            return settled
        if fetched == "skip":
            return guilds
        finished = self._finished.get(s) or finish_time(fetched.end_time, self._now())
        if age(ref, cycle.oldest_postable, finished_at=finished) == "old":
            results = [await self._too_old(cycle, g, ref, finished_at=finished) for g in needed]
            return settled + [g for g, ok in zip(needed, results, strict=True) if ok]
        audience = card_audience(fetched.cust_ids(), cycle.tracking)
        results = await asyncio.gather(*(
            self._post_once(cycle, g, ref, fetched, audience.get(g, frozenset()) | {cust_id}) for g in needed
        ))
        return settled + [g for g, ok in zip(needed, results, strict=True) if ok]

    async def _subsession(self, cycle: _Cycle, ref: RaceRef) -> _Fetch:
        """results/get once per subsession and cycle, however many drivers and guilds share it."""
        task = cycle.fetches.get(ref.subsession_id)
        if task is None:
            task = asyncio.create_task(self._fetch_subsession(cycle, ref))
            cycle.fetches[ref.subsession_id] = task
        return await asyncio.shield(task)

    async def _fetch_subsession(self, cycle: _Cycle, ref: RaceRef) -> _Fetch:
        try:
            async with self._pacer.slot():
                sub = await self._source.get_subsession(ref.subsession_id)
        except (ParseError, NotFoundError) as exc:
            kind = "parse" if isinstance(exc, ParseError) else "not_found"
            log.warning("skipping a subsession iRacing cannot give us",
                        extra={"subsession_id": ref.subsession_id, "error": type(exc).__name__})
            self._metrics.poll_errors_total.labels(f"subsession_{kind}").inc()
            cycle.counts.subsession_errors += 1
            return "skip"
        except Exception as exc:
            self._iracing_failure(cycle, exc, "subsession", subsession_id=ref.subsession_id)
            cycle.counts.subsession_errors += 1
            return "retry"
        cycle.counts.subsessions_fetched += 1
        self._finished[ref.subsession_id] = finish_time(sub.end_time, self._now())
        self._finished.move_to_end(ref.subsession_id)
        while len(self._finished) > _FINISH_MEMORY:
            self._finished.popitem(last=False)
        await self._share(cycle, ref, sub)
        return sub

    async def _share(self, cycle: _Cycle, ref: RaceRef, sub: Subsession) -> None:
        """Every tracked driver in the results counts as seen: active, and their guilds get the card now."""
        racing = sub.cust_ids() & cycle.tracking.keys()
        finished = self._finished.get(ref.subsession_id) or finish_time(sub.end_time, self._now())
        for c in racing:
            self._scheduler.saw_race(c, finished)
        audience = card_audience(racing, cycle.tracking)
        unknown = {c for c in racing if not any((g, c) in cycle.marks for g in cycle.tracking[c])}
        if unknown:
            cycle.marks.update(await self._store.last_seen.for_cust_ids(unknown))
        young = age(ref, cycle.oldest_postable, finished_at=finished) == "young"
        for g in also_new_for(ref, audience, cycle.marks, young=young):
            if (g, ref.subsession_id) not in self._handled and (g, ref.subsession_id) not in cycle.posts:
                cycle.posts[(g, ref.subsession_id)] = asyncio.create_task(
                    self._post(cycle, g, ref, sub, audience[g]))

    def _post_once(
        self, cycle: _Cycle, guild_id: int, ref: RaceRef, sub: Subsession, drivers: frozenset[int]
    ) -> asyncio.Future[bool]:
        key = (guild_id, ref.subsession_id)
        task = cycle.posts.get(key)
        if task is None:
            task = asyncio.create_task(self._post(cycle, guild_id, ref, sub, drivers))
            cycle.posts[key] = task
        return asyncio.shield(task)

    async def _post(
        self, cycle: _Cycle, guild_id: int, ref: RaceRef, sub: Subsession, drivers: frozenset[int]
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
            card = self._build_card(sub, tracked, cfg.timezone or self._settings.default_timezone)
            card_json = card.to_json()
        except Exception:
            log.exception("could not build a result card", extra={"subsession_id": s, "guild_id": guild_id})
            self._metrics.poll_errors_total.labels("card").inc()
            cycle.counts.subsession_errors += 1
            return False
        pending = PendingPost(guild_id, s, cfg.channel_id, card_json, self._finished.get(s, self._now()))
        try:
            won = await self._store.posts.claim(pending, self._owner, now=self._now(),
                                                lease_seconds=self._lease)
        except Exception:
            log.exception("could not claim a post", extra={"subsession_id": s, "guild_id": guild_id})
            self._metrics.poll_errors_total.labels("store").inc()
            return False
        if not won:
            self._dedupe(cycle, guild_id, s, "already_claimed")
            return True
        if guild_id in cycle.unavailable:
            await self._failed(cycle, guild_id, s, ChannelUnavailableError(cycle.unavailable[guild_id]))
            return True
        await self._send(cycle, guild_id, s, cfg.channel_id, card, look_first=())
        return True

    async def _guild_names(self, cycle: _Cycle, guild_id: int) -> dict[int, str]:
        task = cycle.names.get(guild_id)
        if task is None:
            async def load() -> dict[int, str]:
                return {d.cust_id: d.display_name for d in await self._store.drivers.list_for_guild(guild_id)}

            task = asyncio.create_task(load())
            cycle.names[guild_id] = task
        return await asyncio.shield(task)

    async def _send(
        self, cycle: _Cycle, guild_id: int, s: int, channel_id: int, card: Any, *, look_first: Iterable[int]
    ) -> None:
        """Publish a claimed post, unless one of ``look_first`` channels already shows it; then record."""
        try:
            message_id = None
            for channel in look_first:
                message_id = await self._find(channel, s, required=channel == channel_id)
                if message_id is not None:
                    break
            if message_id is None:
                message_id = await self._publisher.publish(channel_id, card)
                cycle.counts.posts_published += 1
                self._metrics.posts_published_total.inc()
                log_event(log, "post_published", f"posted subsession {s} in server {guild_id}",
                          guild_id=guild_id, subsession_id=s, channel_id=channel_id, message_id=message_id)
            else:
                self._dedupe(cycle, guild_id, s, "found_in_channel", message_id=message_id)
        except Exception as exc:
            await self._failed(cycle, guild_id, s, exc)
            return
        await self._store.posts.record(guild_id, s, message_id, now=self._now())
        self._remember(guild_id, s)

    async def _find(self, channel_id: int, s: int, *, required: bool) -> int | None:
        """Ask the channel whether the card is there; an old channel that is gone cannot hold it."""
        try:
            return await self._publisher.find_existing(channel_id, s)
        except ChannelUnavailableError:
            if required:
                raise
            return None

    async def _failed(self, cycle: _Cycle, guild_id: int, s: int, exc: Exception) -> None:
        """Keep the claim (with its card) for a later cycle; the server's settings stay untouched."""
        if isinstance(exc, ChannelUnavailableError):
            reason, label = f"channel unavailable: {exc.reason}", "channel_unavailable"
            if guild_id not in cycle.unavailable:
                log_event(log, "post_failed", f"results channel of server {guild_id} unavailable ({exc.reason}); "
                          "posts wait for a later cycle", level=logging.WARNING,
                          guild_id=guild_id, subsession_id=s, reason=reason)
            cycle.unavailable[guild_id] = exc.reason
        else:
            # The type only: an exception's text may carry anything, a traceback goes to the log.
            reason, label = f"publish failed: {type(exc).__name__}", "publish_error"
            log_event(log, "post_failed", f"could not post subsession {s} in server {guild_id}; retrying later",
                      level=logging.WARNING, exc_info=exc, guild_id=guild_id, subsession_id=s, reason=reason)
        cycle.counts.post_failures += 1
        self._metrics.post_failures_total.labels(label).inc()
        retry_after = max(1, self._settings.poll_interval_seconds // 2)
        try:
            await self._store.posts.fail(guild_id, s, reason, now=self._now(), retry_after=retry_after)
        except Exception:
            log.exception("could not keep a failed post for later", extra={"guild_id": guild_id})

    async def _drain_outbox(self, cycle: _Cycle) -> None:
        """Posts claimed earlier without a message id: a crash, or a channel that was unavailable."""
        now = self._now()
        for row in await self._store.posts.unresolved(now=now):
            g, s = row.guild_id, row.subsession_id
            try:
                if row.race_finished_at < cycle.oldest_postable:
                    await self._store.posts.drop(g, s, "older than MAX_POST_AGE_HOURS", now=now)
                    log.info("dropped a result that could not be posted in time",
                             extra={"guild_id": g, "subsession_id": s, "attempts": row.attempts,
                                    "last_error": row.last_error})
                    cycle.counts.posts_dropped += 1
                    continue
                cfg = cycle.guilds.get(g) or await self._store.guilds.get(g)
                channel = cfg.channel_id if cfg is not None and cfg.channel_id else None
                if channel is None or g in cycle.unavailable:
                    cycle.counts.outbox_waiting += 1
                    continue  # retried once the channel is back; dropped when too old
                if not await self._store.posts.take_over(g, s, self._owner, now=now, lease_seconds=self._lease):
                    continue  # another process has it
                try:
                    card = self._load_card(row.card_json)
                except ValueError:
                    # A corrupt card or one from an unknown format version will never read back:
                    # retrying it every cycle would only fill the log until it ages out.
                    await self._store.posts.drop(g, s, "stored card unreadable", now=now)
                    log_event(log, "post_failed", f"dropped subsession {s} for server {g}: its stored card is "
                              "unreadable", level=logging.WARNING, guild_id=g, subsession_id=s,
                              reason="stored card unreadable")
                    cycle.counts.posts_dropped += 1
                    continue
                look = [row.channel_id] if row.channel_id and row.channel_id != channel else []
                await self._send(cycle, g, s, channel, card, look_first=[*look, channel])
            except Exception:
                log.exception("could not settle an earlier post", extra={"guild_id": g, "subsession_id": s})
                self._metrics.poll_errors_total.labels("outbox").inc()

    # --- bookkeeping -------------------------------------------------------------------------------

    def _iracing_failure(self, cycle: _Cycle, exc: Exception, kind: str, **ids: int) -> None:
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
        log.warning("iRacing request failed", exc_info=not isinstance(exc, IRacingError),
                    extra={"kind": kind, "error": type(exc).__name__, **ids})

    def _dedupe(self, cycle: _Cycle, guild_id: int, s: int, reason: str, *, message_id: int | None = None) -> None:
        """A post not made because it exists: claimed by another process, or found in the channel."""
        where = "already in the channel" if message_id is not None else f"already claimed for server {guild_id}"
        log_event(log, "dedupe_skip", f"subsession {s} is {where}; not posting it again",
                  guild_id=guild_id, subsession_id=s, message_id=message_id, reason=reason)
        cycle.counts.dedupe_skips += 1
        self._metrics.dedupe_skips_total.inc()
        self._remember(guild_id, s)

    def _remember(self, guild_id: int, s: int) -> None:
        self._handled[(guild_id, s)] = None
        self._handled.move_to_end((guild_id, s))
        while len(self._handled) > _HANDLED_MEMORY:
            self._handled.popitem(last=False)

    def _finish(
        self, cycle: _Cycle, started: float, outcome: Outcome, due: int, deferred: int, requests: int
    ) -> CycleReport:
        c = cycle.counts
        duration = self._clock.now() - started
        self._metrics.poll_cycles_total.labels(outcome).inc()
        report = CycleReport(
            started_at=started, duration=duration, outcome=outcome, drivers_tracked=len(cycle.tracking),
            drivers_due=due, drivers_deferred=deferred, drivers_polled=c.drivers_polled,
            driver_errors=c.driver_errors, new_races=c.new_races, subsessions_fetched=c.subsessions_fetched,
            subsession_errors=c.subsession_errors, posts_published=c.posts_published,
            dedupe_skips=c.dedupe_skips, post_failures=c.post_failures, posts_dropped=c.posts_dropped,
            requests=requests, races_too_old=c.races_too_old,
        )
        pending = c.post_failures + c.outbox_waiting
        self._status = replace(
            self._status, last_cycle_at=started, last_cycle_duration=duration, last_outcome=outcome,
            drivers_tracked=len(cycle.tracking), drivers_due=due, drivers_deferred=deferred,
            pending_posts=pending, maintenance=outcome == "maintenance",
        )
        log_event(log, "cycle_done",
                  f"poll cycle {outcome}: {c.drivers_polled}/{due} drivers polled, {c.new_races} new races, "
                  f"{c.posts_published} posted, {c.dedupe_skips} already posted, {c.post_failures} failed, "
                  f"{requests} requests in {duration:.1f} s",
                  outcome=outcome, drivers_due=due, drivers_polled=c.drivers_polled, requests=requests,
                  new_results=c.new_races, results_fetched=c.subsessions_fetched, posts=c.posts_published,
                  dedupe_skips=c.dedupe_skips, post_failures=c.post_failures, races_too_old=c.races_too_old,
                  duration_seconds=round(duration, 3))
        return report
