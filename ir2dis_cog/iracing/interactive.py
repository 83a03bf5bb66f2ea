"""The client as members' commands see it: their share of the budget, never a wait, caches.

Every call runs in the interactive lane (see ``ratelimit.py``): when the members' share of the
window is spent it fails at once with ``InteractiveBudgetSpent`` and the time to try again, so
nothing a member asked is left queued to be spent later. Answers are kept a short while and
identical requests in flight are shared, so typing a name costs a request or two, and ten people
asking for one driver's last race cost one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, TypeVar

from ir2dis_cog.iracing.cache import SingleFlight, TtlCache, narrowed_lookup, normalise_term
from ir2dis_cog.iracing.lap_chart import LapChart
from ir2dis_cog.iracing.models import DriverLookup, Member, RecentRace, Subsession
from ir2dis_cog.iracing.ratelimit import INTERACTIVE

if TYPE_CHECKING:
    from ir2dis_cog.iracing.client import IRacingClient

T = TypeVar("T")

# How long answers are kept. A driver's races change when a race ends (short); names rarely; a
# finished race's results not at all.
RECENT_RACES_TTL = 60.0
LOOKUP_TTL = 600.0
MEMBER_TTL = 600.0
RESULT_TTL = 1800.0


class InteractiveClient:
    """The members' view of one ``IRacingClient``: the same calls, in the interactive lane."""

    def __init__(self, client: IRacingClient, *, clock: Callable[[], float]) -> None:
        self._client = client
        self.lookups: TtlCache[str, list[DriverLookup]] = TtlCache(LOOKUP_TTL, clock)
        self.members: TtlCache[int, Member] = TtlCache(MEMBER_TTL, clock, max_entries=8192)
        self.recent: TtlCache[int, list[RecentRace]] = TtlCache(RECENT_RACES_TTL, clock)
        self.results: TtlCache[int, Subsession] = TtlCache(RESULT_TTL, clock, max_entries=256)
        self.charts: TtlCache[int, LapChart] = TtlCache(RESULT_TTL, clock, max_entries=256)
        self._flights: SingleFlight[tuple[str, object], object] = SingleFlight()

    # --- what the bot learnt elsewhere (the poller, the watcher) -----------------------------------

    def saw_recent(self, cust_id: int, races: list[RecentRace]) -> None:
        """A fresher list of a driver's races, from any lane: a member asking next sees it."""
        self.recent.put(cust_id, races)

    def saw_results(self, subsession: Subsession) -> None:
        """New results: kept for members, and a cached race list of its drivers that does not show
        this race yet is stale (``lastrace`` right after a post must show the posted race)."""
        self.results.put(subsession.subsession_id, subsession)
        for cust_id in subsession.cust_ids():
            races = self.recent.get(cust_id)
            if races is not None and all(r.subsession_id != subsession.subsession_id for r in races):
                self.recent.forget(cust_id)

    async def _spend(self, call: Callable[[], Awaitable[T]]) -> T:
        with self._client.lane(INTERACTIVE):
            return await call()

    async def _once(self, kind: str, key: object, call: Callable[[], Awaitable[T]]) -> T:
        """One request per (kind, key) in flight; the others wait for its answer."""

        async def spend() -> object:
            return await self._spend(call)

        answer: T = await self._flights.run((kind, key), spend)  # type: ignore[assignment]
        return answer

    # --- name lookups ---------------------------------------------------------------------------

    def cached_search(self, text: str) -> list[DriverLookup] | None:
        """A lookup answered from the cache alone (this term, or a shorter term it starts with)."""
        term = normalise_term(text)
        if not term:
            return []
        hit = self.lookups.get(term)
        if hit is not None:
            return hit
        return narrowed_lookup(term, self.lookups.items())

    async def search_drivers(self, text: str) -> list[DriverLookup]:
        term = normalise_term(text)
        if not term:
            return []
        cached = self.cached_search(term)
        if cached is not None:
            return cached
        sent = " ".join(text.split())[:100]

        async def fetch() -> list[DriverLookup]:
            rows = await self._client.search_drivers(sent)
            self.lookups.put(term, rows)
            return rows

        return await self._once("lookup", term, fetch)

    async def search_within(self, text: str, seconds: float) -> list[DriverLookup]:
        """For autocomplete: the cache, else a request that answers within ``seconds``, else nothing.

        A request that outlives the wait goes on, and its answer serves the next keystroke.
        """
        cached = self.cached_search(text)
        if cached is not None:
            return cached
        try:
            return await asyncio.wait_for(self.search_drivers(text), timeout=seconds)
        except TimeoutError:
            return []

    # --- members, races, results -------------------------------------------------------------------

    async def get_members(self, cust_ids: Iterable[int]) -> list[Member]:
        wanted = list(dict.fromkeys(cust_ids))
        known = {c: m for c in wanted if (m := self.members.get(c)) is not None}
        missing = tuple(sorted(c for c in wanted if c not in known))
        if missing:

            async def fetch() -> list[Member]:
                found = await self._client.get_members(missing)
                for member in found:
                    self.members.put(member.cust_id, member)
                return found

            for member in await self._once("members", missing, fetch):
                known[member.cust_id] = member
        return [known[c] for c in wanted if c in known]

    async def get_recent_races(self, cust_id: int) -> list[RecentRace]:
        hit = self.recent.get(cust_id)
        if hit is not None:
            return hit

        async def fetch() -> list[RecentRace]:
            races = await self._client.get_recent_races(cust_id)
            self.recent.put(cust_id, races)
            return races

        return await self._once("recent", cust_id, fetch)

    async def get_subsession(self, subsession_id: int) -> Subsession:
        hit = self.results.get(subsession_id)
        if hit is not None:
            return hit

        async def fetch() -> Subsession:
            subsession = await self._client.get_subsession(subsession_id)
            self.results.put(subsession_id, subsession)
            return subsession

        return await self._once("result", subsession_id, fetch)

    async def get_lap_chart(self, subsession_id: int) -> LapChart:
        hit = self.charts.get(subsession_id)
        if hit is not None:
            return hit

        async def fetch() -> LapChart:
            chart = await self._client.get_lap_chart(subsession_id)
            self.charts.put(subsession_id, chart)
            return chart

        return await self._once("chart", subsession_id, fetch)
