"""The I/O shell for hosted and league races, run by the engine once per cycle.

Tracked drivers: one ``search_hosted`` per due driver (``hosted.py`` says who and from when);
followed leagues: ``league/seasons`` now and then and ``league/season_sessions`` per current
season (``leagues.py``), one request per league and season whatever the number of servers
following it. Each new race is fetched once (``results/get``) and handed to the engine's
``deliver_unofficial``: the outbox claim makes it one card per server, whatever found it. Every
request goes through the engine's pacer, in the poll lane. A server that does not get a race
(its race kinds leave it out, or it tracked the driver only after the race) is logged and
counted once, as is a race iRacing's answer for which cannot be read (it is not asked again).

The requests go to ``source()`` when one is given, else to the engine's source (the cog's
account pool, read at each use: a reload replaces it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, Protocol, runtime_checkable

from ir2dis_cog.core.kinds import wanted
from ir2dis_cog.core.records import PendingRace
from ir2dis_cog.iracing.errors import NotFoundError, ParseError, RateLimitedError
from ir2dis_cog.iracing.leagues import LeagueSeason, LeagueSession
from ir2dis_cog.iracing.models import HostedSession, Subsession
from ir2dis_cog.observability.logging import log_event
from ir2dis_cog.observability.metrics import Metrics
from ir2dis_cog.poller import hosted as rules
from ir2dis_cog.poller import leagues as league_rules
from ir2dis_cog.poller.owed import after_failure
from ir2dis_cog.poller.ports import Clock
from ir2dis_cog.store import HostedWatch, Store

if TYPE_CHECKING:
    from ir2dis_cog.poller.engine import PollEngine

log = logging.getLogger("red.ir2dis.poller.unofficial")

UNREADABLE: Final = "unreadable"  # results/get answered unreadably for over a day: given up
_MEMORY = 50_000  # (server, race) decisions remembered, so each is logged and counted once


@runtime_checkable
class UnofficialSource(Protocol):
    async def search_hosted(self, cust_id: int, since: datetime) -> list[HostedSession]: ...

    async def get_league_seasons(self, league_id: int) -> list[LeagueSeason]: ...

    async def get_league_sessions(self, league_id: int, season_id: int) -> list[LeagueSession]: ...

    async def get_subsession(self, subsession_id: int) -> Subsession: ...


class UnofficialRaces:
    def __init__(
        self,
        engine: PollEngine,
        store: Store,
        clock: Clock,
        *,
        metrics: Metrics | None = None,
        source: Callable[[], UnofficialSource | None] | None = None,
    ) -> None:
        self._engine = engine
        self._store = store
        self._clock = clock
        self._metrics = metrics or Metrics()
        self._source_of = source
        self._not_posted: set[tuple[int, int]] = set()  # (guild, subsession) logged and counted
        # Races whose answers could not be read: asked again with backoff (poller/owed.py's rules).
        self._unreadable: dict[int, PendingRace] = {}
        self._seasons: dict[int, tuple[float, list[LeagueSeason]]] = {}  # league -> (read at, seasons)
        self._season_state: dict[int, league_rules.SeasonState] = {}
        self._done: set[tuple[int, int]] = set()  # (guild, subsession) settled by this process
        self.requests = 0
        self.posted = 0
        self.skipped_no_race = 0

    @property
    def _source(self) -> UnofficialSource:
        given = self._source_of() if self._source_of is not None else None
        source: object = given if given is not None else self._engine.source
        if not isinstance(source, UnofficialSource):
            raise TypeError(f"{type(source).__name__} has no hosted or league calls")
        return source

    def _request(self, request: str) -> None:
        self.requests += 1
        self._metrics.unofficial_requests_total.labels(request).inc()

    async def run_once(self) -> None:
        """One pass over due drivers and followed leagues; a failure costs only its own part."""
        for part in (self._drivers, self._leagues):
            try:
                await part()
            except Exception as exc:
                if isinstance(exc, RateLimitedError):
                    self._engine.hold_until(exc.reset_at)
                log.warning(
                    "hosted or league races could not be checked",
                    exc_info=not isinstance(exc, (RateLimitedError, NotFoundError, ParseError)),
                    extra={"part": part.__name__, "error": type(exc).__name__},
                )

    # --- tracked drivers ---------------------------------------------------------------------------

    async def _drivers(self) -> None:
        now = int(self._clock.now())
        tracked = await self._engine.tracked_drivers()
        if not tracked:
            return
        watches = await self._store.hosted.get_many(tracked)
        for c in sorted(tracked - watches.keys()):
            # Tracked before this version (the track command starts the watermark itself).
            await self._store.hosted.start(c, now)
        if len(watches) < len(tracked):
            watches = await self._store.hosted.get_many(tracked)
        for watch in rules.plan_checks(watches.values(), now):
            await self._driver(watch, now)

    async def _driver(self, watch: HostedWatch, now: int) -> None:
        begin = datetime.fromtimestamp(rules.search_begin(watch, now), UTC)
        async with self._engine.slot():
            self._request("hosted_search")
            rows = await self._source.search_hosted(watch.cust_id, begin)
        plan = rules.plan_rows(watch, rows)
        self.skipped_no_race += plan.skipped_no_race
        if plan.skipped_no_race:
            self._metrics.hosted_sessions_skipped_total.labels("no_race").inc(plan.skipped_no_race)
        failed: list[HostedSession] = []
        since = await self._store.drivers.tracked_since([watch.cust_id]) if plan.new else {}
        kinds = await self._kinds(await self._tracking_guilds(plan))
        for row in plan.new:
            sub = await self._subsession(row.subsession_id)
            if sub is None:
                failed.append(row)
                continue
            if isinstance(sub, str):
                continue  # given up after a day of unreadable answers: logged and counted
            self._metrics.unofficial_races_found_total.labels(sub.kind, "driver").inc()
            finished = rules.end_of(row) or now
            refused: dict[int, str] = {}

            def wants(
                g: int, c: int, kind: str = sub.kind, finished: int = finished, refused: dict[int, str] = refused
            ) -> bool:
                if c == watch.cust_id and not rules.tracked_before(finished, since, g, c):
                    refused.setdefault(g, "before_tracking")  # no backlog for a server tracking them later
                    return False
                if not wanted(kind, kinds.get(g)):
                    refused.setdefault(g, "kind")
                    return False
                return True

            settled = await self._deliver(sub, frozenset(), wants)
            self._count_refused(sub, refused, settled)
        await self._store.hosted.checked(
            watch.cust_id,
            finish_begin=rules.watermark_after(plan, failed, watch.finish_begin),
            last_race_at=plan.last_race_at,
            now=now,
        )

    async def _tracking_guilds(self, plan: rules.HostedPlan) -> set[int]:
        if not plan.new:
            return set()
        tracking = await self._store.drivers.active_tracking()
        return {g for gs in tracking.values() for g in gs}

    async def _kinds(self, guild_ids: set[int]) -> Mapping[int, frozenset[str] | None]:
        return await self._store.race_kinds.get_many(guild_ids) if guild_ids else {}

    # --- followed leagues --------------------------------------------------------------------------

    async def _leagues(self) -> None:
        follows = await self._store.leagues.by_league()
        now = self._clock.now()
        for league_id, fs in sorted(follows.items()):
            seasons = await self._league_seasons(league_id, now)
            read_at = self._seasons[league_id][0]
            for season_id in league_rules.current_seasons(seasons, self._season_state, now, refresh=read_at == now):
                async with self._engine.slot():
                    self._request("league_sessions")
                    sessions = await self._source.get_league_sessions(league_id, season_id)
                self._season_state[season_id] = league_rules.SeasonState(
                    season_id, league_rules.last_result_at(sessions)
                )
                for sid, guilds in sorted(league_rules.new_sessions(sessions, fs).items()):
                    open_for = frozenset(g for g in guilds if (g, sid) not in self._done)
                    if open_for:
                        open_for -= await self._decided(open_for, sid)
                    if not open_for:
                        continue
                    sub = await self._subsession(sid)
                    if isinstance(sub, str):
                        self._done.update((g, sid) for g in open_for)  # not asked again
                    elif isinstance(sub, Subsession):
                        self._metrics.unofficial_races_found_total.labels(sub.kind, "league").inc()
                        kinds = await self._kinds(await self._guilds_of(sub) | open_for)
                        refused: dict[int, str] = {}

                        def wants(
                            g: int,
                            c: int,
                            kind: str = sub.kind,
                            chosen: Mapping[int, frozenset[str] | None] = kinds,
                            refused: dict[int, str] = refused,
                        ) -> bool:
                            if wanted(kind, chosen.get(g)):
                                return True
                            refused.setdefault(g, "kind")
                            return False

                        settled = await self._deliver(sub, open_for, wants)
                        self._count_refused(sub, refused, settled | open_for)

    async def _guilds_of(self, sub: Subsession) -> set[int]:
        tracking = await self._store.drivers.active_tracking()
        return {g for c in sub.cust_ids() for g in tracking.get(c, frozenset())}

    async def _league_seasons(self, league_id: int, now: float) -> list[LeagueSeason]:
        cached = self._seasons.get(league_id)
        if cached is None or now - cached[0] >= league_rules.SEASONS_REFRESH_SECONDS:
            async with self._engine.slot():
                self._request("league_seasons")
                seasons = await self._source.get_league_seasons(league_id)
            cached = (now, seasons)
            self._seasons[league_id] = cached
        return cached[1]

    async def _decided(self, guilds: frozenset[int], subsession_id: int) -> frozenset[int]:
        done = set()
        for g in guilds:
            if subsession_id in await self._store.posts.decided(g, [subsession_id]):
                done.add(g)
                self._done.add((g, subsession_id))
        return frozenset(done)

    # --- shared ------------------------------------------------------------------------------------

    async def _subsession(self, subsession_id: int) -> Subsession | str | None:
        """The race's results; None when they are not out yet or could not be read (tried again,
        with backoff), ``UNREADABLE`` once its answers stayed unreadable for over a day (logged
        and counted once, not asked again): a truncated or half-written answer is transient."""
        now = int(self._clock.now())
        bad = self._unreadable.get(subsession_id)
        if bad is not None and bad.gave_up_at is not None:
            return UNREADABLE
        if bad is not None and bad.next_try_at > now:
            return None  # its backoff is not over
        try:
            async with self._engine.slot():
                self._request("result")
                sub = await self._source.get_subsession(subsession_id)
        except NotFoundError:
            return None
        except ParseError as exc:
            verdict = after_failure(bad or PendingRace(subsession_id, now, now, "unofficial"), exc, now)
            if len(self._unreadable) >= _MEMORY:
                self._unreadable.clear()
            if verdict.give_up is None:
                if bad is None:
                    log_event(
                        log,
                        "unofficial_unreadable",
                        f"hosted or league race {subsession_id}: iRacing's results cannot be read; asking again",
                        level=logging.WARNING,
                        subsession_id=subsession_id,
                    )
                self._unreadable[subsession_id] = verdict.race
                return None
            self._unreadable[subsession_id] = replace(verdict.race, gave_up_at=now, give_up_reason=UNREADABLE)
            self._metrics.unofficial_not_posted_total.labels(UNREADABLE).inc()
            log_event(
                log,
                "unofficial_not_posted",
                f"not posting hosted or league race {subsession_id}: its results stayed unreadable for over a day",
                level=logging.WARNING,
                subsession_id=subsession_id,
                reason=UNREADABLE,
            )
            return UNREADABLE
        self._unreadable.pop(subsession_id, None)
        return sub

    async def _deliver(
        self, sub: Subsession, followers: frozenset[int], wants: Callable[[int, int], bool]
    ) -> frozenset[int]:
        settled = await self._engine.deliver_unofficial(sub, followers=followers, wants=wants)
        self.posted += len(settled)
        self._done.update((g, sub.subsession_id) for g in settled)
        return settled

    def _count_refused(self, sub: Subsession, refused: Mapping[int, str], posted: frozenset[int]) -> None:
        """A server that gets nothing of this race because of its kinds or of when it started
        tracking: logged and counted once (a server that gets it for another driver is not)."""
        s = sub.subsession_id
        for g, reason in sorted(refused.items()):
            if g in posted or (g, s) in self._not_posted:
                continue
            if len(self._not_posted) >= _MEMORY:
                self._not_posted.clear()
            self._not_posted.add((g, s))
            self._metrics.unofficial_not_posted_total.labels(reason).inc()
            log_event(
                log,
                "unofficial_not_posted",
                f"not posting {sub.kind} race {s} in server {g}: {reason}",
                guild_id=g,
                subsession_id=s,
                kind=sub.kind,
                reason=reason,
            )
