"""The rate-limit rules, pure, and the limiter's waiting with a clock of our own."""

from __future__ import annotations

import asyncio
import math
import random
from dataclasses import replace

import pytest

from ir2dis_cog.iracing.errors import RateLimitedError
from ir2dis_cog.iracing.ratelimit import (
    INTERACTIVE,
    POLLER,
    WATCHER,
    InteractiveBudgetSpent,
    LimiterState,
    Policy,
    RateBudget,
    RateLimiter,
    Sent,
    admit_at,
    caps,
    engine_budget,
    parse_rate_headers,
    record_answer,
    record_block,
    record_sent,
    usage,
)

# limit 10, reserve 2: 8 a window, of which members may use 2 (a quarter) and the engine 6.
POLICY = Policy(window=60.0, margin=0.25, reserve=2, interactive_share=0.25)


def known(limit: int = 10) -> LimiterState:
    return LimiterState(limit=limit)


def send(state: LimiterState, lane: str, at: float) -> LimiterState:
    assert admit_at(state, lane, at, POLICY) <= at, f"{lane} refused at {at}"
    return record_sent(state, lane, at)


def most_in_any_window(times: list[float], window: float) -> int:
    """The most requests any window of that length, wherever it starts, holds."""
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


def test_rate_headers_are_read_and_bad_ones_ignored() -> None:
    budget = parse_rate_headers({"x-ratelimit-limit": "240", "x-ratelimit-remaining": "3", "x-ratelimit-reset": "1000"})
    assert budget == RateBudget(240, 3, 1000.0)
    assert parse_rate_headers({"content-type": "text/plain"}) is None
    assert parse_rate_headers({"x-ratelimit-remaining": "many"}) is None


def test_caps_split_the_budget_and_keep_the_engine_a_share() -> None:
    assert caps(10, POLICY) == replace(caps(10, POLICY), total=8, interactive=2)
    assert caps(10, POLICY).engine == 6
    assert caps(240, Policy(reserve=4)).interactive == 47  # 20 % of 236
    assert caps(3, POLICY).interactive == 0  # too small to share: all for the engine
    assert caps(1, POLICY).total == 1


def test_the_window_rolling_over_releases_no_burst() -> None:
    """The bug that gave 521 429s: after the reset every waiter went out at once."""
    state = known()
    for i in range(6):
        state = send(state, POLLER, 10.0 + i)
    assert admit_at(state, POLLER, 16.0, POLICY) == pytest.approx(70.25)  # the first leaves the span
    # iRacing announced its reset at 60: that does not free what we sent 50 s ago.
    state = record_answer(state, RateBudget(10, 4, 60.0), sent_at=15.0, now=16.0)
    assert admit_at(state, POLLER, 61.0, POLICY) == pytest.approx(70.25)
    # From then on one at a time, as each old request stops counting.
    state = send(state, POLLER, 70.25)
    assert admit_at(state, POLLER, 70.25, POLICY) == pytest.approx(71.25)


def test_no_window_ever_holds_more_than_the_budget_under_any_load() -> None:
    rng = random.Random(16)
    state, sent, now = known(), [], 0.0
    for _ in range(5000):
        now += rng.expovariate(2.0)  # two attempts a second on average, in bursts
        lane = rng.choice([POLLER, POLLER, WATCHER, INTERACTIVE])
        if admit_at(state, lane, now, POLICY) <= now:
            state = record_sent(state, lane, now)
            sent.append((now, lane))
    times = [t for t, _ in sent]
    assert most_in_any_window(times, 60.0 + 0.25) == 8  # full use, never more
    assert most_in_any_window([t for t, lane in sent if lane == INTERACTIVE], 60.25) <= 2
    assert most_in_any_window([t for t, lane in sent if lane != INTERACTIVE], 60.25) <= 6


def test_members_never_spend_the_engines_share() -> None:
    state = known()
    state = send(state, INTERACTIVE, 1.0)
    state = send(state, INTERACTIVE, 1.5)
    assert admit_at(state, INTERACTIVE, 2.0, POLICY) == pytest.approx(61.25)  # their share is spent
    for i in range(6):  # the engine still has all of its own
        state = send(state, POLLER if i % 2 else WATCHER, 2.0 + i)
    assert admit_at(state, POLLER, 8.0, POLICY) > 8.0


def test_iracings_own_count_holds_us_when_someone_else_spends_the_account() -> None:
    state = send(known(), POLLER, 1.0)
    # Another user of the account spent most of the window: 3 left when our request arrived.
    state = record_answer(state, RateBudget(10, 3, 60.0), sent_at=1.0, now=1.1)
    state = send(state, POLLER, 2.0)  # 2 left now, the reserve
    assert admit_at(state, POLLER, 3.0, POLICY) == pytest.approx(60.25)
    assert admit_at(state, INTERACTIVE, 3.0, POLICY) == pytest.approx(60.25)
    # An answer of the same window leaving more says nothing new: the lower count stands.
    later = record_answer(state, RateBudget(10, 7, 60.0), sent_at=1.5, now=3.0)
    assert admit_at(later, POLLER, 3.0, POLICY) == pytest.approx(60.25)
    # A late answer from the window before does not replace the current one.
    state = record_answer(state, RateBudget(10, 9, 120.0), sent_at=61.0, now=61.1)
    stale = record_answer(state, RateBudget(10, 0, 60.0), sent_at=59.0, now=61.2)
    assert stale.announced == state.announced


def test_a_429_holds_every_lane_until_the_reset() -> None:
    state = record_block(known(), 130.0, 100.0, POLICY)
    assert admit_at(state, POLLER, 100.0, POLICY) == pytest.approx(130.25)
    assert admit_at(state, INTERACTIVE, 100.0, POLICY) == pytest.approx(130.25)
    assert admit_at(state, POLLER, 131.0, POLICY) == 131.0
    unknown = record_block(known(), None, 100.0, POLICY)
    assert unknown.blocked_until == pytest.approx(160.25)  # a whole window


def test_until_the_limit_is_known_one_request_at_a_time() -> None:
    state = LimiterState()
    assert admit_at(state, POLLER, 0.0, POLICY) == 0.0
    state = record_sent(state, POLLER, 0.0)
    assert admit_at(state, POLLER, 0.1, POLICY) == math.inf  # its answer will tell
    assert admit_at(record_answer(state, None, 0.0, 0.2), POLLER, 0.2, POLICY) == 0.2  # failed: try again
    state = record_answer(state, RateBudget(10, 9, 60.0), 0.0, 0.2)
    assert state.limit == 10 and admit_at(state, POLLER, 0.2, POLICY) == 0.2


def test_the_engine_plans_on_the_budget_less_the_members_share() -> None:
    state = known()
    assert engine_budget(state, 0.0, POLICY) == RateBudget(8, 8, None)  # 10 less the 2 of members
    state = send(state, POLLER, 1.0)
    state = send(state, INTERACTIVE, 2.0)
    assert engine_budget(state, 3.0, POLICY) == RateBudget(8, 7, 61.25)
    state = record_answer(state, RateBudget(10, 5, 30.0), sent_at=2.0, now=2.1)
    # iRacing says 5 left; the members may still take 1 of them: 4 for the engine, until its reset.
    assert engine_budget(state, 3.0, POLICY) == RateBudget(8, 4, 30.0)
    assert engine_budget(LimiterState(), 0.0, POLICY) == RateBudget(None, None, None)


def test_usage_counts_each_lane_of_the_last_window() -> None:
    state = known()
    for at, lane in [(1.0, POLLER), (2.0, WATCHER), (3.0, INTERACTIVE), (4.0, POLLER)]:
        state = send(state, lane, at)
    seen = usage(state, 5.0, POLICY)
    assert dict(seen.by_lane) == {POLLER: 2, WATCHER: 1, INTERACTIVE: 1}
    assert (seen.limit, seen.interactive_cap, seen.interactive_share) == (10, 2, 0.25)
    assert dict(usage(state, 100.0, POLICY).by_lane) == {POLLER: 0, WATCHER: 0, INTERACTIVE: 0}


class Clock:
    """Our own time: sleeping moves it forward at once."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


async def test_many_waiters_go_out_in_order_and_never_over_the_budget() -> None:
    clock = Clock()
    limiter = RateLimiter(policy=POLICY, max_wait=120.0, clock=clock, sleep=clock.sleep)
    first = await limiter.acquire(POLLER)
    limiter.answered({"x-ratelimit-limit": "10", "x-ratelimit-remaining": "9", "x-ratelimit-reset": "1060"}, first)
    order: list[tuple[int, float]] = []

    async def one(i: int) -> None:
        ticket = await limiter.acquire(POLLER)
        order.append((i, ticket.at))
        limiter.answered(None, ticket)

    await asyncio.gather(*(one(i) for i in range(30)))
    assert [i for i, _ in order] == list(range(30))  # first come, first served
    times = [first.at] + [t for _, t in order]
    assert most_in_any_window(times, 60.25) == 6  # the engine's share of every window, never more
    assert clock.now < 1000.0 + 5 * 60.25 + 1  # and released as the window frees up, not later


async def test_members_are_refused_at_once_with_the_time_to_try_again() -> None:
    clock = Clock()
    limiter = RateLimiter(policy=POLICY, max_wait=120.0, clock=clock, sleep=clock.sleep)
    limiter.state = known()
    for _ in range(2):
        limiter.answered(None, await limiter.acquire(INTERACTIVE))
    with pytest.raises(InteractiveBudgetSpent) as info:
        await limiter.acquire(INTERACTIVE)
    assert info.value.reset_at == pytest.approx(1060.25)
    assert clock.now == 1000.0  # nothing waited
    assert [s.lane for s in limiter.state.sent] == [INTERACTIVE, INTERACTIVE]  # the refusal spent nothing
    limiter.block(1010.0)
    with pytest.raises(RateLimitedError) as blocked:
        await limiter.acquire(INTERACTIVE)
    assert not isinstance(blocked.value, InteractiveBudgetSpent)
    assert blocked.value.reset_at == pytest.approx(1010.25)


async def test_an_engine_wait_past_max_wait_fails_fast() -> None:
    clock = Clock()
    limiter = RateLimiter(policy=POLICY, max_wait=0.0, clock=clock, sleep=clock.sleep)
    limiter.state = replace(known(), sent=tuple(Sent(999.0, POLLER) for _ in range(6)))
    with pytest.raises(RateLimitedError) as info:
        await limiter.acquire(POLLER)
    assert info.value.reset_at == pytest.approx(1059.25)
