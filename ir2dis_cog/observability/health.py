"""The sidecar HTTP server: ``GET /health`` and ``GET /metrics``.

``evaluate_health`` is the decision, a pure function over plain values; ``HealthServer`` only
gathers those values from ``HealthChecks`` and serves the answer. A port that is already taken
is logged once and the bot carries on without the sidecar.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from ir2dis_cog.core.status_text import LiveWatchView

from .logging import log_event
from .metrics import Metrics

log = logging.getLogger("red.ir2dis.health")

# How many poll intervals may pass without a successful cycle before /health fails.
STALE_AFTER_INTERVALS = 3
# A database that does not answer a ping within this many seconds counts as down.
DATABASE_PING_TIMEOUT = 5.0


@dataclass(frozen=True)
class HealthChecks:
    """Where the health inputs come from: plain callables, so the cog wires its own state."""

    database_ok: Callable[[], Awaitable[bool] | bool]
    last_cycle_ok_at: Callable[[], float | None]
    poll_interval_seconds: Callable[[], int]
    started_at: float
    maintenance: Callable[[], bool] = lambda: False
    clock: Callable[[], float] = field(default=time.time)
    live: Callable[[], LiveWatchView | None] = lambda: None


@dataclass(frozen=True)
class HealthInputs:
    database_ok: bool
    last_cycle_ok_at: float | None
    poll_interval_seconds: int
    started_at: float
    maintenance: bool
    now: float
    live: LiveWatchView | None = None


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def evaluate_health(inputs: HealthInputs) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body). 200 when the database answers and a cycle succeeded within
    three intervals, or the bot is still within its first three intervals; 503 otherwise.
    iRacing maintenance is reported and excuses a stale cycle (nothing can be polled then)."""
    window = STALE_AFTER_INTERVALS * max(1, inputs.poll_interval_seconds)
    last = inputs.last_cycle_ok_at
    starting = inputs.now - inputs.started_at < window
    if last is not None and inputs.now - last <= window:
        cycle = "ok"
    elif starting:
        cycle = "starting"
    elif inputs.maintenance:
        cycle = "waiting_for_maintenance"
    else:
        cycle = "stale"
    checks = {
        "database": "ok" if inputs.database_ok else "failing",
        "poll_cycle": cycle,
        "iracing": "maintenance" if inputs.maintenance else "ok",
    }
    failing = [name for name, value in checks.items() if value in ("failing", "stale")]
    if failing:
        status = "failing"
    elif cycle == "starting":
        status = "starting"
    elif inputs.maintenance:
        status = "maintenance"
    else:
        status = "ok"
    body: dict[str, Any] = {
        "status": status,
        "checks": checks,
        "failing": failing,
        "last_cycle_ok_at": _iso(last),
        "last_cycle_age_seconds": None if last is None else max(0, round(inputs.now - last)),
        "poll_interval_seconds": inputs.poll_interval_seconds,
        "uptime_seconds": max(0, round(inputs.now - inputs.started_at)),
    }
    if inputs.live is not None:
        # Shown, never failing: a degraded watcher only means every driver is polled as before.
        live = inputs.live
        body["live_watcher"] = {
            "state": live.state,
            "reason": live.reason,
            "last_list_at": _iso(live.last_list_at),
            "races_live": live.races_live,
            "races_watched": live.races_watched,
            "misses_last_day": live.misses_last_day,
            "caught_up_last_day": live.caught_up_last_day,
            "catching_up": live.catching_up,
        }
    return (503 if failing else 200), body


async def _database_ok(check: Callable[[], Awaitable[bool] | bool]) -> bool:
    try:
        async with asyncio.timeout(DATABASE_PING_TIMEOUT):
            result = check()
            if inspect.isawaitable(result):
                result = await result
            return bool(result)
    except Exception as exc:  # the check failing is the answer, not an error of the server
        log.warning(
            "health: database ping failed", extra={"event": "health_database_failed", "error": type(exc).__name__}
        )
        return False


async def gather_inputs(checks: HealthChecks) -> HealthInputs:
    return HealthInputs(
        database_ok=await _database_ok(checks.database_ok),
        last_cycle_ok_at=checks.last_cycle_ok_at(),
        poll_interval_seconds=checks.poll_interval_seconds(),
        started_at=checks.started_at,
        maintenance=bool(checks.maintenance()),
        now=checks.clock(),
        live=checks.live(),
    )


class HealthServer:
    """``/health`` and ``/metrics`` on ``host:port`` (port 0: no server at all)."""

    def __init__(self, host: str, port: int, metrics: Metrics, checks: HealthChecks) -> None:
        self.host = host
        self.port = port
        self.metrics = metrics
        self.checks = checks
        self._runner: web.AppRunner | None = None

    @property
    def running(self) -> bool:
        return self._runner is not None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/health", self._health)
        app.router.add_get("/metrics", self._metrics)
        return app

    async def _health(self, request: web.Request) -> web.Response:
        status, body = evaluate_health(await gather_inputs(self.checks))
        return web.json_response(body, status=status)

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self) -> None:
        if self.port == 0 or self._runner is not None:
            return
        # No access log: a health probe every few seconds would drown the useful lines.
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
        except OSError as exc:
            await runner.cleanup()
            log_event(
                log,
                "health_server_unavailable",
                level=logging.WARNING,
                host=self.host,
                port=self.port,
                error=exc.strerror or type(exc).__name__,
            )
            return
        self._runner = runner
        log_event(log, "health_server_started", host=self.host, port=self.port)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
