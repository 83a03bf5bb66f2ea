"""The budget over real HTTP: the fake iRacing counts every request in its own windows and answers
429 past its limit; members' requests and the caches of the interactive view."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace

import pytest

from ir2dis_cog.config.settings import Settings
from ir2dis_cog.iracing.auth_state import MemoryAuthStateStore
from ir2dis_cog.iracing.client import IRacingClient
from ir2dis_cog.iracing.errors import RateLimitedError
from ir2dis_cog.iracing.ratelimit import WATCHER, InteractiveBudgetSpent
from ir2dis_cog.observability.metrics import Metrics
from tests.fakes.iracing import FakeIRacing

from .conftest import FAST

WINDOW = 0.5  # the fake's window, and the client's, shrunk so that many windows pass quickly


def per_window(fake: FakeIRacing) -> Counter[int]:
    """Data requests the fake received in each of its windows."""
    return Counter(int(r.at // fake.rate_window) for r in fake.requests if r.kind == "data")


def lane_count(metrics: Metrics, lane: str) -> float:
    return metrics.registry.get_sample_value("ir2dis_iracing_lane_requests_total", {"lane": lane}) or 0.0


@pytest.fixture
def small_fake(fake: FakeIRacing) -> FakeIRacing:
    fake.rate_limit, fake.rate_window = 10, WINDOW
    for cust_id in range(1, 6):
        fake.add_member(cust_id, f"Driver {cust_id}")
    return fake


def small_client(settings: Settings, metrics: Metrics) -> IRacingClient:
    tuning = replace(FAST, rate_reserve=2, rate_window=WINDOW, max_rate_wait=10.0)
    return IRacingClient(settings, state_store=MemoryAuthStateStore(), metrics=metrics, tuning=tuning)


# Slow: 4.5 s of wall clock. On a shared jumping clock a request admitted in one window can leave in
# the next (time moves between the limiter's admission and the send), so this one keeps real time.
@pytest.mark.slow
async def test_many_waiters_across_rollovers_never_meet_a_429(
    small_fake: FakeIRacing, settings: Settings, metrics: Metrics
) -> None:
    async with small_client(settings, metrics) as client:
        races = await asyncio.gather(*(client.get_recent_races(1 + i % 5) for i in range(45)))
    assert len(races) == 45
    assert small_fake.stats["rate_limited"] == 0
    windows = per_window(small_fake)
    assert max(windows.values()) <= 10 - 2  # the budget less the reserve, in every window of the fake
    assert len(windows) >= 45 // 8  # spread over the windows, not sent as fast as they came
    assert lane_count(metrics, "poller") == 45


async def test_members_get_their_share_at_once_and_the_engine_its_own(
    small_fake: FakeIRacing, settings: Settings, metrics: Metrics
) -> None:
    async with small_client(settings, metrics) as client:
        await client.get_recent_races(1)  # learns the limit: 10, less 2 reserve, 1 of 8 for members
        members = client.interactive()
        answers = await asyncio.gather(*(members.get_subsession(10_000 + i) for i in range(5)), return_exceptions=True)
        refused = [a for a in answers if isinstance(a, InteractiveBudgetSpent)]
        assert len(refused) >= 4  # one went out (and found nothing), the rest heard at once
        assert all(r.reset_at > 0 for r in refused)
        with client.lane(WATCHER):
            watched = await asyncio.gather(*(client.get_recent_races(2) for _ in range(12)))
        assert len(watched) == 12  # the engine's lanes were never refused
    assert small_fake.stats["rate_limited"] == 0
    assert max(per_window(small_fake).values()) <= 8
    assert lane_count(metrics, "interactive") == 1
    assert lane_count(metrics, "watcher") == 12


async def test_interactive_view_caches_and_shares_requests(
    small_fake: FakeIRacing, settings: Settings, metrics: Metrics
) -> None:
    small_fake.rate_limit = 100
    sid = small_fake.add_race([3, 4])
    async with small_client(settings, metrics) as client:
        await client.get_recent_races(1)
        members = client.interactive()
        before = len(small_fake.requests)
        # Ten people ask for one driver's latest race at once: one request for the races, one for the result.
        races = await asyncio.gather(*(members.get_recent_races(3) for _ in range(10)))
        results = await asyncio.gather(*(members.get_subsession(sid) for _ in range(10)))
        assert {r[0].subsession_id for r in races} == {sid} and {r.subsession_id for r in results} == {sid}
        data = [r for r in small_fake.requests[before:] if r.kind == "data"]
        assert [r.path for r in data] == ["/data/stats/member_recent_races", "/data/results/get"]
        # Typing a name: "dri", "driv", ... "driver 3" cost one lookup, answered from the first.
        before = len(small_fake.requests)
        typed = "Driver 3"
        for end in range(3, len(typed) + 1):
            found = await members.search_within(typed[:end], 2.0)
            assert all(typed[:end].lower() in d.display_name.lower() for d in found)
        assert [d.cust_id for d in found] == [3]
        lookups = [r for r in small_fake.requests[before:] if r.path == "/data/lookup/drivers"]
        assert len(lookups) == 1
        # Members: cached by id, only the missing ones asked for.
        assert [m.cust_id for m in await members.get_members([1, 2])] == [1, 2]
        before = len(small_fake.requests)
        assert [m.cust_id for m in await members.get_members([2, 1])] == [2, 1]
        assert small_fake.requests[before:] == []


async def test_a_member_is_never_retried_after_a_429(
    small_fake: FakeIRacing, settings: Settings, metrics: Metrics
) -> None:
    small_fake.rate_limit = 100
    async with small_client(settings, metrics) as client:
        await client.get_recent_races(1)
        small_fake.fault("rate_limit", reset_in=1.0)
        with pytest.raises(RateLimitedError):
            await client.interactive().get_recent_races(2)
        assert lane_count(metrics, "interactive") == 1  # no second try
        with pytest.raises(RateLimitedError):  # held on our side: nothing sent
            await client.interactive().get_recent_races(3)
        assert lane_count(metrics, "interactive") == 1


async def test_what_the_poller_learns_refreshes_what_members_see(
    small_fake: FakeIRacing, settings: Settings, metrics: Metrics
) -> None:
    """A member asking for a driver's last race right after the bot posted a new one sees the new one."""
    small_fake.rate_limit = 100
    old = small_fake.add_race([5, 6], session_start_time=small_fake.clock() - 3 * 3600)
    async with small_client(settings, metrics) as client:
        members = client.interactive()
        assert [r.subsession_id for r in await members.get_recent_races(5)] == [old]  # cached now
        new = small_fake.add_race([5, 7])
        await client.get_subsession(new)  # the engine fetches the new race's results
        assert [r.subsession_id for r in (await members.get_recent_races(5))[:1]] == [new]
        before = len(small_fake.requests)
        await client.get_recent_races(6)  # the poller's own answer serves members too
        assert [r.subsession_id for r in await members.get_recent_races(6)] == [old]
        assert (await members.get_subsession(new)).subsession_id == new
        data = [r.path for r in small_fake.requests[before:] if r.kind == "data"]
        assert data == ["/data/stats/member_recent_races"]  # only the poller's request
