"""IRacingClient against the fake iRacing over real HTTP on loopback: the 2-step fetch, auth,
refresh, faults, rate limits."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ir2dis_cog.config.settings import Settings
from ir2dis_cog.iracing.auth import LoginGuard
from ir2dis_cog.iracing.auth_state import FileAuthStateStore, MemoryAuthStateStore
from ir2dis_cog.iracing.client import IRacingClient
from ir2dis_cog.iracing.errors import (
    AuthError,
    CircuitOpenError,
    IRacingError,
    MaintenanceError,
    NotFoundError,
    ParseError,
    RateLimitedError,
)
from ir2dis_cog.iracing.models import DriverResult, TeamResult
from ir2dis_cog.observability.metrics import Metrics
from tests.fakes.iracing import FakeIRacing, RaceEntry
from tests.iracing.conftest import FAST, make_settings
from tests.poller.conftest import ManualClock


def _value(metrics: Metrics, name: str, labels: dict[str, str] | None = None) -> float:
    return metrics.registry.get_sample_value(name, labels or {}) or 0.0


def _data_requests(fake: FakeIRacing) -> list:
    return [r for r in fake.requests if r.kind == "data"]


async def test_two_step_fetch_recent_races_and_results(
    fake: FakeIRacing, client: IRacingClient, metrics: Metrics
) -> None:
    fake.add_member(101, "Ada Lovelace")
    older = fake.add_race([102, 101], session_start_time=datetime.now(UTC) - timedelta(hours=3))
    newer = fake.add_race([101, 102, 103], car_classes=[(1, "GTP"), (2, "GT3")])
    races = await client.get_recent_races(101)
    assert [r.subsession_id for r in races] == [newer, older]  # newest first
    assert [r.finish_position for r in races] == [1, 2]  # 1-based
    sub = await client.get_subsession(newer)
    assert [r.finish_position for r in sub.results] == [1, 2, 3]
    assert isinstance(sub.results[0], DriverResult) and sub.results[0].display_name == "Ada Lovelace"
    assert sub.multiclass and sub.split_number == 1
    # The S3 step never saw our Authorization header; the data API always did.
    s3 = [r for r in fake.requests if r.kind == "s3"]
    assert len(s3) == 2 and not any(r.authorization for r in s3)
    assert fake.stats["s3_with_authorization"] == 0
    assert all(r.authorization for r in _data_requests(fake))
    assert _value(metrics, "ir2dis_results_fetched_total") == 1
    # The engine plans on 240 less the members' 47 (20 % of 240 less a reserve of 4); 2 are spent.
    assert client.budget.limit == 193 and client.budget.remaining == 191
    assert dict(client.usage().by_lane) == {"poller": 2, "watcher": 0, "interactive": 0}
    assert _value(metrics, "ir2dis_rate_limit_remaining") == 238


async def test_team_race_drivers_reach_the_client(fake: FakeIRacing, client: IRacingClient) -> None:
    sid = fake.add_race(
        [RaceEntry((7, 8), team_name="Night Owls", car_class_id=2), 9], car_classes=[(1, "LMP2"), (2, "GT3")]
    )
    sub = await client.get_subsession(sid)
    team = sub.results[0]
    assert sub.team_event and isinstance(team, TeamResult)
    assert team.display_name == "Night Owls" and [d.cust_id for d in team.drivers] == [7, 8]
    assert team.finish_position_in_class == 1 and sub.cust_ids() == frozenset({7, 8, 9})
    assert [r.subsession_id for r in await client.get_recent_races(7)] == [sid]


async def test_members_are_batched_and_lookup_and_hosted_work(fake: FakeIRacing, settings: Settings) -> None:
    for cust_id in range(1, 6):
        fake.add_member(cust_id, f"Racer {cust_id}")
    fake.hosted_chunk_size = 2
    for _ in range(3):
        fake.add_race([1, 2], hosted=True, session_name="Thursday league")
    tuning = replace(FAST, members_batch=2)
    async with IRacingClient(settings, state_store=MemoryAuthStateStore(), metrics=Metrics(), tuning=tuning) as client:
        members = await client.get_members([5, 1, 2, 3, 4, 1])
        assert sorted(m.cust_id for m in members) == [1, 2, 3, 4, 5]
        assert len([r for r in _data_requests(fake) if r.path == "/data/member/get"]) == 3
        found = await client.search_drivers("racer 3")
        assert [(d.cust_id, d.display_name) for d in found] == [(3, "Racer 3")]
        assert await client.search_drivers("   ") == []
        hosted = await client.search_hosted(1, datetime.now(UTC) - timedelta(days=1))
        assert len(hosted) == 3 and {h.session_name for h in hosted} == {"Thursday league"}
        assert await client.search_hosted(1, datetime.now(UTC) + timedelta(days=1)) == []
    assert len([r for r in fake.requests if r.kind == "s3"]) >= 2 + 1  # two chunks, one lookup


async def test_unknown_subsession_is_not_found(client: IRacingClient) -> None:
    with pytest.raises(NotFoundError):
        await client.get_subsession(123)


async def test_restart_reuses_the_saved_tokens(fake: FakeIRacing, settings: Settings) -> None:
    store = MemoryAuthStateStore()
    fake.add_member(1)
    for _ in range(3):
        async with IRacingClient(settings, state_store=store, metrics=Metrics(), tuning=FAST) as client:
            await client.get_recent_races(1)
    assert fake.stats["logins"] == 1 and fake.stats["refreshes"] == 0


async def test_file_state_store_survives_restart(fake: FakeIRacing, tmp_path: Path) -> None:
    state_file = tmp_path / "auth" / "iracing.json"
    settings = make_settings(fake, tmp_path, IRACING_AUTH_STATE_FILE=str(state_file))
    assert settings.iracing_auth_state_file == state_file
    for _ in range(2):
        store = FileAuthStateStore(settings.iracing_auth_state_file)
        async with IRacingClient(settings, state_store=store, metrics=Metrics(), tuning=FAST) as client:
            await client.search_drivers("x")
    assert fake.stats["logins"] == 1
    assert stat.S_IMODE(os.stat(state_file).st_mode) == 0o600


async def test_expired_token_20_concurrent_requests_one_refresh(fake: FakeIRacing, settings: Settings) -> None:
    # Saved state from an earlier run: the access token has expired, the refresh token is good.
    pair = fake.issue_tokens()
    now = datetime.now(UTC).timestamp()
    store = MemoryAuthStateStore()
    async with IRacingClient(settings, state_store=store, metrics=Metrics(), tuning=FAST) as client:
        await client.authenticator.request_headers()  # logs in once, so the state has our account
    state = await store.load()
    assert state is not None
    state["oauth"] = {
        "access_token": pair["access_token"],
        "expires_at": now - 5,
        "refresh_at": now - 65,
        "refresh_token": pair["refresh_token"],
        "refresh_expires_at": now + 3600,
    }
    await store.save(state)
    fake.requests.clear()
    logins_before = fake.stats["logins"]
    fake.add_member(1)
    async with IRacingClient(settings, state_store=store, metrics=Metrics(), tuning=FAST) as client:
        results = await asyncio.gather(*(client.get_recent_races(1) for _ in range(20)))
    assert len(results) == 20
    assert fake.stats["refreshes"] == 1 and fake.stats["refresh_reuse"] == 0
    assert fake.stats["logins"] == logins_before
    saved = await store.load()
    assert saved is not None and saved["oauth"]["refresh_token"] != pair["refresh_token"]


async def test_server_side_expiry_20_concurrent_401s_one_refresh(fake: FakeIRacing, client: IRacingClient) -> None:
    fake.add_member(1)
    await client.get_recent_races(1)
    fake.expire_access_tokens()
    await asyncio.gather(*(client.get_recent_races(1) for _ in range(20)))
    assert fake.stats["refreshes"] == 1 and fake.stats["refresh_reuse"] == 0
    assert fake.stats["logins"] == 1
    refreshes = [r for r in fake.requests if r.grant_type == "refresh_token"]
    assert len(refreshes) == 1


async def test_401_refreshes_once_then_logs_in_once_then_fails(
    fake: FakeIRacing, client: IRacingClient, metrics: Metrics
) -> None:
    fake.add_member(1)
    fake.fault("unauthorized", count=1)
    await client.get_recent_races(1)
    assert (fake.stats["logins"], fake.stats["refreshes"]) == (1, 1)
    fake.fault("unauthorized", count=3)
    with pytest.raises(AuthError, match="401"):
        await client.get_recent_races(1)
    assert (fake.stats["logins"], fake.stats["refreshes"]) == (2, 2)
    assert fake.stats["refresh_reuse"] == 0
    assert _value(metrics, "ir2dis_auth_failures_total") == 1


async def test_maintenance_waits_longer_then_raises_its_own_error(fake: FakeIRacing, client: IRacingClient) -> None:
    fake.add_member(1)
    await client.get_recent_races(1)
    fake.fault("maintenance", count=1)
    assert await client.get_recent_races(1) == []
    fake.fault("maintenance", count=5)
    before = len(_data_requests(fake))
    with pytest.raises(MaintenanceError):
        await client.get_recent_races(1)
    assert len(_data_requests(fake)) - before == FAST.maintenance_tries


async def test_the_client_says_maintenance_from_the_first_such_answer_until_another_answer(
    fake: FakeIRacing, client: IRacingClient
) -> None:
    fake.add_member(1)
    await client.get_recent_races(1)
    assert not client.in_maintenance()
    fake.fault("maintenance", count=1)
    waiting = asyncio.create_task(client.get_recent_races(1))
    while not client.in_maintenance():  # said while the client still waits to ask again
        assert not waiting.done()
        await asyncio.sleep(0)
    assert await waiting == []
    assert not client.in_maintenance()
    fake.fault("maintenance", count=5)
    with pytest.raises(MaintenanceError):
        await client.get_recent_races(1)
    assert client.in_maintenance()


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_server_errors_are_retried_with_backoff(fake: FakeIRacing, client: IRacingClient, status: int) -> None:
    fake.add_member(1)
    fake.fault("server_error", count=2, status=status)
    assert await client.get_recent_races(1) == []
    fake.fault("server_error", count=10, status=status)
    with pytest.raises(IRacingError, match=f"HTTP {status}"):
        await client.get_recent_races(1)


async def test_dropped_connection_is_retried(fake: FakeIRacing, client: IRacingClient) -> None:
    fake.add_member(1)
    fake.fault("disconnect", count=2)
    assert await client.get_recent_races(1) == []
    assert [r.status for r in _data_requests(fake)][:2] == [-1, -1]


async def test_slow_answer_times_out_and_is_retried(fake: FakeIRacing, settings: Settings) -> None:
    fake.add_member(1)
    tuning = replace(FAST, request_timeout=0.3)
    async with IRacingClient(settings, state_store=MemoryAuthStateStore(), metrics=Metrics(), tuning=tuning) as client:
        await client.get_recent_races(1)
        fake.fault("slow", count=1, delay=1.0)
        assert await client.get_recent_races(1) == []
        fake.fault("slow", count=1, delay=1.0, target="s3")
        assert await client.get_recent_races(1) == []
        fake.fault("slow", count=5, delay=1.0)
        with pytest.raises(IRacingError, match="timeout"):
            await client.get_recent_races(1)


async def test_truncated_json_is_a_parse_error_naming_the_endpoint(fake: FakeIRacing, client: IRacingClient) -> None:
    sid = fake.add_race([1, 2])
    fake.fault("truncated")
    with pytest.raises(ParseError) as info:
        await client.get_subsession(sid)
    assert info.value.endpoint == "results/get"


async def test_expired_link_is_fetched_again_once(fake: FakeIRacing, client: IRacingClient) -> None:
    sid = fake.add_race([1, 2])
    fake.fault("link_expired", count=1)
    assert (await client.get_subsession(sid)).subsession_id == sid
    assert len([r for r in _data_requests(fake) if r.path == "/data/results/get"]) == 2
    fake.fault("link_expired", count=2)
    with pytest.raises(IRacingError, match="kept expiring"):
        await client.get_subsession(sid)


@pytest.mark.parametrize("status", [429, 200])
async def test_after_429_nothing_reaches_the_fake_before_the_reset(
    fake: FakeIRacing, client: IRacingClient, metrics: Metrics, status: int
) -> None:
    fake.add_member(1)
    await client.get_recent_races(1)
    fake.fault("rate_limit", reset_in=1.2, status=status)
    reset = fake.blocked_until
    assert reset is not None
    results = await asyncio.gather(*(client.get_recent_races(1) for _ in range(3)))
    assert results == [[], [], []]
    limited = [r for r in _data_requests(fake) if r.status == status and r.at < reset]
    first_limited = min(r.at for r in limited)
    # Only requests already on their way when the first 429 came back may have met the block.
    early = [r for r in _data_requests(fake) if first_limited + 0.05 < r.at < reset]
    assert early == []
    assert all(r.status == 200 for r in _data_requests(fake) if r.at >= reset)
    assert _value(metrics, "ir2dis_rate_limited_total") >= 1


async def test_rate_limit_reset_too_far_fails_fast(fake: FakeIRacing, settings: Settings) -> None:
    fake.add_member(1)
    tuning = replace(FAST, max_rate_wait=0.5)
    async with IRacingClient(settings, state_store=MemoryAuthStateStore(), metrics=Metrics(), tuning=tuning) as client:
        fake.fault("rate_limit", reset_in=30)
        with pytest.raises(RateLimitedError) as info:
            await client.get_recent_races(1)
        assert info.value.reset_at >= fake.blocked_until  # type: ignore[operator]
        sent = len(_data_requests(fake))
        with pytest.raises(RateLimitedError):
            await client.get_recent_races(1)
        assert len(_data_requests(fake)) == sent  # held on our side, nothing sent


async def test_budget_reserve_holds_requests_until_the_window_resets(fake: FakeIRacing, settings: Settings) -> None:
    clock = ManualClock()  # the client's waits move the fake's time too, at once
    fake.clock = clock.now
    fake.rate_limit, fake.rate_window = 6, 2.0
    fake.add_member(1)
    tuning = replace(FAST, rate_reserve=2, rate_window=2.0)
    async with IRacingClient(
        settings,
        state_store=MemoryAuthStateStore(),
        metrics=Metrics(),
        tuning=tuning,
        clock=clock.now,
        sleep=clock.sleep,
    ) as client:
        for _ in range(9):
            await client.get_recent_races(1)
    assert fake.stats["rate_limited"] == 0  # never over the limit
    data = _data_requests(fake)
    windows: dict[int, int] = {}
    for r in data:
        windows[int(r.at // 2.0)] = windows.get(int(r.at // 2.0), 0) + 1
    assert max(windows.values()) <= 6 - 2 + 1  # the reserve was kept (the first request learns the budget)
    assert len(windows) >= 2


async def test_bad_client_secret_bad_password_and_the_breaker(
    fake: FakeIRacing, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    bad_secret = make_settings(fake, tmp_path, IRACING_CLIENT_SECRET="wrong-secret")
    metrics = Metrics()
    async with IRacingClient(bad_secret, state_store=MemoryAuthStateStore(), metrics=metrics, tuning=FAST) as client:
        with pytest.raises(AuthError, match="IRACING_CLIENT_ID and IRACING_CLIENT_SECRET"):
            await client.get_recent_races(1)
    bad_password = make_settings(fake, tmp_path, IRACING_PASSWORD="wrong-password")
    guard = LoginGuard(max_per_hour=10, failure_threshold=3, open_seconds=600)
    async with IRacingClient(
        bad_password, state_store=MemoryAuthStateStore(), metrics=metrics, tuning=FAST, login_guard=guard
    ) as client:
        for _ in range(3):
            with pytest.raises(AuthError, match="IRACING_EMAIL and IRACING_PASSWORD"):
                await client.get_recent_races(1)
        sent = fake.stats["oauth_requests"]
        with pytest.raises(CircuitOpenError):
            await client.get_recent_races(1)
        assert fake.stats["oauth_requests"] == sent  # the breaker sent nothing
        assert "paused" in client.auth_status()
    opened = [r for r in caplog.records if r.levelno == logging.ERROR and "paused until" in r.getMessage()]
    assert len(opened) == 1
    assert _value(metrics, "ir2dis_auth_failures_total") == 4


async def test_login_throttle_survives_restart(fake: FakeIRacing, settings: Settings) -> None:
    store = MemoryAuthStateStore()

    def client() -> IRacingClient:
        return IRacingClient(
            settings, state_store=store, metrics=Metrics(), tuning=FAST, login_guard=LoginGuard(max_per_hour=2)
        )

    async with client() as first:
        await first.search_drivers("x")  # login 1
    async with client() as second:
        fake.expire_access_tokens()
        fake.fault("token_error", count=1)  # the refresh fails: a full login follows (login 2)
        await second.search_drivers("x")
    async with client() as third:
        fake.expire_access_tokens()
        fake.fault("token_error", count=1)
        with pytest.raises(CircuitOpenError, match="throttled"):
            await third.search_drivers("x")
    assert fake.stats["logins"] == 2


async def test_token_service_down_is_an_auth_error(fake: FakeIRacing, client: IRacingClient) -> None:
    fake.fault("token_error", status=503)
    with pytest.raises(AuthError, match="HTTP 503"):
        await client.get_recent_races(1)
    assert client.auth_status().startswith("not logged in")


async def test_auth_status_in_plain_words(fake: FakeIRacing, settings: Settings) -> None:
    client = IRacingClient(settings, state_store=MemoryAuthStateStore(), metrics=Metrics(), tuning=FAST)
    assert client.auth_status() == "not started"
    async with client:
        assert "not logged in yet" in client.auth_status()
        await client.search_drivers("x")
        assert client.auth_status().startswith("logged in (OAuth)")


async def test_missing_credentials_name_the_settings(fake: FakeIRacing, tmp_path: Path) -> None:
    settings = make_settings(fake, tmp_path, IRACING_CLIENT_SECRET="")
    async with IRacingClient(settings, state_store=MemoryAuthStateStore(), metrics=Metrics(), tuning=FAST) as client:
        with pytest.raises(AuthError, match="IRACING_CLIENT_SECRET"):
            await client.search_drivers("x")
    assert fake.stats["oauth_requests"] == 0


# --- legacy cookie login -------------------------------------------------------------------------


async def test_legacy_login_with_cookies(fake: FakeIRacing, tmp_path: Path) -> None:
    settings = make_settings(fake, tmp_path, IRACING_AUTH_MODE="legacy")
    store = MemoryAuthStateStore()
    fake.add_member(1)
    for _ in range(2):
        async with IRacingClient(settings, state_store=store, metrics=Metrics(), tuning=FAST) as client:
            assert await client.get_recent_races(1) == []
    assert fake.stats["legacy_logins"] == 1 and fake.stats["oauth_requests"] == 0
    assert not any(r.authorization for r in fake.requests)
    async with IRacingClient(settings, state_store=store, metrics=Metrics(), tuning=FAST) as client:
        fake.fault("unauthorized")  # an expired cookie: one new login
        assert await client.get_recent_races(1) == []
        assert client.auth_status() == "logged in (legacy cookies)"
    assert fake.stats["legacy_logins"] == 2


async def test_legacy_captcha_stops_all_retries(
    fake: FakeIRacing, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(fake, tmp_path, IRACING_AUTH_MODE="legacy")
    metrics = Metrics()
    fake.fault("captcha")
    async with IRacingClient(settings, state_store=MemoryAuthStateStore(), metrics=metrics, tuning=FAST) as client:
        for _ in range(3):
            with pytest.raises(AuthError, match="CAPTCHA"):
                await client.get_recent_races(1)
        assert "CAPTCHA" in client.auth_status()
    assert fake.stats["legacy_auth_requests"] == 1  # asked once, then stopped
    assert _value(metrics, "ir2dis_captcha_required_total") == 1
    assert sum("CAPTCHA" in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR) == 1


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("refused", "refused the legacy login"),
        ("disabled", "refused the legacy login"),
        ("bad_password", "rejected the e-mail or password"),
    ],
)
async def test_legacy_failures_are_distinct_and_plain(
    fake: FakeIRacing, tmp_path: Path, setup: str, message: str
) -> None:
    env = {"IRACING_AUTH_MODE": "legacy"}
    if setup == "refused":
        fake.fault("legacy_refused")
    elif setup == "disabled":
        fake.legacy_enabled = False
    else:
        env["IRACING_PASSWORD"] = "not-the-password"
    async with IRacingClient(
        make_settings(fake, tmp_path, **env), state_store=MemoryAuthStateStore(), metrics=Metrics(), tuning=FAST
    ) as client:
        with pytest.raises(AuthError, match=message) as info:
            await client.get_recent_races(1)
    assert (
        type(info.value).__name__
        == {"refused": "LoginRefusedError", "disabled": "LoginRefusedError", "bad_password": "AuthError"}[setup]
    )
