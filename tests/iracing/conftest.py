"""Fixtures for the iRacing client tests: a fake iRacing on a free loopback port, settings
pointing at it, fast retry tuning, and a check that no secret reached a log record."""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest

from ir2dis_cog.config.settings import Settings, load_settings
from ir2dis_cog.iracing.auth import mask_secret
from ir2dis_cog.iracing.auth_state import MemoryAuthStateStore
from ir2dis_cog.iracing.client import ClientTuning, IRacingClient
from ir2dis_cog.observability.metrics import Metrics
from tests.fakes.iracing import (
    FAKE_CLIENT_ID,
    FAKE_CLIENT_SECRET,
    FAKE_EMAIL,
    FAKE_PASSWORD,
    FakeIRacing,
)

# Retries in milliseconds instead of seconds; the logic is the same.
FAST = ClientTuning(
    request_timeout=5.0,
    connect_timeout=2.0,
    transient_tries=3,
    transient_wait=0.01,
    transient_max_wait=0.05,
    maintenance_tries=2,
    maintenance_wait=0.02,
    rate_limit_tries=3,
    max_rate_wait=30.0,
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeIRacing]:
    server = FakeIRacing()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def make_settings(fake: FakeIRacing, tmp_path: Path, **overrides: str) -> Settings:
    env = {
        "IRACING_EMAIL": FAKE_EMAIL,
        "IRACING_PASSWORD": FAKE_PASSWORD,
        "IRACING_CLIENT_ID": FAKE_CLIENT_ID,
        "IRACING_CLIENT_SECRET": FAKE_CLIENT_SECRET,
        "IRACING_API_BASE": fake.base_url or "",
        "IRACING_OAUTH_URL": fake.oauth_url,
        "IRACING_CONCURRENCY": "4",
        **overrides,
    }
    return load_settings(environ=env, config_file=tmp_path / "absent.json", mode="cog", data_dir=tmp_path)


@pytest.fixture
def settings(fake: FakeIRacing, tmp_path: Path) -> Settings:
    return make_settings(fake, tmp_path)


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def store() -> MemoryAuthStateStore:
    return MemoryAuthStateStore()


@pytest.fixture
async def client(settings: Settings, store: MemoryAuthStateStore, metrics: Metrics) -> AsyncIterator[IRacingClient]:
    async with IRacingClient(settings, state_store=store, metrics=metrics, tuning=FAST) as c:
        yield c


def secrets_of(fake: FakeIRacing) -> list[str]:
    """Every secret the client could leak: credentials, their masked forms, tokens, cookies."""
    values = [
        FAKE_PASSWORD,
        FAKE_CLIENT_SECRET,
        FAKE_EMAIL,
        mask_secret(FAKE_PASSWORD, FAKE_EMAIL),
        mask_secret(FAKE_CLIENT_SECRET, FAKE_CLIENT_ID),
    ]
    values += fake.issued_secrets()
    return values


def leaks(texts: Iterable[str], secrets: Iterable[str]) -> list[str]:
    found = []
    for text in texts:
        for secret in secrets:
            if secret and secret in text:
                found.append(f"{secret[:3]}... in {text[:80]!r}")
    return found


def record_texts(records: Iterable[logging.LogRecord]) -> list[str]:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    texts = []
    for record in records:
        texts.append(formatter.format(record))
        texts.append(repr(record.__dict__))  # extras, args, exc_text
    return texts


def exception_texts(exc: BaseException) -> list[str]:
    return [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
