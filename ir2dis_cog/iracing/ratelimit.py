"""The iRacing rate-limit budget: read from ``x-ratelimit-*`` headers, spent before sending.

Every answer of the data API announces the limit, what is left and when the window resets
(epoch seconds). We keep our own count between answers (requests in flight have spent budget
the last header does not know about yet) and hold new requests while the budget is down to a
small reserve, until the reset. After a 429 nothing is sent before the announced reset.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .errors import RateLimitedError

# A little past the announced reset: our clock and iRacing's need not agree to the millisecond.
RESET_MARGIN_SECONDS = 0.25
# Without a reset header after a 429, wait a whole window (iRacing's is one minute).
DEFAULT_WINDOW_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class RateBudget:
    limit: int | None
    remaining: int | None
    reset_at: float | None  # epoch seconds


def parse_rate_headers(headers: Mapping[str, str]) -> RateBudget | None:
    """The budget an answer announces, or None when it carries no (usable) rate-limit headers."""

    def number(name: str) -> float | None:
        raw = headers.get(name)
        if raw is None:
            return None
        try:
            return float(raw)
        except ValueError:
            return None

    limit, remaining, reset = (number(f"x-ratelimit-{n}") for n in ("limit", "remaining", "reset"))
    if limit is None and remaining is None and reset is None:
        return None
    return RateBudget(
        limit=int(limit) if limit is not None else None,
        remaining=max(0, int(remaining)) if remaining is not None else None,
        reset_at=reset,
    )


def hold_until(budget: RateBudget, reserve: int, now: float) -> float | None:
    """When a new request may go out: None for now, else the epoch time to wait for (pure)."""
    if budget.reset_at is None or budget.reset_at <= now:
        return None  # no window known, or it has rolled over
    if budget.remaining is None or budget.remaining > reserve:
        return None
    return budget.reset_at + RESET_MARGIN_SECONDS


class RateLimiter:
    """Holds requests while the budget is at the reserve; blocks everything after a 429."""

    def __init__(
        self,
        *,
        reserve: int = 4,
        max_wait: float = 300.0,
        clock: Callable[[], float] = time.time,
        on_update: Callable[[RateBudget], None] | None = None,
    ) -> None:
        self._reserve = reserve
        self._max_wait = max_wait
        self._clock = clock
        self._on_update = on_update
        self._budget = RateBudget(None, None, None)
        self._blocked_until: float | None = None

    @property
    def budget(self) -> RateBudget:
        return self._budget

    @property
    def blocked_until(self) -> float | None:
        return self._blocked_until

    async def acquire(self) -> None:
        """Wait until a request may be sent, then count it against the budget."""
        while True:
            now = self._clock()
            wait_for = self._blocked_until if self._blocked_until and self._blocked_until > now else None
            if wait_for is None:
                wait_for = hold_until(self._budget, self._reserve, now)
            if wait_for is None:
                break
            if wait_for - now > self._max_wait:
                raise RateLimitedError(wait_for)
            await asyncio.sleep(max(0.0, wait_for - now))
        b = self._budget
        if b.reset_at is not None and b.reset_at <= self._clock():
            # The window rolled over: the old count no longer holds.
            self._budget = RateBudget(b.limit, b.limit, None)
        elif b.remaining is not None:
            self._budget = RateBudget(b.limit, max(0, b.remaining - 1), b.reset_at)

    def update(self, headers: Mapping[str, str]) -> None:
        """Take in what an answer says about the budget."""
        announced = parse_rate_headers(headers)
        if announced is None:
            return
        current = self._budget
        remaining = announced.remaining
        # Within one window, answers can arrive out of order: the lower count is the true one.
        same_window = current.reset_at is not None and current.reset_at == announced.reset_at
        if same_window and remaining is not None and current.remaining is not None:
            remaining = min(remaining, current.remaining)
        self._budget = RateBudget(
            announced.limit if announced.limit is not None else current.limit,
            remaining,
            announced.reset_at if announced.reset_at is not None else current.reset_at,
        )
        if self._on_update is not None:
            self._on_update(self._budget)

    def block(self, reset_at: float | None) -> float:
        """After a 429: nothing goes out before ``reset_at`` (or a whole window when unknown)."""
        now = self._clock()
        until = reset_at if reset_at is not None and reset_at > now else now + DEFAULT_WINDOW_SECONDS
        until += RESET_MARGIN_SECONDS
        self._blocked_until = max(self._blocked_until or 0.0, until)
        b = self._budget
        self._budget = RateBudget(b.limit, 0, reset_at if reset_at is not None else b.reset_at)
        if self._on_update is not None:
            self._on_update(self._budget)
        return self._blocked_until
