"""Fixtures for the end-to-end tests: a prepared RedHarness, redbot's log on failure, a fake iRacing."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.redbot_harness import E2E_DIR, RedHarness
from tests.fakes.iracing import FakeIRacing

LOG_KEY = pytest.StashKey[RedHarness]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, object, object]:
    report = yield
    harness = item.stash.get(LOG_KEY, None)
    if harness is not None and getattr(report, "failed", False) and harness.process is not None:
        report.sections.append(("redbot output (tail)", harness.process.log_tail(300)))  # type: ignore[attr-defined]
    return report


@pytest.fixture
async def make_red_harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """`await make_red_harness(cog_paths=[...], env={...})`: a prepared RedHarness (Red not started).

    Every harness made is closed (Red killed, fake stopped) at the end; a failing test prints
    the output of the last one made.
    """
    made: list[RedHarness] = []

    async def make(**kwargs: Any) -> RedHarness:
        harness = RedHarness(tmp_path / f"red{len(made)}", **kwargs)
        made.append(harness)
        request.node.stash[LOG_KEY] = harness
        await harness.prepare()
        return harness

    try:
        yield make
    finally:
        for harness in made:
            await harness.close()


@pytest.fixture
async def red_harness(make_red_harness: Callable[..., Any]) -> RedHarness:
    """A fake Discord, one guild with #bot-commands, a fresh Red instance (not yet started);
    the probe cog's folder is on the cog path. Tests choose when to start and what to load."""
    return await make_red_harness(cog_paths=[E2E_DIR])


@pytest.fixture
async def make_fake_iracing() -> AsyncIterator[Callable[[str, str], Awaitable[FakeIRacing]]]:
    """`await make_fake_iracing(client_id, email)`: a started fake iRacing accepting a client secret
    and password made up for this run, so that a leak of either is recognisable. Stopped at the end."""
    started: list[FakeIRacing] = []

    async def make(client_id: str, email: str) -> FakeIRacing:
        fake = FakeIRacing(
            client_id=client_id,
            client_secret=f"cs-{secrets.token_urlsafe(18)}",
            email=email,
            password=f"pw-{secrets.token_urlsafe(18)}",
        )
        await fake.start()
        started.append(fake)
        return fake

    try:
        yield make
    finally:
        for fake in started:
            await fake.stop()
