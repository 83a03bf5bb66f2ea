"""The I/O shell for hosted and league races, run by the engine once per cycle.

Tracked drivers: one ``search_hosted`` per due driver (``hosted.py`` says who and from when);
followed leagues: ``league/seasons`` now and then and ``league/season_sessions`` per current
season (``leagues.py``), one request per league and season whatever the number of servers
following it. Each new race is fetched once (``results/get``) and handed to the engine's
``deliver_unofficial``: the outbox claim makes it one card per server, whatever found it. Every
request goes through the engine's pacer, in the poll lane.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from ir2dis_cog.core.kinds import wanted
from ir2dis_cog.iracing.errors import NotFoundError, ParseError, RateLimitedError
from ir2dis_cog.iracing.leagues import LeagueSeason, LeagueSession
from ir2dis_cog.iracing.models import HostedSession, Subsession
from ir2dis_cog.observability.logging import log_event
from ir2dis_cog.poller import hosted as rules
from ir2dis_cog.poller import leagues as league_rules
from ir2dis_cog.poller.ports import Clock
from ir2dis_cog.store import HostedWatch, Store

if TYPE_CHECKING:
    from ir2dis_cog.poller.engine import PollEngine

log = logging.getLogger("red.ir2dis.poller.unofficial")


class UnofficialSource(Protocol):
    async def search_hosted(self, cust_id: int, since: datetime) -> list[HostedSession]: ...

    async def get_league_seasons(self, league_id: int) -> list[LeagueSeason]: ...

    async def get_league_sessions(self, league_id: int, season_id: int) -> list[LeagueSession]: ...

    async def get_subsession(self, subsession_id: int) -> Subsession: ...


class UnofficialRaces:
    def __init__(self, engine: PollEngine, store: Store, clock: Clock) -> None:
        self._engine = engine
        self._store = store
        self._clock = clock
        self._seasons: dict[int, tuple[float, list[LeagueSeason]]] = {}  # league -> (read at, seasons)
        self._season_state: dict[int, league_rules.SeasonState] = {}
        self._done: set[tuple[int, int]] = set()  # (guild, subsession) settled by this process
        self.requests = 0
        self.posted = 0
        self.skipped_no_race = 0

    @property
    def _source(self) -> UnofficialSource:
        source: UnofficialSource = self._engine.source  # type: ignore[assignment]  # the client
        return source

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
            self.requests += 1
            rows = await self._source.search_hosted(watch.cust_id, begin)
        plan = rules.plan_rows(watch, rows)
        self.skipped_no_race += plan.skipped_no_race
        failed: list[HostedSession] = []
        since = await self._store.drivers.tracked_since([watch.cust_id]) if plan.new else {}
        kinds = await self._kinds(await self._tracking_guilds(plan))
        for row in plan.new:
            sub = await self._subsession(row.subsession_id)
            if sub is None:
                failed.append(row)
                continue
            finished = rules.end_of(row) or now

            def wants(g: int, c: int, kind: str = sub.kind, finished: int = finished) -> bool:
                tracked_in_time = rules.tracked_before(finished, since, g, c) if c == watch.cust_id else True
                return tracked_in_time and wanted(kind, kinds.get(g))

            await self._deliver(sub, frozenset(), wants)
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
                    self.requests += 1
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
                    if sub is not None:
                        kinds = await self._kinds(await self._guilds_of(sub) | open_for)

                        def wants(
                            g: int, c: int, kind: str = sub.kind, chosen: Mapping[int, frozenset[str] | None] = kinds
                        ) -> bool:
                            return wanted(kind, chosen.get(g))

                        await self._deliver(sub, open_for, wants)

    async def _guilds_of(self, sub: Subsession) -> set[int]:
        tracking = await self._store.drivers.active_tracking()
        return {g for c in sub.cust_ids() for g in tracking.get(c, frozenset())}

    async def _league_seasons(self, league_id: int, now: float) -> list[LeagueSeason]:
        cached = self._seasons.get(league_id)
        if cached is None or now - cached[0] >= league_rules.SEASONS_REFRESH_SECONDS:
            async with self._engine.slot():
                self.requests += 1
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

    async def _subsession(self, subsession_id: int) -> Subsession | None:
        try:
            async with self._engine.slot():
                self.requests += 1
                return await self._source.get_subsession(subsession_id)
        except NotFoundError:
            return None  # results not out yet: the race is tried again
        except ParseError:
            log_event(
                log,
                "unofficial_unreadable",
                "a hosted or league race iRacing cannot give us",
                level=logging.WARNING,
                subsession_id=subsession_id,
            )
            return None

    async def _deliver(self, sub: Subsession, followers: frozenset[int], wants: Callable[[int, int], bool]) -> None:
        settled = await self._engine.deliver_unofficial(sub, followers=followers, wants=wants)
        self.posted += len(settled)
        self._done.update((g, sub.subsession_id) for g in settled)
