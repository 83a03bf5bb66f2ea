"""Faults a test arms to make the fake misbehave; see `FAULT_KINDS` for what each one does."""

from __future__ import annotations

from collections.abc import Callable
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
        # results/get of one race (param: subsession_id; without it, of any race) answers badly:
        "results_truncated",  # its S3 document cut in half, as a half-written file
        "results_html",  # the data request answers an HTML page with status 200
        "results_incomplete",  # its S3 document is valid JSON without `session_results`
        "rate_limit",  # immediate: 429 "Rate limit exceeded" until now + reset_in (param: status 429|200)
        "captcha",  # sticky: legacy login demands a CAPTCHA
        "legacy_refused",  # sticky: legacy login answers "Legacy authorization refused."
        "expire_tokens",  # immediate: every access token expires now
    }
)
# The kinds that hit a number of requests (or every one until switched off); the others act at
# once or stick until cleared.
COUNTED = (
    "maintenance",
    "server_error",
    "unauthorized",
    "slow",
    "disconnect",
    "truncated",
    "link_expired",
    "token_error",
    "results_truncated",
    "results_html",
    "results_incomplete",
)
RESULTS_FAULTS = ("results_truncated", "results_html", "results_incomplete")


@dataclass
class Armed:
    """One armed fault: its parameters and how many more requests it hits (None: until cleared)."""

    params: dict[str, Any]
    left: int | None

    def matches(self, target: str, subsession_id: int | None) -> bool:
        if self.params.get("target", "data") != target:
            return False
        wanted = self.params.get("subsession_id")
        return wanted is None or (subsession_id is not None and int(wanted) == subsession_id)


@dataclass
class Faults:
    """Armed faults: a list per counted kind (the first that matches a request is used), plus the
    sticky legacy-login ones.

    Mutable: every request that meets a counted fault uses one of its hits up.
    """

    queues: dict[str, list[Armed]] = field(default_factory=lambda: {k: [] for k in COUNTED})
    captcha: bool = False
    legacy_refused: bool = False

    def arm(self, kind: str, count: int | None, params: dict[str, Any]) -> None:
        """The next `count` matching requests meet this fault; `count=None`: every one until cleared."""
        if count is None or count > 0:
            self.queues[kind].append(Armed(dict(params), count))

    def take(self, kind: str, target: str = "data", subsession_id: int | None = None) -> dict[str, Any] | None:
        """The parameters of the first fault of `kind` aimed at `target` (and this race, for those
        that name one), one hit used up; else None."""
        return self._use(kind, lambda a: a.matches(target, subsession_id))

    def pop(self, kind: str) -> dict[str, Any] | None:
        """The next fault of `kind` whatever its target, one hit used up; else None."""
        return self._use(kind, lambda a: True)

    def _use(self, kind: str, fits: Callable[[Armed], bool]) -> dict[str, Any] | None:
        queue = self.queues[kind]
        for i, armed in enumerate(queue):
            if fits(armed):
                if armed.left is not None:
                    armed.left -= 1
                    if armed.left <= 0:
                        del queue[i]
                return armed.params
        return None

    def armed(self, kind: str) -> bool:
        return bool(self.queues[kind])

    def clear(self, kind: str | None = None) -> None:
        """Switch off one counted kind, or everything (the sticky ones too) when `kind` is None."""
        if kind is not None:
            self.queues[kind].clear()
            return
        for queue in self.queues.values():
            queue.clear()
        self.captcha = self.legacy_refused = False
