"""Several iRacing accounts behind one source: the poll engine's work spread over them.

An OAuth client may have up to three accounts on its access list. Each account is a whole
``IRacingClient``: its own login and token pair (saved under its own key), its own rate limiter
and its own login breaker. The pool gives each driver's poll to one account by rendezvous
hashing (the same driver always asks through the same account while the set stays), and
everything else to the account with the most budget left. An account whose login fails (a wrong
password, its breaker open) is set aside for a while and its work moves to the others; only
when every account fails does the error reach the engine.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from ir2dis_cog.observability.logging import log_event

from .client import IRacingClient
from .errors import AuthError
from .lap_chart import LapChart
from .leagues import LeagueSeason, LeagueSession
from .live import LiveRace, RosterEntry
from .models import HostedSession, RecentRace, Subsession
from .ratelimit import RateBudget, Usage
from .schedule import SeasonSchedule
from .search_series import SeriesRace

log = logging.getLogger("red.ir2dis.iracing")

T = TypeVar("T")
SET_ASIDE_SECONDS = 300.0  # an account whose login failed is tried again after this long
MAX_ACCOUNTS = 3


# --- pure rules -------------------------------------------------------------------------------


def pool_budget(budgets: Sequence[RateBudget]) -> RateBudget:
    """The engine's budget over several accounts: the sum of what each reports (reset: the soonest)."""
    known = [b for b in budgets if b.limit is not None]
    if not known:
        return RateBudget(None, None, None)
    limit = sum(b.limit or 0 for b in known)
    remaining = sum(b.limit or 0 if b.remaining is None else b.remaining for b in known)
    resets = [b.reset_at for b in known if b.reset_at is not None]
    return RateBudget(limit, remaining, min(resets) if resets else None)


def _weight(account: int, key: str) -> int:
    digest = hashlib.blake2b(f"{account}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def rendezvous_order(key: str, accounts: Sequence[int]) -> list[int]:
    """Accounts in the order ``key`` tries them: its own first, then its fallbacks."""
    return sorted(accounts, key=lambda a: (-_weight(a, key), a))


def roomiest_order(budgets: Sequence[tuple[int, RateBudget]]) -> list[int]:
    """Accounts by the budget they have left, most first (unknown budgets count as full)."""

    def room(b: RateBudget) -> float:
        if b.limit is None:
            return float("inf")
        return float(b.remaining if b.remaining is not None else b.limit)

    return [a for a, _ in sorted(budgets, key=lambda ab: (-room(ab[1]), ab[0]))]


@dataclass(frozen=True)
class AccountView:
    """One account in ``/iracing status``: its login, its budget and who spent it."""

    number: int
    auth: str
    usage: Usage
    set_aside_until: float | None = None


# --- the shell -----------------------------------------------------------------------------------


class AccountPool:
    """The engine's ``ResultsSource`` (and the live watcher's) over one to three accounts."""

    def __init__(self, clients: Sequence[IRacingClient], *, clock: Callable[[], float] = time.time) -> None:
        if not 1 <= len(clients) <= MAX_ACCOUNTS:
            raise ValueError(f"an OAuth client has 1 to {MAX_ACCOUNTS} accounts")
        self._clients = list(clients)
        self._clock = clock
        self._aside: dict[int, float] = {}  # account index -> until when it is set aside

    @property
    def clients(self) -> list[IRacingClient]:
        return list(self._clients)

    @property
    def primary(self) -> IRacingClient:
        """The first account: members' commands and their caches go through it."""
        return self._clients[0]

    def _usable(self) -> list[int]:
        now = self._clock()
        usable = [i for i in range(len(self._clients)) if self._aside.get(i, 0.0) <= now]
        return usable or list(range(len(self._clients)))  # all set aside: try them all the same

    @property
    def budget(self) -> RateBudget:
        return pool_budget([self._clients[i].budget for i in self._usable()])

    def usage(self) -> Usage:
        return self.primary.usage()

    def set_interactive_share(self, share: float) -> None:
        for client in self._clients:
            client.set_interactive_share(share)

    @contextmanager
    def lane(self, lane: str) -> Iterator[None]:
        # The lane is a context variable every client reads; any client can set it.
        with self.primary.lane(lane):
            yield

    def auth_status(self) -> str:
        return self.primary.auth_status()

    def in_maintenance(self) -> bool:
        return any(c.in_maintenance() for c in self._clients)

    def accounts(self) -> list[AccountView]:
        now = self._clock()
        return [
            AccountView(
                i + 1,
                c.auth_status(),
                c.usage(),
                self._aside[i] if self._aside.get(i, 0.0) > now else None,
            )
            for i, c in enumerate(self._clients)
        ]

    # --- the calls -----------------------------------------------------------------------------

    async def get_recent_races(self, cust_id: int) -> list[RecentRace]:
        order = rendezvous_order(str(cust_id), self._usable())
        return await self._first_that_works(order, lambda c: c.get_recent_races(cust_id))

    async def get_subsession(self, subsession_id: int) -> Subsession:
        return await self._first_that_works(self._roomiest(), lambda c: c.get_subsession(subsession_id))

    async def get_lap_chart(self, subsession_id: int) -> LapChart:
        return await self._first_that_works(self._roomiest(), lambda c: c.get_lap_chart(subsession_id))

    async def get_live_races(self) -> list[LiveRace]:
        return await self._first_that_works(self._roomiest(), lambda c: c.get_live_races())

    async def get_roster(self, subsession_id: int) -> list[RosterEntry]:
        return await self._first_that_works(self._roomiest(), lambda c: c.get_roster(subsession_id))

    async def get_season_schedule(self, season_id: int) -> SeasonSchedule:
        return await self._first_that_works(self._roomiest(), lambda c: c.get_season_schedule(season_id))

    async def search_series(self, begin: datetime, end: datetime) -> list[SeriesRace]:
        return await self._first_that_works(self._roomiest(), lambda c: c.search_series(begin, end))

    # Hosted and league races (poller/unofficial.py) ask the pool as they ask one client.
    async def search_hosted(self, cust_id: int, since: datetime) -> list[HostedSession]:
        order = rendezvous_order(str(cust_id), self._usable())
        return await self._first_that_works(order, lambda c: c.search_hosted(cust_id, since))

    async def get_league_seasons(self, league_id: int) -> list[LeagueSeason]:
        return await self._first_that_works(self._roomiest(), lambda c: c.get_league_seasons(league_id))

    async def get_league_sessions(self, league_id: int, season_id: int) -> list[LeagueSession]:
        return await self._first_that_works(self._roomiest(), lambda c: c.get_league_sessions(league_id, season_id))

    def _roomiest(self) -> list[int]:
        return roomiest_order([(i, self._clients[i].budget) for i in self._usable()])

    async def _first_that_works(self, order: list[int], call: Callable[[IRacingClient], Awaitable[T]]) -> T:
        failure: AuthError | None = None
        for i in order:
            try:
                return await call(self._clients[i])
            except AuthError as exc:
                # This account cannot log in (wrong password, breaker open): its work moves on.
                failure = exc
                self._set_aside(i, exc)
        assert failure is not None
        raise failure

    def _set_aside(self, index: int, exc: AuthError) -> None:
        now = self._clock()
        if self._aside.get(index, 0.0) <= now:
            log_event(
                log,
                "account_set_aside",
                f"iRacing account {index + 1} cannot log in ({exc}); its work goes to the other accounts",
                level=logging.WARNING,
                account=index + 1,
                accounts=len(self._clients),
            )
        self._aside[index] = now + SET_ASIDE_SECONDS
