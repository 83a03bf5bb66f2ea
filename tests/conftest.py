"""Shared fixtures: a fresh database per test on each backend listed in IR2DIS_TEST_BACKENDS.

A listed backend that cannot be reached fails the test; it is never skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ir2dis_cog.iracing.models import Subsession
from ir2dis_cog.store import Store, open_store
from tests.factories import load_subsession

ALL_BACKENDS = ("sqlite", "mysql", "postgresql")
MYSQL = {"host": os.environ.get("IR2DIS_TEST_MYSQL_HOST", "127.0.0.1"), "port": 3306, "user": "root"}
POSTGRES = {"host": os.environ.get("IR2DIS_TEST_PG_HOST", "127.0.0.1"), "port": 5432, "user": "postgres"}


def selected_backends() -> list[str]:
    raw = os.environ.get("IR2DIS_TEST_BACKENDS", ",".join(ALL_BACKENDS))
    chosen = [b.strip() for b in raw.split(",") if b.strip()]
    unknown = [b for b in chosen if b not in ALL_BACKENDS]
    if unknown:
        raise pytest.UsageError(f"IR2DIS_TEST_BACKENDS names unknown backends: {unknown}")
    return chosen


def _mysql_admin(sql: str) -> None:
    import pymysql

    try:
        conn = pymysql.connect(**MYSQL, password="", connect_timeout=5, autocommit=True)
    except pymysql.err.OperationalError as exc:
        pytest.fail(f"MariaDB/MySQL test backend not reachable at {MYSQL['host']}:3306: {exc}")
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def _postgres_admin(sql: str) -> None:
    import psycopg

    try:
        conn = psycopg.connect(**POSTGRES, dbname="postgres", connect_timeout=5, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL test backend not reachable at {POSTGRES['host']}:5432: {exc}")
    try:
        conn.execute(sql)
    finally:
        conn.close()


def make_database(backend: str, tmp_path: Path) -> tuple[str, object]:
    """Create an empty database for one test; returns its URL and a function that drops it."""
    name = f"ir2dis_t_{uuid.uuid4().hex[:12]}"
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / (name + '.sqlite3')}", lambda: None
    if backend == "mysql":
        _mysql_admin(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
        url = f"mysql://{MYSQL['user']}@{MYSQL['host']}:{MYSQL['port']}/{name}"
        return url, lambda: _mysql_admin(f"DROP DATABASE IF EXISTS {name}")
    _postgres_admin(f"CREATE DATABASE {name}")
    url = f"postgresql://{POSTGRES['user']}@{POSTGRES['host']}:{POSTGRES['port']}/{name}"
    return url, lambda: _postgres_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=selected_backends())
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    url, drop = make_database(backend, tmp_path)
    yield url
    drop()  # type: ignore[operator]


@pytest.fixture
async def store(db_url: str, tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(db_url, data_dir=tmp_path)
    try:
        yield opened
    finally:
        await opened.close()


_BACKEND_OUTCOMES: dict[tuple[str, str], int] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count outcomes per database backend, so the summary shows each one really ran."""
    if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
        return
    for name in ALL_BACKENDS:
        if f"[{name}" in report.nodeid or f"-{name}]" in report.nodeid:
            key = (name, report.outcome)
            _BACKEND_OUTCOMES[key] = _BACKEND_OUTCOMES.get(key, 0) + 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _BACKEND_OUTCOMES:
        return
    terminalreporter.section("database backends")
    for name in ALL_BACKENDS:
        outcomes = {o: n for (b, o), n in _BACKEND_OUTCOMES.items() if b == name}
        if outcomes:
            text = ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items()))
            terminalreporter.write_line(f"{name}: {text}")


# The recorded races the card and embed tests both read (parsed once per module).
@pytest.fixture(scope="module")
def solo() -> Subsession:
    return load_subsession("result.json")


@pytest.fixture(scope="module")
def team_race() -> Subsession:
    return load_subsession("result_with_team.json")


# Where the process, benchmark and wall-clock tests live: a new file there is `slow` without anyone
# remembering to mark it. A single slow test elsewhere carries `@pytest.mark.slow` itself.
_SLOW_PLACES = ("tests/e2e/", "tests/docker/", "tests/standalone/", "tests/poller/test_real_processes.py")
_SLOW_NAMES = ("benchmark", "scale_out")
# In tests/standalone only the launcher's pure rules, which start nothing.
_QUICK_FILES = ("tests/standalone/test_startup.py",)


def is_slow_place(where: str) -> bool:
    """`where`: a test file's path from the repository root, with forward slashes."""
    if where in _QUICK_FILES:
        return False
    name = where.rsplit("/", 1)[-1]
    return where.startswith(_SLOW_PLACES) or any(part in name for part in _SLOW_NAMES)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if is_slow_place(item.path.relative_to(config.rootpath).as_posix()):
            item.add_marker(pytest.mark.slow)
    spread_slow_ones(items)


def spread_slow_ones(items: list[pytest.Item]) -> None:
    """Spreads the slow tests evenly through the run. xdist hands each worker a run of neighbouring
    tests: left in place (tests/e2e/ is one block) they would all wait on one worker, one by one."""
    slow = [item for item in items if item.get_closest_marker("slow") is not None]
    if not slow or len(slow) == len(items):
        return
    quick = [item for item in items if item.get_closest_marker("slow") is None]
    step = len(quick) / len(slow)
    placed = [(k * step - 0.5, item) for k, item in enumerate(slow)] + [
        (float(j), item) for j, item in enumerate(quick)
    ]
    items[:] = [item for _, item in sorted(placed, key=lambda pair: pair[0])]
