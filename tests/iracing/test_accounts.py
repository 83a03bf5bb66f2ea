"""Several iRacing accounts: three accounts on the fake's access list, each with its own rate
window; the pool spreads the per-driver poll over them, and one account's wrong password leaves
the others working (its breaker opens, theirs stay shut)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ir2dis_cog.config.settings import Settings
from ir2dis_cog.iracing.accounts import AccountPool, pool_budget, rendezvous_order, roomiest_order
from ir2dis_cog.iracing.auth_state import MemoryAuthStateStore
from ir2dis_cog.iracing.client import IRacingClient
from ir2dis_cog.iracing.errors import AuthError
from ir2dis_cog.iracing.ratelimit import RateBudget
from ir2dis_cog.observability.metrics import Metrics
from ir2dis_cog.poller.live_catchup import CatchUpSource
from ir2dis_cog.poller.live_watcher import LiveSource
from ir2dis_cog.poller.ports import ResultsSource
from ir2dis_cog.poller.schedules import ScheduleSource
from ir2dis_cog.poller.unofficial import UnofficialSource
from tests.fakes.iracing import FAKE_EMAIL, FakeIRacing
from tests.iracing.conftest import FAST, make_settings
from tests.poller.conftest import T0, ManualClock

SECOND, THIRD = "second@example.com", "third@example.com"
DRIVERS = list(range(600_001, 600_061))


# Every call the poller makes of its source (the engine's, the watcher's, the catch-up's, the hosted
# and league check's, the schedules'): the cog hands them all the pool, through casts mypy cannot see.
SOURCES = (ResultsSource, LiveSource, CatchUpSource, UnofficialSource, ScheduleSource)


@pytest.mark.parametrize("protocol", SOURCES, ids=lambda p: p.__name__)
def test_the_pool_and_the_client_answer_every_call_the_poller_makes(protocol: type) -> None:
    calls = [n for n, v in vars(protocol).items() if not n.startswith("_") and (callable(v) or isinstance(v, property))]
    assert calls
    for cls in (AccountPool, IRacingClient):
        missing = [n for n in calls if not hasattr(cls, n)]
        assert missing == [], f"{cls.__name__} lacks {missing} of {protocol.__name__}"


def test_the_pool_budget_is_the_sum_of_the_accounts() -> None:
    budgets = [RateBudget(192, 100, 1060.0), RateBudget(192, 150, 1030.0), RateBudget(None, None, None)]
    assert pool_budget(budgets) == RateBudget(384, 250, 1030.0)
    assert pool_budget([RateBudget(None, None, None)]) == RateBudget(None, None, None)


def test_each_driver_has_its_account_and_moves_only_when_it_is_gone() -> None:
    owners = {c: rendezvous_order(str(c), [0, 1, 2])[0] for c in DRIVERS}
    assert set(owners.values()) == {0, 1, 2}
    for c, owner in owners.items():
        fallback = rendezvous_order(str(c), [a for a in (0, 1, 2) if a != 1])[0]
        assert fallback == owner or owner == 1


def test_the_rest_goes_to_the_account_with_the_most_left() -> None:
    order = roomiest_order(
        [(0, RateBudget(192, 10, None)), (1, RateBudget(192, 90, None)), (2, RateBudget(192, 50, None))]
    )
    assert order == [1, 2, 0]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
async def fake(clock: ManualClock) -> AsyncIterator[FakeIRacing]:
    server = FakeIRacing(clock=clock.now, rate_limit=100)
    server.add_account(SECOND, "second-password-1")
    server.add_account(THIRD, "third-password-1")
    await server.start()
    for c in DRIVERS:
        server._member(c)
    try:
        yield server
    finally:
        await server.stop()


def three_accounts(fake: FakeIRacing, tmp_path: Path, second_password: str = "second-password-1") -> Settings:
    return make_settings(
        fake,
        tmp_path,
        IRACING_EMAIL_2=SECOND,
        IRACING_PASSWORD_2=second_password,
        IRACING_EMAIL_3=THIRD,
        IRACING_PASSWORD_3="third-password-1",
    )


async def pool_of(stack: AsyncExitStack, settings: Settings, clock: ManualClock) -> AccountPool:
    clients = [
        await stack.enter_async_context(
            IRacingClient(
                settings.for_account(n),
                state_store=MemoryAuthStateStore(),
                metrics=Metrics(),
                tuning=FAST,
                clock=clock.now,
            )
        )
        for n in range(1, settings.account_count() + 1)
    ]
    return AccountPool(clients, clock=clock.now)


async def test_the_poll_is_spread_over_three_accounts_each_in_its_own_window(
    fake: FakeIRacing, tmp_path: Path, clock: ManualClock
) -> None:
    settings = three_accounts(fake, tmp_path)
    assert settings.account_count() == 3
    async with AsyncExitStack() as stack:
        pool = await pool_of(stack, settings, clock)
        for c in DRIVERS:
            await pool.get_recent_races(c)
        budget = pool.budget

    by_account = {a: fake.account_requests[a] for a in (FAKE_EMAIL, SECOND, THIRD)}
    assert sum(by_account.values()) == len(DRIVERS)
    assert all(12 <= n <= 28 for n in by_account.values()), by_account
    assert fake.stats["logins"] == 3 and fake.stats["rate_limited"] == 0
    # Each account reports its own window: the pool plans on three accounts' budgets.
    assert budget.limit is not None and budget.limit > 2 * 100 * 0.7


async def test_the_pool_serves_hosted_and_league_calls_as_a_client_does(
    fake: FakeIRacing, tmp_path: Path, clock: ManualClock
) -> None:
    # The cog hands the pool to the hosted and league check: it must answer those calls too.
    settings = three_accounts(fake, tmp_path)
    async with AsyncExitStack() as stack:
        pool = await pool_of(stack, settings, clock)
        assert isinstance(pool, UnofficialSource)
        hosted = await pool.search_hosted(DRIVERS[0], datetime.fromtimestamp(clock.now() - 86_400, UTC))
    assert hosted == []
    assert sum(fake.account_requests[a] for a in (FAKE_EMAIL, SECOND, THIRD)) == 1


async def test_a_wrong_password_on_one_account_leaves_the_others_working(
    fake: FakeIRacing, tmp_path: Path, clock: ManualClock
) -> None:
    settings = three_accounts(fake, tmp_path, second_password="a-typo")
    async with AsyncExitStack() as stack:
        pool = await pool_of(stack, settings, clock)
        for _ in range(4):  # four poll cycles, the account tried again after each set-aside
            await asyncio.gather(*(pool.get_recent_races(c) for c in DRIVERS[:20]))
            clock.advance(901)
        views = pool.accounts()

    answered = {a: fake.account_requests[a] for a in (FAKE_EMAIL, SECOND, THIRD)}
    assert answered[SECOND] == 0 and answered[FAKE_EMAIL] + answered[THIRD] == 4 * 20
    assert [v.number for v in views] == [1, 2, 3]
    assert views[0].auth.startswith("logged in") and views[2].auth.startswith("logged in")
    # Its breaker opened after failures in a row (and then its hourly login cap): no login storm.
    assert views[1].auth.startswith("not logged in") and ("paused" in views[1].auth or "throttled" in views[1].auth)
    bad_logins = [r for r in fake.requests if r.kind == "oauth" and r.status == 400]
    assert len(bad_logins) <= 4


async def test_when_every_account_fails_the_engine_is_told(
    fake: FakeIRacing, tmp_path: Path, clock: ManualClock
) -> None:
    settings = make_settings(fake, tmp_path, IRACING_PASSWORD="wrong", IRACING_EMAIL_2=SECOND, IRACING_PASSWORD_2="x")
    async with AsyncExitStack() as stack:
        pool = await pool_of(stack, settings, clock)
        with pytest.raises(AuthError):
            await pool.get_recent_races(DRIVERS[0])
