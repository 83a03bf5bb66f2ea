"""Short-lived answers for members' commands, so typing a name or asking twice costs no budget.

``TtlCache`` is a plain mapping with an expiry per entry and a size bound (the clock injected);
``SingleFlight`` lets concurrent identical requests share the one in flight (ten people asking
``lastrace`` of one driver cost one request). ``narrowed_lookup`` answers a longer search term
from a shorter one's complete answer.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from ir2dis_cog.iracing.models import DriverLookup

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

# lookup/drivers answers at most this many rows (the fake's cap; iRacing's answers seen had fewer):
# a shorter answer holds every match, so a longer term can be answered from it.
LOOKUP_ROWS_CAP = 25


@dataclass(frozen=True, slots=True)
class _Entry(Generic[V]):
    value: V
    expires_at: float


class TtlCache(Generic[K, V]):
    """Entries live ``ttl`` seconds; past ``max_entries`` the least recently used go first."""

    def __init__(self, ttl: float, clock: Callable[[], float], *, max_entries: int = 2048) -> None:
        self.ttl = ttl
        self._clock = clock
        self._max = max_entries
        self._entries: OrderedDict[K, _Entry[V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry.value

    def put(self, key: K, value: V) -> None:
        self._entries[key] = _Entry(value, self._clock() + self.ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)

    def items(self) -> Iterable[tuple[K, V]]:
        """The live entries (expired ones are skipped, not returned)."""
        now = self._clock()
        return [(k, e.value) for k, e in list(self._entries.items()) if e.expires_at > now]

    def __len__(self) -> int:
        return len(self._entries)


class SingleFlight(Generic[K, V]):
    """One request per key at a time: callers of a key already in flight wait for its answer."""

    def __init__(self) -> None:
        self._flights: dict[K, asyncio.Future[V]] = {}

    async def run(self, key: K, call: Callable[[], Awaitable[V]]) -> V:
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.ensure_future(call())
            self._flights[key] = flight
            flight.add_done_callback(lambda _f: self._flights.pop(key, None))
        # Shielded: one caller giving up (an autocomplete timing out) does not cancel the others'
        # request, and its answer still reaches the cache.
        return await asyncio.shield(flight)

    def __len__(self) -> int:
        return len(self._flights)


def normalise_term(text: str) -> str:
    """A search term as the cache keys it: trimmed, case-folded, inner spaces collapsed."""
    return " ".join(text.split()).casefold()[:100]


def narrowed_lookup(term: str, cached: Iterable[tuple[str, Sequence[DriverLookup]]]) -> list[DriverLookup] | None:
    """The answer for ``term`` from a cached answer of a term it starts with, or None (pure).

    Only a complete answer (fewer rows than iRacing's cap) can be narrowed: every name that
    contains the longer term contains the shorter one. Digits may match a customer id, which a
    name filter cannot tell, so they are never narrowed.
    """
    if not term or term.isdigit():
        return None
    best: tuple[str, Sequence[DriverLookup]] | None = None
    for shorter, rows in cached:
        usable = shorter and term.startswith(shorter) and len(rows) < LOOKUP_ROWS_CAP and not shorter.isdigit()
        if usable and (best is None or len(shorter) > len(best[0])):
            best = (shorter, rows)
    if best is None:
        return None
    return [row for row in best[1] if term in normalise_term(row.display_name)]
