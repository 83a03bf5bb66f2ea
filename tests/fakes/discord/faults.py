"""Rules a test arms to make the fake misbehave: answer with an error (fault) or hold the answer back (stall)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar


@dataclass
class Rule:
    """Matches the next `remaining` requests; mutable because every match uses one up."""

    method: str  # upper case, or "*"
    path: str  # fnmatch pattern over the path after /api/v10
    remaining: int

    def take(self, method: str, path: str) -> bool:
        if self.remaining > 0 and self.method in (method, "*") and fnmatch.fnmatchcase(path, self.path):
            self.remaining -= 1
            return True
        return False


@dataclass
class FaultRule(Rule):
    status: int
    retry_after: float
    code: int
    message: str
    # The request takes effect first (Discord made the message), then the answer is the error:
    # a 5xx from a proxy whose backend had already done the work.
    deliver: bool = False

    def body(self) -> dict[str, Any]:
        """The JSON Discord answers with for this status."""
        if self.status == 429:
            message = self.message or "You are being rate limited."
            return {"message": message, "retry_after": self.retry_after, "global": False}
        return {"message": self.message or f"{self.status}: fault injected by the test", "code": self.code}


@dataclass
class StallRule(Rule):
    deliver: bool  # the request takes effect before its answer is held


R = TypeVar("R", bound=Rule)


def take_first(rules: Iterable[R], method: str, path: str) -> R | None:
    """The first rule that matches (using one of its matches up), or None."""
    return next((r for r in rules if r.take(method, path)), None)
