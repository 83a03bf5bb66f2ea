"""IRacingClient: the one way the bot talks to the iRacing Data API.

Each call is iRacing's 2-step fetch: ``GET /data/...`` with our credentials answers a link,
then the link (S3) is fetched **without** them. Around that:
- retries with ``backoff``: connection errors, timeouts and 5xx with jittered exponential
  waits; 503 "Site Maintenance" with longer waits and its own ``MaintenanceError``;
- 401: refresh once, then log in once, then ``AuthError``;
- 429 (or a body that says "Rate limit exceeded"): nothing is sent before the announced reset;
- an expired link (S3 403) is fetched again from step 1, once;
- chunked answers (``chunk_info``) are downloaded and merged;
- the rate-limit budget (``ratelimit.py``): never more into a window than it allows, and
  at most ``IRACING_CONCURRENCY`` requests at once;
- lanes: who spends a request. The engine's calls are the ``poller`` lane (the default);
  ``client.lane(WATCHER)`` tags the live watcher's, ``client.interactive()`` is the members'
  view: their share of the budget only, never waiting, with short-lived caches.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, TypeVar

import aiohttp
import backoff
from yarl import URL

from ir2dis_cog.config.settings import Settings
from ir2dis_cog.iracing import models
from ir2dis_cog.iracing.auth import Authenticator, LoginGuard, build_authenticator
from ir2dis_cog.iracing.auth_state import AuthStateStore
from ir2dis_cog.iracing.errors import (
    AuthError,
    IRacingError,
    MaintenanceError,
    NotFoundError,
    ParseError,
    RateLimitedError,
)
from ir2dis_cog.iracing.interactive import InteractiveClient
from ir2dis_cog.iracing.lap_chart import LAP_CHART_DATA, LapChart, parse_lap_chart
from ir2dis_cog.iracing.leagues import (
    LEAGUE_DIRECTORY,
    LEAGUE_GET,
    LEAGUE_SEASON_SESSIONS,
    LEAGUE_SEASONS,
    League,
    LeagueSeason,
    LeagueSession,
    LeagueSummary,
    parse_league,
    parse_league_directory,
    parse_league_seasons,
    parse_league_sessions,
)
from ir2dis_cog.iracing.live import LIVE_RACES, REG_DRIVERS, LiveRace, RosterEntry, parse_live_races, parse_roster
from ir2dis_cog.iracing.models import DriverLookup, HostedSession, Member, RecentRace, Subsession
from ir2dis_cog.iracing.ratelimit import (
    INTERACTIVE,
    LANES,
    POLLER,
    Policy,
    RateBudget,
    RateLimiter,
    Usage,
    parse_rate_headers,
)
from ir2dis_cog.iracing.schedule import SEASON_SCHEDULE, SeasonSchedule, parse_season_schedule
from ir2dis_cog.iracing.search_series import SEARCH_SERIES, SeriesRace, parse_search_series
from ir2dis_cog.observability.logging import log_event
from ir2dis_cog.observability.metrics import Metrics

log = logging.getLogger("red.ir2dis.iracing.client")

T = TypeVar("T")

USER_AGENT = "ir2dis (+https://github.com/ir2dis)"
HOSTED_MAX_DAYS = 89  # search_hosted accepts a range of at most 90 days


@dataclass(frozen=True, slots=True)
class ClientTuning:
    """Timeouts and retry budgets; the defaults suit the real service, tests shrink them."""

    request_timeout: float = 30.0
    connect_timeout: float = 10.0
    transient_tries: int = 4
    transient_wait: float = 1.0  # first backoff step; doubles, fully jittered
    transient_max_wait: float = 30.0
    maintenance_tries: int = 2
    maintenance_wait: float = 30.0
    rate_limit_tries: int = 3
    max_rate_wait: float = 300.0  # a reset further away than this fails fast with RateLimitedError
    rate_reserve: int | None = None  # requests kept back in each window; None: the concurrency
    rate_window: float = 60.0  # iRacing's window; tests shrink it along with the fake's
    members_batch: int = 50


class _Transient(Exception):
    """A failure worth retrying (connection, timeout, 5xx)."""

    def __init__(self, endpoint: str, reason: str) -> None:
        super().__init__(reason)
        self.endpoint = endpoint
        self.reason = reason


class _RateLimitHit(Exception):
    def __init__(self, reset_at: float, lane: str) -> None:
        super().__init__("rate limited")
        self.reset_at = reset_at
        self.lane = lane


# Who spends the requests made in this task (and the tasks it starts): see ``IRacingClient.lane``.
_lane: contextvars.ContextVar[str] = contextvars.ContextVar("ir2dis_iracing_lane", default=POLLER)


def _member_gives_up(exc: Exception) -> bool:
    """A member's request is not retried after a 429 or during maintenance: they hear at once."""
    return _lane.get() == INTERACTIVE


class _Unauthorized(Exception):
    def __init__(self, used: Mapping[str, str]) -> None:
        super().__init__("unauthorized")
        self.used = dict(used)


class _LinkExpired(Exception):
    pass


def is_rate_limit_text(body: bytes) -> bool:
    """iRacing sometimes answers the plain text "Rate limit exceeded" (even with status 200)."""
    return body[:64].strip().lower().startswith(b"rate limit exceeded")


def is_maintenance(body: bytes) -> bool:
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return isinstance(data, dict) and str(data.get("error", "")).lower() == "site maintenance"


def _range_time(t: datetime) -> str:
    """A time as the ``search_*`` ranges take it: UTC, to the minute."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def chunk_info(body: Any) -> Mapping[str, Any] | None:
    """The ``chunk_info`` of a chunked answer (top level or under ``data``), else None."""
    if not isinstance(body, Mapping):
        return None
    info = body.get("chunk_info")
    if info is None and isinstance(body.get("data"), Mapping):
        info = body["data"].get("chunk_info")
    return info if isinstance(info, Mapping) else None


def chunk_urls(endpoint: str, info: Mapping[str, Any]) -> list[str]:
    base = info.get("base_download_url")
    names = info.get("chunk_file_names") or []
    if not isinstance(names, list) or (names and not isinstance(base, str)):
        raise ParseError(endpoint, "chunk_info without base_download_url or chunk_file_names")
    return [f"{base}{name}" for name in names]


def _batches(ids: Iterable[int], size: int) -> list[list[int]]:
    unique = sorted(set(ids))
    return [unique[i : i + size] for i in range(0, len(unique), size)]


def _check_id(name: str, value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**63:
        raise ValueError(f"{name} must be a positive whole number")
    return value


class IRacingClient:
    """Async context manager owning one aiohttp session with a bounded connector."""

    def __init__(
        self,
        settings: Settings,
        *,
        state_store: AuthStateStore,
        metrics: Metrics,
        tuning: ClientTuning | None = None,
        login_guard: LoginGuard | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._settings = settings
        self._store = state_store
        self._metrics = metrics
        self._maintenance = False  # the last data answer was 503 "Site Maintenance"
        self._tuning = tuning or ClientTuning()
        self._guard = login_guard
        self._clock = clock
        concurrency = max(1, settings.iracing_concurrency)
        self._concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        reserve = self._tuning.rate_reserve if self._tuning.rate_reserve is not None else concurrency
        policy = Policy(
            window=self._tuning.rate_window, reserve=reserve, interactive_share=settings.iracing_interactive_share
        )
        self._limiter = RateLimiter(
            policy=policy, max_wait=self._tuning.max_rate_wait, clock=clock, sleep=sleep, on_update=self._budget_changed
        )
        self._interactive: InteractiveClient | None = None  # the members' view, made on first use
        self._http: aiohttp.ClientSession | None = None
        self._auth: Authenticator | None = None
        self._data_call = self._with_retries(self._data_once, data_api=True)
        self._s3_call = self._with_retries(self._s3_once, data_api=False)

    # --- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> IRacingClient:
        t = self._tuning
        connector = aiohttp.TCPConnector(
            limit=self._concurrency * 2, limit_per_host=self._concurrency + 1, ttl_dns_cache=300
        )
        self._http = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=t.request_timeout, connect=t.connect_timeout),
            cookie_jar=aiohttp.DummyCookieJar(),  # credentials go out only where we put them
            headers={"User-Agent": USER_AGENT},
        )
        self._auth = build_authenticator(
            self._settings, self._store, self._metrics, self._http, clock=self._clock, guard=self._guard
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._http is not None:
            await self._http.close()
        self._http = None

    @property
    def authenticator(self) -> Authenticator:
        if self._auth is None:
            raise RuntimeError("IRacingClient is used outside its 'async with' block")
        return self._auth

    @property
    def budget(self) -> RateBudget:
        """What the poll engine may plan on: the window's budget less the members' share."""
        return self._limiter.budget

    def usage(self) -> Usage:
        """Requests of the last window by lane, and the members' cap (for /iracing status)."""
        return self._limiter.usage()

    def set_interactive_share(self, share: float) -> None:
        """The owner changed IRACING_INTERACTIVE_SHARE: it applies from the next request on."""
        self._limiter.set_interactive_share(share)

    @contextmanager
    def lane(self, lane: str) -> Iterator[None]:
        """Requests made inside this block (and tasks started in it) are spent by ``lane``."""
        if lane not in LANES:
            raise ValueError(f"unknown lane {lane!r}")
        token = _lane.set(lane)
        try:
            yield
        finally:
            _lane.reset(token)

    def interactive(self) -> InteractiveClient:
        """The view for members' commands: the interactive lane, never waiting, with caches."""
        if self._interactive is None:
            self._interactive = InteractiveClient(self, clock=self._clock)
        return self._interactive

    def in_maintenance(self) -> bool:
        """The last answer of the data API was maintenance (cleared by the next other answer)."""
        return self._maintenance

    def auth_status(self) -> str:
        if self._auth is None:
            return "not started"
        return self._auth.status()

    # --- the public calls --------------------------------------------------------------------

    async def get_recent_races(self, cust_id: int) -> list[RecentRace]:
        params = {"cust_id": str(_check_id("cust_id", cust_id))}
        body = await self._call(models.RECENT_RACES, params)
        races = models.parse_recent_races(body)
        if self._interactive is not None:
            self._interactive.saw_recent(cust_id, races)
        return races

    async def get_subsession(self, subsession_id: int) -> Subsession:
        params = {"subsession_id": str(_check_id("subsession_id", subsession_id))}
        subsession = models.parse_subsession(await self._call(models.RESULTS_GET, params))
        self._metrics.results_fetched_total.inc()
        if self._interactive is not None:
            self._interactive.saw_results(subsession)
        return subsession

    async def get_lap_chart(self, subsession_id: int) -> LapChart:
        """Every car's position on every lap of the main race (a link, then its chunks)."""
        params = {"subsession_id": str(_check_id("subsession_id", subsession_id)), "simsession_number": "0"}
        return parse_lap_chart(await self._call(f"results/{LAP_CHART_DATA}", params))

    async def get_members(self, cust_ids: Iterable[int]) -> list[Member]:
        batches = _batches((_check_id("cust_id", c) for c in cust_ids), self._tuning.members_batch)
        answers = await asyncio.gather(
            *(self._call(models.MEMBER_GET, {"cust_ids": ",".join(map(str, batch))}) for batch in batches)
        )
        return [member for body in answers for member in models.parse_members(body)]

    async def search_drivers(self, text: str) -> list[DriverLookup]:
        term = text.strip()[:100]
        if not term:
            return []
        return models.parse_driver_lookup(await self._call(models.LOOKUP_DRIVERS, {"search_term": term}))

    async def search_hosted(self, cust_id: int, since: datetime) -> list[HostedSession]:
        """Hosted and league sessions of a member that finished after ``since`` (at most ~90 days)."""
        earliest = datetime.fromtimestamp(self._clock(), UTC) - timedelta(days=HOSTED_MAX_DAYS)
        begin = max(since if since.tzinfo else since.replace(tzinfo=UTC), earliest).astimezone(UTC)
        params = {
            "cust_id": str(_check_id("cust_id", cust_id)),
            "finish_range_begin": _range_time(begin),
        }
        return models.parse_hosted(await self._search(models.SEARCH_HOSTED, params))

    async def search_leagues(self, text: str) -> list[LeagueSummary]:
        """Leagues whose name matches ``text`` (the directory's first page)."""
        term = " ".join(text.split())[:100]
        if not term:
            return []
        return parse_league_directory(await self._call(LEAGUE_DIRECTORY, {"search": term}))

    async def get_league(self, league_id: int) -> League:
        params = {"league_id": str(_check_id("league_id", league_id))}
        return parse_league(await self._call(LEAGUE_GET, params))

    async def get_league_seasons(self, league_id: int) -> list[LeagueSeason]:
        """The league's active seasons (iRacing lists retired ones only when asked)."""
        params = {"league_id": str(_check_id("league_id", league_id))}
        return parse_league_seasons(await self._call(LEAGUE_SEASONS, params))

    async def get_league_sessions(self, league_id: int, season_id: int) -> list[LeagueSession]:
        """A league season's sessions that have results."""
        params = {
            "league_id": str(_check_id("league_id", league_id)),
            "season_id": str(_check_id("season_id", season_id)),
            "results_only": "true",
        }
        return parse_league_sessions(await self._call(LEAGUE_SEASON_SESSIONS, params))

    async def get_live_races(self) -> list[LiveRace]:
        """The official race subsessions live right now (the live watcher's one request a minute)."""
        return parse_live_races(await self._call(LIVE_RACES, {"event_types": "5"}))

    async def get_roster(self, subsession_id: int) -> list[RosterEntry]:
        """Who is in a live subsession; empty once it is over (as reported)."""
        params = {"subsession_id": str(_check_id("subsession_id", subsession_id))}
        return parse_roster(await self._call(REG_DRIVERS, params))

    async def get_season_schedule(self, season_id: int) -> SeasonSchedule:
        """A season's weeks: its series and each week's track (for the on-track notice's names)."""
        params = {"season_id": str(_check_id("season_id", season_id))}
        return parse_season_schedule(await self._call(SEASON_SCHEDULE, params))

    async def search_series(self, begin: datetime, end: datetime) -> list[SeriesRace]:
        """Official races that finished between ``begin`` and ``end`` (the live watcher's catch-up
        after a start); rows name no driver, each costs a ``results/get`` to learn who raced."""
        params = {
            "finish_range_begin": _range_time(begin),
            "finish_range_end": _range_time(end),
            "event_types": "5",
            "official_only": "true",
        }
        return parse_search_series(await self._search(SEARCH_SERIES, params))

    async def _search(self, endpoint: str, params: Mapping[str, str]) -> Any:
        """A ``search_*`` call: its rows, merged from the chunks; a chunked answer without
        chunks (nothing found) is no rows."""
        rows = await self._call(endpoint, params)
        return [] if isinstance(rows, Mapping) and chunk_info(rows) is not None else rows

    # --- the 2-step fetch --------------------------------------------------------------------

    async def _call(self, endpoint: str, params: Mapping[str, str]) -> Any:
        """Link, then S3; errors come out as IRacingError subclasses only."""
        try:
            for attempt in range(2):
                envelope = await self._authorized(endpoint, params)
                try:
                    return await self._resolve(endpoint, envelope)
                except _LinkExpired:
                    if attempt:
                        raise IRacingError(f"the iRacing download link for {endpoint} kept expiring") from None
                    log.info("iRacing download link expired; asking for a new one", extra={"endpoint": endpoint})
            raise AssertionError("unreachable")
        except _Transient as exc:
            raise IRacingError(f"iRacing did not answer {endpoint} ({exc.reason})") from None
        except _RateLimitHit as exc:
            raise RateLimitedError(exc.reset_at) from None
        except MaintenanceError:
            log.warning("iRacing is down for maintenance", extra={"endpoint": endpoint})
            raise

    async def _authorized(self, endpoint: str, params: Mapping[str, str]) -> Any:
        """Step 1 with the 401 ladder: as is, after a refresh, after a new login, then give up."""
        for level in range(3):
            try:
                return await self._data_call(endpoint, params)
            except _Unauthorized as exc:
                if level == 2:
                    break
                log.info(
                    "iRacing answered 401; %s",
                    "refreshing the token" if level == 0 else "logging in again",
                    extra={"endpoint": endpoint},
                )
                await self.authenticator.recover(exc.used, level + 1)
        self._metrics.auth_failures_total.inc()
        raise AuthError("iRacing kept refusing our credentials (401) after a refresh and a new login")

    async def _resolve(self, endpoint: str, envelope: Any) -> Any:
        body = envelope
        if isinstance(envelope, Mapping) and isinstance(envelope.get("link"), str):
            body = await self._s3_call(endpoint, envelope["link"])
        info = chunk_info(body)
        if info is None:
            return body
        urls = chunk_urls(endpoint, info)
        if not urls:
            return body
        chunks = await asyncio.gather(*(self._s3_call(endpoint, url) for url in urls))
        rows: list[Any] = []
        for chunk in chunks:
            if not isinstance(chunk, list):
                raise ParseError(endpoint, "a chunk is not a list")
            rows.extend(chunk)
        return rows

    async def _data_once(self, endpoint: str, params: Mapping[str, str]) -> Any:
        lane = _lane.get()
        ticket = await self._limiter.acquire(lane)
        answer_headers: Mapping[str, str] | None = None

        def going_out() -> None:
            nonlocal ticket
            ticket = self._limiter.went_out(ticket)
            self._metrics.iracing_lane_requests_total.labels(lane).inc()

        try:
            headers = await self.authenticator.request_headers()
            url = f"{self._settings.iracing_api_base}/data/{endpoint}"
            status, answer_headers, body = await self._get(
                endpoint, endpoint.split("/")[0], url, params, headers, on_send=going_out
            )
        finally:
            self._limiter.answered(answer_headers, ticket)
        if status == 429 or (status == 200 and is_rate_limit_text(body)):
            self._metrics.rate_limited_total.inc()
            announced = parse_rate_headers(answer_headers)
            until = self._limiter.block(announced.reset_at if announced else None)
            log_event(
                log,
                "rate_limited",
                "iRacing rate limit exceeded; holding every request until the reset",
                level=logging.WARNING,
                endpoint=endpoint,
                reset_at=round(until, 1),
            )
            raise _RateLimitHit(until, lane)
        if status == 401:
            raise _Unauthorized(headers)
        # Seen at the first answer: /health need not wait for the retries below to give up.
        self._maintenance = status == 503 and is_maintenance(body)
        if self._maintenance:
            raise MaintenanceError()
        if status >= 500:
            raise _Transient(endpoint, f"HTTP {status}")
        if status == 404:
            raise NotFoundError(f"iRacing has nothing at {endpoint} for {dict(params)}")
        if status != 200:
            raise IRacingError(f"iRacing refused {endpoint} (HTTP {status})")
        return decode_json(endpoint, body)

    async def _s3_once(self, endpoint: str, link: str) -> Any:
        # The signed link goes out exactly as given, and without our credentials.
        status, _, body = await self._get(endpoint, "s3", URL(link, encoded=True), None, None)
        if status == 403:
            raise _LinkExpired()
        if status >= 500:
            raise _Transient(endpoint, f"download HTTP {status}")
        if status != 200:
            raise IRacingError(f"the iRacing download for {endpoint} was refused (HTTP {status})")
        return decode_json(endpoint, body)

    async def _get(
        self,
        endpoint: str,
        kind: str,
        url: str | URL,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        on_send: Callable[[], None] | None = None,
    ) -> tuple[int, Mapping[str, str], bytes]:
        if self._http is None:
            raise RuntimeError("IRacingClient is used outside its 'async with' block")
        async with self._slots:
            if on_send is not None:
                on_send()  # the budget counts a request from when it really leaves
            self._metrics.iracing_requests_total.labels(kind).inc()
            try:
                async with self._http.get(url, params=params, headers=headers) as resp:
                    return resp.status, resp.headers, await resp.read()
            except TimeoutError:
                raise _Transient(endpoint, "timeout") from None
            except aiohttp.ClientError as exc:
                raise _Transient(endpoint, type(exc).__name__) from None

    # --- retries -----------------------------------------------------------------------------

    def _with_retries(self, call: Callable[..., Awaitable[T]], *, data_api: bool) -> Callable[..., Awaitable[T]]:
        t = self._tuning
        # backoff's own log lines would print the call's arguments; ours name the endpoint only.
        wrapped = backoff.on_exception(
            backoff.expo,
            _Transient,
            max_tries=t.transient_tries,
            factor=t.transient_wait,
            max_value=t.transient_max_wait,
            jitter=backoff.full_jitter,
            logger=None,
            on_backoff=self._log_retry,
        )(call)
        if not data_api:
            return wrapped
        wrapped = backoff.on_exception(
            backoff.expo,
            MaintenanceError,
            max_tries=t.maintenance_tries,
            factor=t.maintenance_wait,
            jitter=backoff.random_jitter,
            giveup=_member_gives_up,
            logger=None,
            on_backoff=self._log_retry,
        )(wrapped)
        # The wait itself happens in RateLimiter.acquire, which holds until the announced reset.
        return backoff.on_exception(
            backoff.constant,
            _RateLimitHit,
            max_tries=t.rate_limit_tries,
            interval=0,
            jitter=None,
            giveup=_member_gives_up,
            logger=None,
        )(wrapped)

    @staticmethod
    def _log_retry(details: Mapping[str, Any]) -> None:
        exc = details.get("exception")
        reason = exc.reason if isinstance(exc, _Transient) else type(exc).__name__
        endpoint = details["args"][0] if details.get("args") else "?"
        log.warning(
            "iRacing request failed; retrying",
            extra={
                "endpoint": endpoint,
                "reason": reason,
                "tries": details.get("tries"),
                "wait_seconds": round(float(details.get("wait", 0.0)), 2),
            },
        )

    def _budget_changed(self, budget: RateBudget) -> None:
        if budget.remaining is not None:
            self._metrics.rate_limit_remaining.set(budget.remaining)


def decode_json(endpoint: str, body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise ParseError(endpoint, "not valid JSON (truncated or not JSON)") from None
