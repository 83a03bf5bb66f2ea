"""No password, client secret, masked form of them, token or cookie reaches a log record or an
exception text: on success and on every failure path, with every logger at DEBUG."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from ir2dis_cog.iracing.auth import LoginGuard
from ir2dis_cog.iracing.auth_state import MemoryAuthStateStore
from ir2dis_cog.iracing.client import IRacingClient
from ir2dis_cog.iracing.errors import IRacingError
from ir2dis_cog.observability.metrics import Metrics
from tests.fakes.iracing import FakeIRacing
from tests.iracing.conftest import FAST, exception_texts, leaks, make_settings, record_texts, secrets_of

Scenario = Callable[[FakeIRacing, IRacingClient], Awaitable[object]]


async def _success(fake: FakeIRacing, client: IRacingClient) -> object:
    sid = fake.add_race([1, [2, 3]])
    await client.get_recent_races(1)
    await client.get_subsession(sid)
    await client.get_members([1, 2, 3])
    fake.expire_access_tokens()  # 401 -> refresh
    await asyncio.gather(*(client.get_recent_races(2) for _ in range(5)))
    fake.fault("unauthorized", count=2)  # 401 -> refresh -> 401 -> login
    await client.search_drivers("Driver")
    return client.auth_status()


async def _unauthorized_forever(fake: FakeIRacing, client: IRacingClient) -> object:
    await client.search_drivers("x")
    fake.fault("unauthorized", count=5)
    return await client.search_drivers("x")


async def _maintenance(fake: FakeIRacing, client: IRacingClient) -> object:
    fake.fault("maintenance", count=5)
    return await client.get_recent_races(1)


async def _server_error(fake: FakeIRacing, client: IRacingClient) -> object:
    fake.fault("server_error", count=5)
    return await client.get_recent_races(1)


async def _disconnect(fake: FakeIRacing, client: IRacingClient) -> object:
    fake.fault("disconnect", count=5)
    return await client.get_recent_races(1)


async def _rate_limited(fake: FakeIRacing, client: IRacingClient) -> object:
    await client.get_recent_races(1)
    fake.fault("rate_limit", reset_in=1, status=200)
    return await client.get_recent_races(1)


async def _truncated(fake: FakeIRacing, client: IRacingClient) -> object:
    sid = fake.add_race([1])
    fake.fault("truncated")
    return await client.get_subsession(sid)


async def _links_expire(fake: FakeIRacing, client: IRacingClient) -> object:
    sid = fake.add_race([1])
    fake.fault("link_expired", count=3)
    return await client.get_subsession(sid)


async def _token_errors(fake: FakeIRacing, client: IRacingClient) -> object:
    await client.search_drivers("x")
    fake.expire_access_tokens()
    fake.fault("token_error", count=5)  # refresh fails, then the login fails
    return await client.search_drivers("x")


async def _captcha(fake: FakeIRacing, client: IRacingClient) -> object:
    fake.fault("captcha")
    return await client.search_drivers("x")


async def _legacy_refused(fake: FakeIRacing, client: IRacingClient) -> object:
    fake.fault("legacy_refused")
    return await client.search_drivers("x")


async def _legacy_session_then_expiry(fake: FakeIRacing, client: IRacingClient) -> object:
    await client.search_drivers("x")
    fake.fault("unauthorized", count=3)
    return await client.search_drivers("x")


async def _breaker(fake: FakeIRacing, client: IRacingClient) -> object:
    for _ in range(4):
        with contextlib.suppress(IRacingError):
            await client.search_drivers("x")
    return await client.search_drivers("x")


CASES: dict[str, tuple[Scenario, dict[str, str]]] = {
    "oauth success, refresh and re-login": (_success, {}),
    "401 forever": (_unauthorized_forever, {}),
    "maintenance": (_maintenance, {}),
    "server errors": (_server_error, {}),
    "dropped connections": (_disconnect, {}),
    "rate limited": (_rate_limited, {}),
    "truncated json": (_truncated, {}),
    "links keep expiring": (_links_expire, {}),
    "token endpoint down": (_token_errors, {}),
    "bad client secret": (_breaker, {"IRACING_CLIENT_SECRET": "wrong-client-secret"}),
    "bad password": (_breaker, {"IRACING_PASSWORD": "wrong-password-123"}),
    "legacy success and expiry": (_legacy_session_then_expiry, {"IRACING_AUTH_MODE": "legacy"}),
    "legacy captcha": (_captcha, {"IRACING_AUTH_MODE": "legacy"}),
    "legacy refused": (_legacy_refused, {"IRACING_AUTH_MODE": "legacy"}),
    "legacy bad password": (_breaker, {"IRACING_AUTH_MODE": "legacy", "IRACING_PASSWORD": "nope-nope-42"}),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_no_secret_in_logs_or_errors(
    case: str, fake: FakeIRacing, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    scenario, env = CASES[case]
    caplog.set_level(logging.DEBUG)
    settings = make_settings(fake, tmp_path, **env)
    store = MemoryAuthStateStore()
    errors: list[BaseException] = []
    outcome: object = None
    async with IRacingClient(
        settings,
        state_store=store,
        metrics=Metrics(),
        tuning=FAST,
        login_guard=LoginGuard(max_per_hour=20, failure_threshold=3),
    ) as client:
        try:
            outcome = await scenario(fake, client)
        except IRacingError as exc:
            errors.append(exc)
        status = client.auth_status()
    secrets = secrets_of(fake) + [v for k, v in env.items() if k in ("IRACING_CLIENT_SECRET", "IRACING_PASSWORD")]
    assert len(secrets) >= 5
    texts = [*record_texts(caplog.records), status, repr(outcome)]
    for exc in errors:
        texts += exception_texts(exc)
    assert leaks(texts, secrets) == []
    # The scenario really ran: the failure paths failed, the paths that recover succeeded.
    assert bool(errors) == (case not in ("oauth success, refresh and re-login", "rate limited"))
    assert fake.stats["oauth_requests"] + fake.stats["legacy_auth_requests"] >= 1
