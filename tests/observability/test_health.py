"""/health decisions (pure) and the sidecar served over real HTTP with a real database."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import aiohttp
import pytest

from ir2dis_cog.observability.health import (
    HealthChecks,
    HealthInputs,
    HealthServer,
    evaluate_health,
)
from ir2dis_cog.observability.metrics import Metrics
from ir2dis_cog.store import open_store

NOW = 1_750_000_000.0
INTERVAL = 300


def inputs(**changes: object) -> HealthInputs:
    base = {
        "database_ok": True,
        "last_cycle_ok_at": NOW - 60,
        "poll_interval_seconds": INTERVAL,
        "started_at": NOW - 86_400,
        "maintenance": False,
        "now": NOW,
    }
    base.update(changes)
    return HealthInputs(**base)  # type: ignore[arg-type]


def test_healthy_when_database_answers_and_cycle_is_recent() -> None:
    status, body = evaluate_health(inputs())
    assert status == 200 and body["status"] == "ok" and body["failing"] == []
    assert body["last_cycle_age_seconds"] == 60 and body["checks"]["poll_cycle"] == "ok"


def test_cycle_exactly_three_intervals_old_is_still_fine_one_second_more_is_not() -> None:
    assert evaluate_health(inputs(last_cycle_ok_at=NOW - 3 * INTERVAL))[0] == 200
    status, body = evaluate_health(inputs(last_cycle_ok_at=NOW - 3 * INTERVAL - 1))
    assert status == 503 and body["failing"] == ["poll_cycle"] and body["checks"]["poll_cycle"] == "stale"


def test_starting_bot_without_a_cycle_is_healthy_until_three_intervals_pass() -> None:
    status, body = evaluate_health(inputs(last_cycle_ok_at=None, started_at=NOW - 10))
    assert status == 200 and body["status"] == "starting" and body["last_cycle_ok_at"] is None
    status, body = evaluate_health(inputs(last_cycle_ok_at=None, started_at=NOW - 3 * INTERVAL - 1))
    assert status == 503 and body["failing"] == ["poll_cycle"]


def test_database_down_fails_even_while_starting() -> None:
    status, body = evaluate_health(inputs(database_ok=False, last_cycle_ok_at=None, started_at=NOW))
    assert status == 503 and body["failing"] == ["database"] and body["checks"]["database"] == "failing"


def test_maintenance_is_reported_and_excuses_a_stale_cycle() -> None:
    status, body = evaluate_health(inputs(maintenance=True, last_cycle_ok_at=NOW - 10 * INTERVAL))
    assert status == 200 and body["status"] == "maintenance" and body["checks"]["iracing"] == "maintenance"
    # ...but not a dead database.
    assert evaluate_health(inputs(maintenance=True, database_ok=False))[0] == 503


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_server_answers_health_and_metrics_against_a_real_database(db_url: str, tmp_path: Path) -> None:
    store = await open_store(db_url, data_dir=tmp_path)
    metrics = Metrics()
    metrics.posts_published_total.inc(3)
    metrics.tracked_drivers.set(7)
    last_ok: list[float | None] = [None]
    checks = HealthChecks(
        database_ok=store.ping,
        last_cycle_ok_at=lambda: last_ok[0],
        poll_interval_seconds=lambda: INTERVAL,
        started_at=NOW - 10,
        clock=lambda: NOW,
    )
    port = free_port()
    server = HealthServer("127.0.0.1", port, metrics, checks)
    await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/health") as r:
                assert r.status == 200 and (await r.json())["status"] == "starting"
            last_ok[0] = NOW - 5
            async with http.get(f"http://127.0.0.1:{port}/health") as r:
                body = await r.json()
                assert r.status == 200 and body["status"] == "ok" and body["checks"]["database"] == "ok"
            async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
                text = await r.text()
                assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain; version=")
                assert "ir2dis_posts_published_total 3.0" in text and "ir2dis_tracked_drivers 7.0" in text
            await store.close()  # the database goes away: /health says so
            async with http.get(f"http://127.0.0.1:{port}/health") as r:
                body = await r.json()
                assert r.status == 503 and body["failing"] == ["database"]
    finally:
        await server.stop()
        await store.close()
    assert not server.running


async def test_database_check_that_raises_counts_as_down() -> None:
    async def broken() -> bool:
        raise ConnectionResetError("gone")

    port = free_port()
    checks = HealthChecks(
        database_ok=broken,
        last_cycle_ok_at=lambda: NOW,
        poll_interval_seconds=lambda: 60,
        started_at=NOW,
        clock=lambda: NOW,
    )
    server = HealthServer("127.0.0.1", port, Metrics(), checks)
    await server.start()
    try:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/health") as r:
            assert r.status == 503 and (await r.json())["checks"]["database"] == "failing"
    finally:
        await server.stop()


async def test_port_in_use_is_logged_not_fatal_and_stop_is_safe(caplog: pytest.LogCaptureFixture) -> None:
    checks = HealthChecks(
        database_ok=lambda: True, last_cycle_ok_at=lambda: None, poll_interval_seconds=lambda: 60, started_at=NOW
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = HealthServer("127.0.0.1", port, Metrics(), checks)
        with caplog.at_level(logging.WARNING, logger="red.ir2dis.health"):
            await server.start()
        assert not server.running
        events = [getattr(r, "event", None) for r in caplog.records]
        assert events == ["health_server_unavailable"]
        assert caplog.records[0].port == port
        await server.stop()


async def test_port_zero_turns_the_server_off() -> None:
    checks = HealthChecks(
        database_ok=lambda: True, last_cycle_ok_at=lambda: None, poll_interval_seconds=lambda: 60, started_at=NOW
    )
    server = HealthServer("127.0.0.1", 0, Metrics(), checks)
    await server.start()
    assert not server.running
    await server.stop()


def test_health_shows_the_live_watcher_without_failing_on_a_degraded_one() -> None:
    from ir2dis_cog.core.status_text import LiveWatchView
    from ir2dis_cog.observability.health import HealthInputs, evaluate_health

    now = 1_770_000_000.0
    live = LiveWatchView("degraded", "no live list for 4 min (IRacingError)", now - 240, 0, 1, 3)
    status, body = evaluate_health(HealthInputs(True, now - 10, 300, now - 3600, False, now, live=live))
    assert status == 200
    assert body["live_watcher"] == {
        "state": "degraded",
        "reason": "no live list for 4 min (IRacingError)",
        "last_list_at": "2026-02-02T02:36:00+00:00",
        "races_live": 0,
        "races_watched": 1,
        "misses_last_day": 3,
        "caught_up_last_day": 0,
        "catching_up": False,
    }
