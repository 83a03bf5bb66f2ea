"""iRacing's rate limit: a fixed window of requests, its `x-ratelimit-*` headers, and a forced block."""

from __future__ import annotations

import math
from dataclasses import dataclass


def header_number(value: float) -> str:
    """A reset time as iRacing writes it: whole seconds without a fraction."""
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"


@dataclass
class RateWindow:
    """Requests counted in the current window, and a block armed by the `rate_limit` fault.

    Mutable: every data request counts. The limit and the window length are passed in on each
    call because tests change them on the fake between requests.
    """

    index: int = -1
    count: int = 0
    blocked_until: float | None = None
    blocked_status: int = 429

    def block(self, now: float, reset_in: float, status: int) -> None:
        self.blocked_until = float(math.ceil(now + reset_in))
        self.blocked_status = status

    def blocked(self, now: float) -> bool:
        return self.blocked_until is not None and now < self.blocked_until

    def count_request(self, now: float, limit: int, window: float) -> dict[str, str]:
        """Counts one request; the headers its answer carries."""
        index = math.floor(now / window)
        if index != self.index:
            self.index, self.count = index, 0
        self.count += 1
        if self.blocked_until is not None and self.blocked(now):
            return {
                "x-ratelimit-limit": str(limit),
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": header_number(self.blocked_until),
            }
        return {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(max(0, limit - self.count)),
            "x-ratelimit-reset": header_number((index + 1) * window),
        }

    def over(self, limit: int) -> bool:
        return self.count > limit
