"""Faults a test arms to make the fake misbehave; see `FAULT_KINDS` for what each one does."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS = frozenset(
    {
        "maintenance",  # data request -> 503 Site Maintenance
        "server_error",  # data request -> 500 (param: status)
        "unauthorized",  # data request -> 401 whatever the token
        "slow",  # data (or S3 with target="s3") request waits `delay` seconds first
        "disconnect",  # data request: the connection is dropped without an answer
        "truncated",  # S3 body cut in half
        "link_expired",  # S3 -> 403 as for an expired link
        "token_error",  # token endpoint -> 500 (param: status)
        "rate_limit",  # immediate: 429 "Rate limit exceeded" until now + reset_in (param: status 429|200)
        "captcha",  # sticky: legacy login demands a CAPTCHA
        "legacy_refused",  # sticky: legacy login answers "Legacy authorization refused."
        "expire_tokens",  # immediate: every access token expires now
    }
)
# The kinds that hit a number of requests; the others act at once or stick until cleared.
COUNTED = (
    "maintenance",
    "server_error",
    "unauthorized",
    "slow",
    "disconnect",
    "truncated",
    "link_expired",
    "token_error",
)


@dataclass
class Faults:
    """Armed faults: a queue of parameters per counted kind, plus the sticky legacy-login ones.

    Mutable: every request that meets a fault uses one up.
    """

    queues: dict[str, deque[dict[str, Any]]] = field(default_factory=lambda: {k: deque() for k in COUNTED})
    captcha: bool = False
    legacy_refused: bool = False

    def arm(self, kind: str, count: int, params: dict[str, Any]) -> None:
        for _ in range(count):
            self.queues[kind].append(dict(params))

    def take(self, kind: str, target: str = "data") -> dict[str, Any] | None:
        """The next fault of `kind` if it aims at `target` ("data" or "s3"), used up; else None."""
        queue = self.queues[kind]
        if queue and queue[0].get("target", "data") == target:
            return queue.popleft()
        return None

    def pop(self, kind: str) -> dict[str, Any] | None:
        """The next fault of `kind` whatever its target, used up; else None."""
        queue = self.queues[kind]
        return queue.popleft() if queue else None

    def clear(self) -> None:
        for queue in self.queues.values():
            queue.clear()
        self.captcha = self.legacy_refused = False
