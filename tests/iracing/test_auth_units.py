"""Pure pieces: masking, token pairs, the login guard, the auth-state file (the rate budget: test_ratelimit.py)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from ir2dis_cog.iracing.auth import (
    LoginGuard,
    TokenPair,
    mask_secret,
    refresh_time,
    token_pair_from_response,
)
from ir2dis_cog.iracing.auth_state import (
    AuthStateStore,
    FileAuthStateStore,
    MemoryAuthStateStore,
    state_store_for,
)
from ir2dis_cog.iracing.errors import AuthError, CircuitOpenError


def test_mask_matches_iracings_documented_example() -> None:
    # The example of iRacing's own auth documentation: password, then the e-mail lowered.
    assert mask_secret("MyPassWord", "CLunky@iracing.Com") == "xGKecAR27ALXNuMLsGaG0v5Q9pSs2tZTZRKNgmHMg+Q="
    assert mask_secret("s3cret", "  Client-ID ") == mask_secret("s3cret", "client-id")


def test_token_pair_from_response_and_refresh_a_minute_early() -> None:
    pair = token_pair_from_response(
        {"access_token": "A", "expires_in": 600, "refresh_token": "R", "refresh_token_expires_in": 3600}, 1000.0
    )
    assert (pair.expires_at, pair.refresh_at, pair.refresh_expires_at) == (1600.0, 1540.0, 4600.0)
    assert pair.fresh(1539.0) and not pair.fresh(1540.0)
    assert pair.can_refresh(4000.0) and not pair.can_refresh(4599.0)
    assert refresh_time(0.0, 8.0) == 6.0  # short-lived tokens: at three quarters of their life
    assert TokenPair.from_dict(pair.to_dict()) == pair
    assert "A" not in repr(pair).replace("TokenPair", "") and "R" not in repr(pair).replace("TokenPair", "")


@pytest.mark.parametrize("body", [None, {}, {"access_token": "", "expires_in": 1}, {"access_token": "x"}])
def test_token_response_without_token_is_an_auth_error(body: object) -> None:
    with pytest.raises(AuthError):
        token_pair_from_response(body, 0.0)


def test_login_guard_throttles_per_hour() -> None:
    guard = LoginGuard(max_per_hour=2)
    for t in (0.0, 10.0):
        guard.check(t)
        guard.record_attempt(t)
        guard.record_success()
    with pytest.raises(CircuitOpenError) as info:
        guard.check(20.0)
    assert info.value.retry_at == 3600.0
    guard.check(3601.0)  # the first attempt has left the window


def test_login_guard_breaker_opens_after_repeated_failures_and_backs_off() -> None:
    guard = LoginGuard(max_per_hour=100, failure_threshold=3, open_seconds=60.0)
    assert not guard.record_failure(0.0)
    assert not guard.record_failure(1.0)
    assert guard.record_failure(2.0)
    with pytest.raises(CircuitOpenError, match="paused"):
        guard.check(30.0)
    guard.check(63.0)  # half open: one try
    assert guard.record_failure(63.0)
    assert guard.open_until == 63.0 + 120.0  # doubled
    guard.record_success()
    guard.check(64.0)


async def test_file_store_is_private_atomic_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "state" / "iracing-auth.json"
    store = FileAuthStateStore(path)
    assert isinstance(store, AuthStateStore)
    assert await store.load() is None
    await store.save({"a": 1})
    await store.save({"oauth": {"access_token": "x"}, "version": 1})
    assert await store.load() == {"oauth": {"access_token": "x"}, "version": 1}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["iracing-auth.json"]  # no temp file left


async def test_file_store_ignores_a_corrupt_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "auth.json"
    path.write_text('{"access_token": "tok-SECRET', encoding="utf-8")
    assert await FileAuthStateStore(path).load() is None
    assert "tok-SECRET" not in caplog.text
    path.write_text(json.dumps([1, 2]), encoding="utf-8")
    assert await FileAuthStateStore(path).load() is None


async def test_memory_store_copies() -> None:
    store = MemoryAuthStateStore()
    state = {"k": [1]}
    await store.save(state)
    state["k"].append(2)
    assert await store.load() == {"k": [1]}
    assert store.saves == 1


def test_state_store_choice(tmp_path: Path) -> None:
    database = MemoryAuthStateStore()
    assert state_store_for(None, database) is database
    chosen = state_store_for(tmp_path / "a.json", database)
    assert isinstance(chosen, FileAuthStateStore) and chosen.path == tmp_path / "a.json"
