"""The iRacing rate-limit budget: never more requests into a window than it allows.

iRacing announces on every answer the limit, what is left and when the window resets (epoch
seconds), but not where its windows begin, and a request sent just before a reset may be
counted after it. So the limiter keeps its own log of what it sent and admits a request only
while fewer than the budget (limit less a small reserve) went out in the last window plus a
margin: a rule that holds for any alignment of iRacing's windows, at the rollover too, and that
releases waiters at the pace the window frees up instead of all at once. The announced
``remaining`` still counts (another user of the same account spends it too): at the reserve,
nothing goes out before the announced reset. After a 429 nothing is sent before the reset.

Requests belong to a lane: the poll engine (``poller``, and the live watcher's ``watcher``) or
members' commands (``interactive``). Interactive requests may use at most a share of the budget
and never wait: when their share is spent they fail at once with the time to try again. The
poller lanes plan on the rest, so members cannot spend what the engine counts on.

The rules are pure functions over ``LimiterState``; ``RateLimiter`` holds the state and waits.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace

from .errors import RateLimitedError

# A little past the announced reset: our clock and iRacing's need not agree to the millisecond.
RESET_MARGIN_SECONDS = 0.25
# iRacing's window is one minute; also how long we wait after a 429 without a reset header.
DEFAULT_WINDOW_SECONDS = 60.0
DEFAULT_INTERACTIVE_SHARE = 0.2

POLLER = "poller"
WATCHER = "watcher"  # the live watcher spends the engine's part of the budget
INTERACTIVE = "interactive"
LANES = (POLLER, WATCHER, INTERACTIVE)
ENGINE_LANES = frozenset({POLLER, WATCHER})


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


# --- pure rules -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Policy:
    """How the budget is spent: the window we count in, the reserve kept back, the members' share."""

    window: float = DEFAULT_WINDOW_SECONDS
    margin: float = RESET_MARGIN_SECONDS
    reserve: int = 4
    interactive_share: float = DEFAULT_INTERACTIVE_SHARE

    @property
    def span(self) -> float:
        """How far back a sent request still counts: a window, plus the clock and travel margin."""
        return self.window + self.margin


@dataclass(frozen=True, slots=True)
class Sent:
    at: float
    lane: str


@dataclass(frozen=True, slots=True)
class Announced:
    """What one answer said is left, and when its request was sent (later ones it cannot know)."""

    remaining: int
    reset_at: float
    sent_at: float


@dataclass(frozen=True, slots=True)
class LimiterState:
    sent: tuple[Sent, ...] = ()  # oldest first, only those within the policy's span
    limit: int | None = None  # None until an answer announces it
    announced: Announced | None = None  # the answer of the current window that left the least
    blocked_until: float | None = None  # after a 429
    learning: int = 0  # requests out while the limit is not known yet


@dataclass(frozen=True, slots=True)
class Caps:
    total: int  # requests per window, all lanes (limit less the reserve)
    interactive: int  # of those, at most this many for members' commands

    @property
    def engine(self) -> int:
        return self.total - self.interactive


def caps(limit: int, policy: Policy) -> Caps:
    total = max(1, limit - policy.reserve)
    interactive = math.floor(total * policy.interactive_share) if total > 1 else 0
    return Caps(total, min(interactive, total - 1))


def prune(state: LimiterState, now: float, policy: Policy) -> LimiterState:
    """Forget requests that no longer count, an announcement whose window is over, an old block."""
    cutoff = now - policy.span
    sent = tuple(s for s in state.sent if s.at > cutoff)
    announced = state.announced if state.announced and state.announced.reset_at > now else None
    blocked = state.blocked_until if state.blocked_until is not None and state.blocked_until > now else None
    if sent == state.sent and announced is state.announced and blocked == state.blocked_until:
        return state
    return replace(state, sent=sent, announced=announced, blocked_until=blocked)


def _count(sent: tuple[Sent, ...], lanes: frozenset[str]) -> int:
    return sum(1 for s in sent if s.lane in lanes)


def announced_left(state: LimiterState) -> int | None:
    """What iRacing's last word leaves now: its ``remaining`` less what we sent after that request."""
    a = state.announced
    if a is None:
        return None
    return a.remaining - sum(1 for s in state.sent if s.at > a.sent_at)


def _frees_at(sent: tuple[Sent, ...], lanes: frozenset[str], over: int, policy: Policy) -> float:
    """When the log of ``lanes`` is down by ``over`` requests: the ``over``-th oldest leaves the span."""
    mine = [s.at for s in sent if s.lane in lanes]
    return mine[over - 1] + policy.span


def admit_at(state: LimiterState, lane: str, now: float, policy: Policy) -> float:
    """The earliest time a request of ``lane`` may go out: ``now`` means at once (pure).

    ``math.inf`` while the limit is unknown and the first request is still out: its answer tells.
    """
    state = prune(state, now, policy)
    if state.blocked_until is not None:
        return state.blocked_until
    if state.limit is None:
        return now if state.learning == 0 else math.inf
    c = caps(state.limit, policy)
    every = frozenset(LANES)
    lanes = frozenset({INTERACTIVE}) if lane == INTERACTIVE else ENGINE_LANES
    cap = c.interactive if lane == INTERACTIVE else c.engine
    when = now
    used = _count(state.sent, lanes)
    if used >= cap:
        if cap <= 0:
            return math.inf
        when = max(when, _frees_at(state.sent, lanes, used - cap + 1, policy))
    total = len(state.sent)
    if total >= c.total:
        when = max(when, _frees_at(state.sent, every, total - c.total + 1, policy))
    left = announced_left(state)
    if left is not None and state.announced is not None and left <= policy.reserve:
        when = max(when, state.announced.reset_at + policy.margin)
    return when


def record_sent(state: LimiterState, lane: str, now: float) -> LimiterState:
    return replace(
        state, sent=(*state.sent, Sent(now, lane)), learning=state.learning + (1 if state.limit is None else 0)
    )


def record_went_out(state: LimiterState, ticket: Sent, now: float) -> LimiterState:
    """An admitted request really left (it may have waited for a connection): count it from now."""
    sent = list(state.sent)
    if ticket in sent:
        sent.remove(ticket)
    return replace(state, sent=(*sent, Sent(now, ticket.lane)))


def record_answer(state: LimiterState, announced: RateBudget | None, sent_at: float, now: float) -> LimiterState:
    """Take in an answer's headers. Within one window the answer that leaves the least wins."""
    state = replace(state, learning=max(0, state.learning - 1))
    if announced is None:
        return state
    limit = announced.limit if announced.limit is not None else state.limit
    state = replace(state, limit=limit)
    if announced.remaining is None or announced.reset_at is None or announced.reset_at <= now:
        return state
    new = Announced(announced.remaining, announced.reset_at, sent_at)
    old = state.announced
    if old is not None and old.reset_at > new.reset_at:
        return state  # a late answer from the window before
    if old is not None and old.reset_at == new.reset_at:
        candidate = replace(state, announced=new)
        if (announced_left(candidate) or 0) >= (announced_left(state) or 0):
            return state
    return replace(state, announced=new)


def record_block(state: LimiterState, reset_at: float | None, now: float, policy: Policy) -> LimiterState:
    """After a 429: nothing goes out before ``reset_at`` (or a whole window when unknown)."""
    until = reset_at if reset_at is not None and reset_at > now else now + policy.window
    until += policy.margin
    return replace(state, blocked_until=max(state.blocked_until or 0.0, until))


def engine_budget(state: LimiterState, now: float, policy: Policy) -> RateBudget:
    """What the poll engine may plan on: the budget less the members' share, in ``RateBudget`` terms.

    ``reset_at`` is when the oldest request in the log stops counting (the window taken to start
    with the first request when iRacing has not said), or the announced reset if that is sooner.
    """
    state = prune(state, now, policy)
    if state.limit is None:
        return RateBudget(None, None, None)
    c = caps(state.limit, policy)
    limit = state.limit - c.interactive
    remaining = limit - _count(state.sent, ENGINE_LANES)
    left = announced_left(state)
    if left is not None:
        unspent_share = max(0, c.interactive - _count(state.sent, frozenset({INTERACTIVE})))
        remaining = min(remaining, left - unspent_share)
    if state.blocked_until is not None:
        remaining = 0
    resets = [s.at + policy.span for s in state.sent[:1]]
    if state.announced is not None:
        resets.append(state.announced.reset_at)
    if state.blocked_until is not None:
        resets = [state.blocked_until]
    return RateBudget(limit, max(0, remaining), min(resets) if resets else None)


@dataclass(frozen=True, slots=True)
class Usage:
    """The requests of the last window, by lane, and the caps they count against (for status)."""

    limit: int | None
    by_lane: Mapping[str, int]
    interactive_cap: int | None
    interactive_share: float
    announced_remaining: int | None
    blocked_until: float | None


def usage(state: LimiterState, now: float, policy: Policy) -> Usage:
    state = prune(state, now, policy)
    counts = Counter(s.lane for s in state.sent)
    return Usage(
        limit=state.limit,
        by_lane={lane: counts.get(lane, 0) for lane in LANES},
        interactive_cap=caps(state.limit, policy).interactive if state.limit is not None else None,
        interactive_share=policy.interactive_share,
        announced_remaining=announced_left(state),
        blocked_until=state.blocked_until,
    )


# --- the stateful shell -----------------------------------------------------------------------


class InteractiveBudgetSpent(RateLimitedError):
    """Members' commands have spent their share of this window; try again at ``reset_at``."""

    def __init__(self, retry_at: float) -> None:
        super().__init__(retry_at, "the share of the iRacing budget for commands is spent for now")


@dataclass
class RateLimiter:
    """Holds the state; engine lanes wait their turn (first come, first served), members never wait."""

    policy: Policy = field(default_factory=Policy)
    max_wait: float = 300.0
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    on_update: Callable[[RateBudget], None] | None = None
    state: LimiterState = field(default_factory=LimiterState)

    def __post_init__(self) -> None:
        # One engine waiter at a time computes and sleeps: the rest queue behind it in order,
        # so a crowd of waiters is released one by one at the pace the window frees up.
        self._turn = asyncio.Lock()
        self._changed = asyncio.Event()

    @property
    def budget(self) -> RateBudget:
        """The engine's view (limit less the members' share); see ``engine_budget``."""
        return engine_budget(self.state, self.clock(), self.policy)

    @property
    def blocked_until(self) -> float | None:
        return prune(self.state, self.clock(), self.policy).blocked_until

    def usage(self) -> Usage:
        return usage(self.state, self.clock(), self.policy)

    def set_interactive_share(self, share: float) -> None:
        self.policy = replace(self.policy, interactive_share=share)

    def try_admit(self, lane: str) -> Sent | None:
        """Admit at once and return the ticket, or return None (nothing counted)."""
        now = self.clock()
        if admit_at(self.state, lane, now, self.policy) > now:
            return None
        self.state = record_sent(prune(self.state, now, self.policy), lane, now)
        return self.state.sent[-1]

    async def acquire(self, lane: str = POLLER) -> Sent:
        """Wait until a request of ``lane`` may go out, count it, and return its ticket.

        Call ``went_out`` with the ticket when the request really leaves, and ``answered`` when
        it is done (with or without an answer).

        Interactive requests never wait: ``InteractiveBudgetSpent`` (or ``RateLimitedError``
        while everything is held) carries the time to try again.
        """
        if lane == INTERACTIVE:
            sent = self.try_admit(lane)
            if sent is not None:
                return sent
            now = self.clock()
            when = admit_at(self.state, lane, now, self.policy)
            retry = when if math.isfinite(when) else now + 1.0
            if self.blocked_until is not None:
                raise RateLimitedError(retry)
            raise InteractiveBudgetSpent(retry)
        async with self._turn:
            while True:
                sent = self.try_admit(lane)
                if sent is not None:
                    return sent
                now = self.clock()
                when = admit_at(self.state, lane, now, self.policy)
                if math.isfinite(when) and when - now > self.max_wait:
                    raise RateLimitedError(when)
                self._changed.clear()
                if math.isfinite(when):
                    await self.sleep(max(0.0, when - now))
                else:
                    # The first answer tells us the limit; wait for it (or for a failure to say so).
                    await self._changed.wait()

    def went_out(self, ticket: Sent) -> Sent:
        """The request of ``ticket`` leaves now; returns its new ticket."""
        now = self.clock()
        self.state = record_went_out(self.state, ticket, now)
        return self.state.sent[-1]

    def answered(self, headers: Mapping[str, str] | None, ticket: Sent) -> None:
        """The request of ``ticket`` is done: take in what its answer says (headers may be None)."""
        announced = parse_rate_headers(headers) if headers is not None else None
        self.state = record_answer(self.state, announced, ticket.at, self.clock())
        self._changed.set()
        if announced is not None and self.on_update is not None:
            self.on_update(self.server_view())

    def server_view(self) -> RateBudget:
        """iRacing's own count as we now reckon it: the limit, what is left, the announced reset."""
        state = prune(self.state, self.clock(), self.policy)
        a = state.announced
        return RateBudget(state.limit, announced_left(state), a.reset_at if a else None)

    def block(self, reset_at: float | None) -> float:
        """After a 429: nothing goes out before ``reset_at`` (or a whole window when unknown)."""
        self.state = record_block(self.state, reset_at, self.clock(), self.policy)
        assert self.state.blocked_until is not None
        self._changed.set()
        if self.on_update is not None:
            self.on_update(RateBudget(self.state.limit, 0, reset_at))
        return self.state.blocked_until
