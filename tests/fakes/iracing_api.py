"""A fake iRacing on 127.0.0.1: OAuth token endpoint, legacy /auth, data API, S3 links.

Used by the client tests, the engine tests, the end-to-end test, the Docker test and the
benchmark. Programmable in-process (``FakeIRacing``: members, races, faults) and over HTTP
control routes under ``/_fake/``. Payloads follow the shapes of iRacing's recorded answers.
Per-request work is O(1): result bodies are encoded once, when a race is added.

Run alone: ``python -m tests.fakes.iracing_api --port 8081 [--latency-ms 80 --s3-latency-ms 40
--rate-limit 240 --rate-window 60]``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import bisect
import hashlib
import json
import math
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

FAKE_CLIENT_ID = "ir2dis-test-client"
FAKE_CLIENT_SECRET = "fake-client-secret-1234"
FAKE_EMAIL = "driver@example.com"
FAKE_PASSWORD = "fake-password-5678"

FAULT_KINDS = frozenset(
    {
        "maintenance",  # data request -> 503 Site Maintenance
        "server_error",  # data request -> 500 (param: status)
        "unauthorized",  # data request -> 401 whatever the token
        "slow",  # data (or S3 with target="s3") request waits `delay` seconds first
        "disconnect",  # data request: the connection is dropped without an answer
        "truncated",  # S3 body cut in half
        "link_expired",  # S3 -> 403 as for an expired link
        "token_error",  # token endpoint -> 500 (param: status)
        "rate_limit",  # immediate: 429 "Rate limit exceeded" until now + reset_in (param: status 429|200)
        "captcha",  # sticky: legacy login demands a CAPTCHA
        "legacy_refused",  # sticky: legacy login answers "Legacy authorization refused."
        "expire_tokens",  # immediate: every access token expires now
    }
)
_COUNTED = (
    "maintenance",
    "server_error",
    "unauthorized",
    "slow",
    "disconnect",
    "truncated",
    "link_expired",
    "token_error",
)


def mask(secret: str, salt: str) -> str:
    """iRacing's masking, as the real token endpoint expects it."""
    return base64.b64encode(hashlib.sha256((secret + salt.strip().lower()).encode()).digest()).decode()


@dataclass(frozen=True)
class RaceEntry:
    """One car in a race: a solo driver, or a team when ``team_name`` is set."""

    cust_ids: tuple[int, ...]
    team_name: str | None = None
    team_id: int | None = None
    car_class_id: int | None = None
    car_name: str = "Fake Car GT4"
    incidents: int = 0
    laps_complete: int | None = None
    laps_led: int = 0
    reason_out: str = "Running"
    best_lap_time: float | None = None  # seconds
    start_position: int | None = None  # 1-based; default: the finishing order


@dataclass(slots=True)
class RequestRecord:
    at: float
    kind: str  # "data", "s3", "oauth", "legacy_auth"
    path: str
    query: str
    authorization: bool  # an Authorization header was sent
    status: int = 0
    grant_type: str | None = None


@dataclass
class _Member:
    cust_id: int
    display_name: str
    irating: int
    license_level: int
    sub_level: int


@dataclass
class _Race:
    subsession_id: int
    start: float
    end: float
    body: bytes
    summaries: dict[int, dict[str, Any]] = field(default_factory=dict)  # cust_id -> recent-race row
    hosted_row: dict[str, Any] | None = None


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _to_epoch(value: datetime | float | int | str | None, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, str):
        return _to_epoch(datetime.fromisoformat(value), default)
    return float(value)


def _entry(raw: int | Sequence[int] | RaceEntry | Mapping[str, Any]) -> RaceEntry:
    if isinstance(raw, RaceEntry):
        return raw
    if isinstance(raw, int):
        return RaceEntry((raw,))
    if isinstance(raw, Mapping):
        data = dict(raw)
        data["cust_ids"] = tuple(data.get("cust_ids") or [data.pop("cust_id")])
        data.pop("cust_id", None)
        return RaceEntry(**data)
    ids = tuple(int(c) for c in raw)
    return RaceEntry(ids, team_name=f"Team {ids[0]}")


class FakeIRacing:
    """The world and the server. Start with ``await fake.start()``; ``fake.base_url`` then holds
    ``http://127.0.0.1:<port>``: the API base, with the token endpoint at ``/oauth2/token``."""

    def __init__(
        self,
        *,
        client_id: str = FAKE_CLIENT_ID,
        client_secret: str = FAKE_CLIENT_SECRET,
        email: str = FAKE_EMAIL,
        password: str = FAKE_PASSWORD,
        rate_limit: int = 240,
        rate_window: float = 60.0,
        latency_ms: float = 0.0,
        s3_latency_ms: float = 0.0,
        access_token_ttl: int = 600,
        refresh_token_ttl: int = 7 * 24 * 3600,
        link_ttl: float = 60.0,
        hosted_chunk_size: int = 10,
        legacy_enabled: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.email = email
        self.password = password
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.latency_ms = latency_ms
        self.s3_latency_ms = s3_latency_ms
        self.access_token_ttl = access_token_ttl
        self.refresh_token_ttl = refresh_token_ttl
        self.link_ttl = link_ttl
        self.hosted_chunk_size = hosted_chunk_size
        self.legacy_enabled = legacy_enabled
        self.clock = clock

        self.members: dict[int, _Member] = {}
        self._races: dict[int, _Race] = {}
        self._recent: dict[int, list[tuple[float, int]]] = {}  # cust_id -> [(-start, subsession_id)]
        self._recent_cache: dict[int, bytes] = {}
        self._hosted: dict[int, list[int]] = {}  # cust_id -> hosted subsession ids
        self._next_subsession = 90_000_001
        self._next_team = 500_001

        self._access: dict[str, float] = {}
        self._refresh: dict[str, float] = {}
        self._spent_refresh: set[str] = set()
        self._legacy_sessions: set[str] = set()
        self._legacy_other_cookies: list[str] = []
        self._links: dict[str, tuple[float, bytes]] = {}
        self._link_order: deque[tuple[float, str]] = deque()

        self._faults: dict[str, deque[dict[str, Any]]] = {k: deque() for k in _COUNTED}
        self.captcha = False
        self.legacy_refused = False
        self._blocked_until: float | None = None
        self._blocked_status = 429
        self._window_index = -1
        self._window_count = 0

        self.requests: list[RequestRecord] = []
        self.stats: Counter[str] = Counter()
        self.base_url: str | None = None
        self._runner: web.AppRunner | None = None

    # --- the world -----------------------------------------------------------------------------

    def add_member(
        self,
        cust_id: int,
        display_name: str | None = None,
        *,
        irating: int | None = None,
        license_level: int | None = None,
        sub_level: int | None = None,
    ) -> None:
        self.members[cust_id] = _Member(
            cust_id=cust_id,
            display_name=display_name or f"Driver {cust_id}",
            irating=irating if irating is not None else 1200 + cust_id % 3000,
            license_level=license_level if license_level is not None else 9 + cust_id % 12,
            sub_level=sub_level if sub_level is not None else 100 + cust_id % 399,
        )
        self._recent_cache.pop(cust_id, None)

    def _member(self, cust_id: int) -> _Member:
        if cust_id not in self.members:
            self.add_member(cust_id)
        return self.members[cust_id]

    def add_race(
        self,
        entries: Sequence[int | Sequence[int] | RaceEntry | Mapping[str, Any]],
        *,
        series_name: str = "Fake Mazda Cup",
        series_short_name: str | None = None,
        series_id: int = 139,
        season_name: str = "Fake Mazda Cup - 2026 Season 1",
        season_id: int = 5893,
        track_name: str = "Fake Raceway Park",
        track_config: str | None = "Grand Prix",
        track_id: int = 449,
        car_classes: Sequence[tuple[int, str]] | None = None,
        session_start_time: datetime | float | str | None = None,
        race_minutes: float = 30.0,
        laps: int = 10,
        subsession_id: int | None = None,
        split_number: int = 1,
        num_splits: int = 1,
        official: bool = True,
        hosted: bool = False,
        session_name: str | None = None,
        host_cust_id: int | None = None,
        event_type_name: str = "Race",
    ) -> int:
        """Add a finished race (entries in finishing order) and return its subsession id.

        By default it started ``race_minutes`` ago and has just ended. Official races show up
        in each driver's ``member_recent_races``; hosted ones in ``search_hosted``.
        """
        now = self.clock()
        start = _to_epoch(session_start_time, now - race_minutes * 60)
        end = start + race_minutes * 60
        if subsession_id is None:
            subsession_id = self._next_subsession
        self._next_subsession = max(self._next_subsession, subsession_id) + 1
        classes = list(car_classes or [(74, "Fake Class")])
        class_names = dict(classes)
        cars = [_entry(e) for e in entries]
        team_event = any(c.team_name for c in cars)

        rows: list[dict[str, Any]] = []
        class_counts: Counter[int] = Counter()
        class_ratings: dict[int, list[int]] = {cid: [] for cid, _ in classes}
        base_lap = 900_000 + (subsession_id % 7) * 10_000
        for index, car in enumerate(cars):
            class_id = car.car_class_id if car.car_class_id is not None else classes[0][0]
            class_pos = class_counts[class_id]
            class_counts[class_id] += 1
            common = {
                "finish_position": index,
                "finish_position_in_class": class_pos,
                "starting_position": (car.start_position - 1) if car.start_position else index,
                "starting_position_in_class": (car.start_position - 1) if car.start_position else class_pos,
                "position": index,
                "car_id": 67,
                "car_name": car.car_name,
                "car_class_id": class_id,
                "car_class_name": class_names.get(class_id, f"Class {class_id}"),
                "car_class_short_name": class_names.get(class_id, f"Class {class_id}"),
                "laps_complete": car.laps_complete if car.laps_complete is not None else laps,
                "laps_lead": car.laps_led,
                "incidents": car.incidents,
                "best_lap_time": (round(car.best_lap_time * 10_000) if car.best_lap_time else base_lap + index * 1_234),
                "average_lap": base_lap + 20_000 + index * 2_345,
                "interval": 0 if index == 0 else index * 21_337,
                "class_interval": 0 if class_pos == 0 else class_pos * 21_337,
                "qual_lap_time": -1,
                "champ_points": max(0, 180 - index * 7),
                "reason_out": car.reason_out,
                "reason_out_id": 0 if car.reason_out == "Running" else 32,
                "ai": False,
                "division": 0,
                "drop_race": False,
                "weight_penalty_kg": -1,
            }
            drivers = []
            for cust_id in car.cust_ids:
                member = self._member(cust_id)
                gain = (len(cars) // 2 - index) * 4
                drivers.append(
                    {
                        **common,
                        "cust_id": cust_id,
                        "display_name": member.display_name,
                        "oldi_rating": member.irating,
                        "newi_rating": member.irating + gain,
                        "old_sub_level": member.sub_level,
                        "new_sub_level": member.sub_level + (5 if car.incidents < 4 else -10),
                        "old_license_level": member.license_level,
                        "new_license_level": member.license_level,
                        "country_code": "DE",
                        "laps_complete": common["laps_complete"] // max(1, len(car.cust_ids)),
                    }
                )
                class_ratings.setdefault(class_id, []).append(member.irating)
            if car.team_name:
                team_id = car.team_id if car.team_id is not None else -self._next_team
                self._next_team += 1
                for d in drivers:
                    d["team_id"] = team_id
                rows.append(
                    {
                        **common,
                        "team_id": team_id,
                        "display_name": car.team_name,
                        "oldi_rating": -1,
                        "newi_rating": -1,
                        "old_sub_level": -1,
                        "new_sub_level": -1,
                        "old_license_level": -1,
                        "new_license_level": -1,
                        "country_code": "GO",
                        "driver_results": drivers,
                    }
                )
            else:
                rows.extend(drivers)

        def sof(ratings: list[int]) -> int:
            return round(sum(ratings) / len(ratings)) if ratings else -1

        all_ratings = [r for rs in class_ratings.values() for r in rs]
        event_sof = sof(all_ratings)
        split_ids = [subsession_id + (i - split_number + 1) for i in range(num_splits)]
        body = {
            "subsession_id": subsession_id,
            "session_id": subsession_id * 3,
            "series_id": series_id,
            "series_name": series_name,
            "series_short_name": series_short_name or series_name,
            "season_id": season_id,
            "season_name": season_name,
            "season_short_name": "2026 Season 1",
            "season_year": 2026,
            "season_quarter": 1,
            "race_week_num": 1,
            "start_time": _iso(start),
            "end_time": _iso(end),
            "official_session": official,
            "event_type": 5,
            "event_type_name": event_type_name,
            "event_strength_of_field": event_sof,
            "event_best_lap_time": base_lap,
            "event_average_lap": base_lap + 20_000,
            "event_laps_complete": laps,
            "num_drivers": sum(len(c.cust_ids) for c in cars),
            "num_cautions": 0,
            "num_lead_changes": 0,
            "driver_changes": team_event,
            "max_team_drivers": max((len(c.cust_ids) for c in cars), default=1),
            "min_team_drivers": 1,
            "license_category": "Sports_Car",
            "license_category_id": 5,
            "track": {
                "track_id": track_id,
                "track_name": track_name,
                "config_name": track_config or "",
                "category": "Road",
                "category_id": 2,
            },
            "car_classes": [
                {
                    "car_class_id": cid,
                    "name": name,
                    "short_name": name,
                    "strength_of_field": sof(class_ratings.get(cid, [])),
                    "num_entries": class_counts[cid],
                    "cars_in_class": [{"car_id": 67}],
                }
                for cid, name in classes
            ],
            "session_splits": [{"subsession_id": sid, "event_strength_of_field": event_sof} for sid in split_ids],
            "session_results": [
                {
                    "simsession_number": -1,
                    "simsession_name": "QUALIFY",
                    "simsession_type": 4,
                    "simsession_type_name": "Lone Qualifying",
                    "simsession_subtype": 0,
                    "results": [_qualifying_row(r) for r in rows],
                },
                {
                    "simsession_number": 0,
                    "simsession_name": "RACE",
                    "simsession_type": 6,
                    "simsession_type_name": "Race",
                    "simsession_subtype": 0,
                    "results": rows,
                },
            ],
        }
        race = _Race(subsession_id, start, end, json.dumps(body).encode())
        winner = rows[0] if rows else None
        for row in rows:
            for d in row.get("driver_results", [row]):
                race.summaries[d["cust_id"]] = {
                    "season_id": season_id,
                    "series_id": series_id,
                    "series_name": series_name,
                    "car_id": d["car_id"],
                    "car_class_id": d["car_class_id"],
                    "license_level": d["new_license_level"],
                    "session_start_time": _iso(start),
                    "winner_group_id": (winner.get("team_id") or winner.get("cust_id")) if winner else -1,
                    "winner_name": winner["display_name"] if winner else "",
                    "start_position": d["starting_position"] + 1,
                    "finish_position": d["finish_position"] + 1,
                    "qualifying_time": 0,
                    "laps": d["laps_complete"],
                    "laps_led": d["laps_lead"],
                    "incidents": d["incidents"],
                    "points": d["champ_points"],
                    "strength_of_field": event_sof,
                    "subsession_id": subsession_id,
                    "old_sub_level": d["old_sub_level"],
                    "new_sub_level": d["new_sub_level"],
                    "oldi_rating": d["oldi_rating"],
                    "newi_rating": d["newi_rating"],
                    "track": {"track_id": track_id, "track_name": track_name},
                    "drop_race": False,
                    "season_year": 2026,
                    "season_quarter": 1,
                    "race_week_num": 1,
                }
        if hosted:
            race.hosted_row = {
                "subsession_id": subsession_id,
                "session_id": subsession_id * 3,
                "session_name": session_name or f"{series_name} league night",
                "start_time": _iso(start),
                "end_time": _iso(end),
                "track": {"track_id": track_id, "track_name": track_name, "config_name": track_config or ""},
                "num_drivers": body["num_drivers"],
                "winner_name": winner["display_name"] if winner else "",
                "host": {
                    "cust_id": host_cust_id or (cars[0].cust_ids[0] if cars else 0),
                    "display_name": self._member(host_cust_id).display_name if host_cust_id else "Host",
                },
                "official_session": False,
                "event_type_name": event_type_name,
            }
        self._races[subsession_id] = race
        for cust_id in race.summaries:
            if hosted:
                self._hosted.setdefault(cust_id, []).append(subsession_id)
            elif official:
                bisect.insort(self._recent.setdefault(cust_id, []), (-start, subsession_id))
                self._recent_cache.pop(cust_id, None)
        return subsession_id

    def recent_race_ids(self, cust_id: int) -> list[int]:
        return [sid for _, sid in self._recent.get(cust_id, [])[:10]]

    # --- faults ----------------------------------------------------------------------------------

    def fault(self, kind: str, count: int = 1, **params: Any) -> None:
        """Inject a fault (see FAULT_KINDS). Counted faults hit the next ``count`` matching requests."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {sorted(FAULT_KINDS)}")
        now = self.clock()
        if kind == "rate_limit":
            reset_in = float(params.get("reset_in", 2.0))
            self._blocked_until = float(math.ceil(now + reset_in))
            self._blocked_status = int(params.get("status", 429))
        elif kind == "captcha":
            self.captcha = True
        elif kind == "legacy_refused":
            self.legacy_refused = True
        elif kind == "expire_tokens":
            self.expire_access_tokens()
        else:
            for _ in range(count):
                self._faults[kind].append(dict(params))

    def clear_faults(self) -> None:
        for queue in self._faults.values():
            queue.clear()
        self.captcha = self.legacy_refused = False
        self._blocked_until = None

    def expire_access_tokens(self) -> None:
        now = self.clock()
        for token in self._access:
            self._access[token] = now - 1

    @property
    def blocked_until(self) -> float | None:
        return self._blocked_until

    def _take(self, kind: str, target: str = "data") -> dict[str, Any] | None:
        queue = self._faults[kind]
        if queue and queue[0].get("target", "data") == target:
            return queue.popleft()
        return None

    def issue_tokens(self, *, access_ttl: float | None = None) -> dict[str, Any]:
        """Mint a token pair directly (a test seeding saved state); counts as no login."""
        return self._issue(access_ttl)

    def issued_secrets(self) -> list[str]:
        """Every token and session cookie this fake handed out (for leak checks)."""
        return [
            *self._access,
            *self._refresh,
            *self._spent_refresh,
            *self._legacy_sessions,
            *self._legacy_other_cookies,
        ]

    def _issue(self, access_ttl: float | None = None) -> dict[str, Any]:
        now = self.clock()
        ttl = self.access_token_ttl if access_ttl is None else access_ttl
        access, refresh = "fake-at-" + secrets.token_urlsafe(24), "fake-rt-" + secrets.token_urlsafe(24)
        self._access[access] = now + ttl
        self._refresh[refresh] = now + self.refresh_token_ttl
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": ttl,
            "refresh_token": refresh,
            "refresh_token_expires_in": self.refresh_token_ttl,
            "scope": "iracing.auth",
        }

    # --- server ----------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/oauth2/token", self._token)
        app.router.add_post("/auth", self._legacy_auth)
        app.router.add_get("/data/{path:.+}", self._data)
        app.router.add_get("/_s3/{key}", self._s3)
        app.router.add_post("/_fake/members", self._c_members)
        app.router.add_post("/_fake/races", self._c_races)
        app.router.add_post("/_fake/faults", self._c_faults)
        app.router.add_delete("/_fake/faults", self._c_clear_faults)
        app.router.add_post("/_fake/expire_tokens", self._c_expire)
        app.router.add_get("/_fake/requests", self._c_requests)
        app.router.add_delete("/_fake/requests", self._c_clear_requests)
        app.router.add_get("/_fake/stats", self._c_stats)
        app.router.add_post("/_fake/config", self._c_config)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0]
        self.base_url = f"http://{host}:{bound[1]}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def oauth_url(self) -> str:
        assert self.base_url is not None
        return f"{self.base_url}/oauth2/token"

    def _record(self, request: web.Request, kind: str) -> RequestRecord:
        record = RequestRecord(
            self.clock(), kind, request.path, request.query_string, "Authorization" in request.headers
        )
        self.requests.append(record)
        self.stats[f"{kind}_requests"] += 1
        return record

    # --- OAuth and legacy login --------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        record = self._record(request, "oauth")
        form = await request.post()
        grant = str(form.get("grant_type", ""))
        record.grant_type = grant
        fault = self._faults["token_error"].popleft() if self._faults["token_error"] else None
        if fault is not None:
            return self._json(record, {"error": "server_error"}, int(fault.get("status", 500)))
        if form.get("client_id") != self.client_id or form.get("client_secret") != mask(
            self.client_secret, self.client_id
        ):
            return self._json(record, {"error": "invalid_client"}, 401)
        if grant == "password_limited":
            username = str(form.get("username", ""))
            if username.strip().lower() != self.email.lower() or form.get("password") != mask(
                self.password, self.email
            ):
                return self._json(
                    record, {"error": "invalid_grant", "error_description": "bad username or password"}, 400
                )
            if form.get("scope") != "iracing.auth":
                return self._json(record, {"error": "invalid_scope"}, 400)
            self.stats["logins"] += 1
            return self._json(record, self._issue(), 200)
        if grant == "refresh_token":
            token = str(form.get("refresh_token", ""))
            if token in self._spent_refresh:
                self.stats["refresh_reuse"] += 1
                return self._json(record, {"error": "invalid_grant"}, 400)
            expires = self._refresh.pop(token, None)
            if expires is None or expires < self.clock():
                return self._json(record, {"error": "invalid_grant"}, 400)
            self._spent_refresh.add(token)
            self.stats["refreshes"] += 1
            return self._json(record, self._issue(), 200)
        return self._json(record, {"error": "unsupported_grant_type"}, 400)

    async def _legacy_auth(self, request: web.Request) -> web.Response:
        record = self._record(request, "legacy_auth")
        if not self.legacy_enabled:
            return self._json(record, {"error": "Method Not Allowed"}, 405)
        try:
            body = await request.json()
        except ValueError:
            return self._json(record, {"error": "Bad Request"}, 400)
        failure = {"authcode": 0, "inactive": False, "verificationRequired": False}
        if self.captcha:
            return self._json(
                record, {**failure, "verificationRequired": True, "message": "Verification required."}, 200
            )
        if self.legacy_refused:
            return self._json(record, {**failure, "message": "Legacy authorization refused."}, 200)
        email = str(body.get("email", ""))
        if email.strip().lower() != self.email.lower() or body.get("password") != mask(self.password, email):
            return self._json(
                record, {**failure, "message": "Invalid email address or password. Please try again."}, 200
            )
        token = secrets.token_urlsafe(24)
        self._legacy_sessions.add(token)
        self.stats["legacy_logins"] += 1
        response = self._json(record, {"authcode": secrets.token_hex(16), "custId": 1, "autoLoginToken": None}, 200)
        response.set_cookie("authtoken_members", token, httponly=True)
        sso = secrets.token_urlsafe(16)
        self._legacy_other_cookies.append(sso)
        response.set_cookie("irsso_membersv2", sso, httponly=True)
        return response

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            expires = self._access.get(header[7:])
            return expires is not None and expires > self.clock()
        return request.cookies.get("authtoken_members") in self._legacy_sessions

    # --- data API -----------------------------------------------------------------------------------

    def _rate_headers(self, now: float) -> dict[str, str]:
        index = math.floor(now / self.rate_window)
        if index != self._window_index:
            self._window_index, self._window_count = index, 0
        self._window_count += 1
        reset = (index + 1) * self.rate_window
        if self._blocked_until is not None and now < self._blocked_until:
            return {
                "x-ratelimit-limit": str(self.rate_limit),
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": _number(self._blocked_until),
            }
        return {
            "x-ratelimit-limit": str(self.rate_limit),
            "x-ratelimit-remaining": str(max(0, self.rate_limit - self._window_count)),
            "x-ratelimit-reset": _number(reset),
        }

    async def _data(self, request: web.Request) -> web.StreamResponse:
        record = self._record(request, "data")
        slow = self._take("slow")
        delay = self.latency_ms / 1000 + (float(slow.get("delay", 2.0)) if slow else 0.0)
        if delay:
            await asyncio.sleep(delay)
        now = self.clock()
        headers = self._rate_headers(now)
        if self._blocked_until is not None and now < self._blocked_until:
            self.stats["rate_limited"] += 1
            return self._text(record, "Rate limit exceeded", self._blocked_status, headers)
        if self._window_count > self.rate_limit:
            self.stats["rate_limited"] += 1
            return self._text(record, "Rate limit exceeded", 429, headers)
        if self._faults["disconnect"]:
            self._faults["disconnect"].popleft()
            record.status = -1
            assert request.transport is not None
            request.transport.close()  # the client sees the connection drop mid-request
            return web.Response(status=500)
        if self._take("maintenance") is not None:
            return self._json(
                record,
                {
                    "error": "Site Maintenance",
                    "note": "The site is currently undergoing maintenance. Please try your request later.",
                },
                503,
                headers,
            )
        fault = self._take("server_error")
        if fault is not None:
            return self._json(record, {"error": "Internal Server Error"}, int(fault.get("status", 500)), headers)
        if self._take("unauthorized") is not None or not self._authorized(request):
            return self._json(record, {"error": "Unauthorized"}, 401, headers)
        path = request.match_info["path"]
        query = request.query
        try:
            if path == "stats/member_recent_races":
                return self._link(request, record, self._recent_body(int(query["cust_id"])), headers)
            if path == "results/get":
                race = self._races.get(int(query["subsession_id"]))
                if race is None:
                    return self._json(record, {"error": "Not Found"}, 404, headers)
                return self._link(request, record, race.body, headers)
            if path == "member/get":
                ids = [int(c) for c in query["cust_ids"].split(",") if c]
                members = [
                    {"cust_id": m.cust_id, "display_name": m.display_name, "member_since": "2020-04-10", "ai": False}
                    for m in (self.members.get(c) for c in ids)
                    if m is not None
                ]
                body = {"success": True, "cust_ids": ids, "members": members}
                return self._link(request, record, json.dumps(body).encode(), headers)
            if path == "lookup/drivers":
                return self._link(request, record, self._lookup(query.get("search_term", "")), headers)
            if path == "results/search_hosted":
                return self._hosted_answer(request, record, query, headers)
        except (KeyError, ValueError):
            return self._json(record, {"error": "Bad Request"}, 400, headers)
        return self._json(record, {"error": "Not Found"}, 404, headers)

    def _recent_body(self, cust_id: int) -> bytes:
        cached = self._recent_cache.get(cust_id)
        if cached is None:
            races = [self._races[sid].summaries[cust_id] for sid in self.recent_race_ids(cust_id)]
            cached = json.dumps({"cust_id": cust_id, "races": races}).encode()
            self._recent_cache[cust_id] = cached
        return cached

    def _lookup(self, term: str) -> bytes:
        needle = term.strip().lower()
        found = [
            {
                "cust_id": m.cust_id,
                "display_name": m.display_name,
                "profile_disabled": False,
                "helmet": {
                    "pattern": 1,
                    "color1": "ffffff",
                    "color2": "000000",
                    "color3": "ff0000",
                    "face_type": 0,
                    "helmet_type": 0,
                },
            }
            for m in self.members.values()
            if needle and (needle in m.display_name.lower() or needle == str(m.cust_id))
        ][:25]
        return json.dumps(found).encode()

    def _hosted_answer(
        self, request: web.Request, record: RequestRecord, query: Mapping[str, str], headers: dict[str, str]
    ) -> web.Response:
        cust_id = int(query["cust_id"])
        begin = _to_epoch(query["finish_range_begin"].replace("Z", "+00:00"), 0.0)
        rows = [self._races[sid].hosted_row for sid in self._hosted.get(cust_id, []) if self._races[sid].end >= begin]
        size = max(1, self.hosted_chunk_size)
        names = [self._store_link(json.dumps(rows[i : i + size]).encode()) for i in range(0, len(rows), size)]
        body = {
            "type": "search_hosted",
            "data": {
                "success": True,
                "chunk_info": {
                    "chunk_size": size,
                    "num_chunks": len(names),
                    "rows": len(rows),
                    "base_download_url": f"{self._origin(request)}/_s3/",
                    "chunk_file_names": names,
                },
            },
        }
        return self._json(record, body, 200, headers)

    def _store_link(self, body: bytes) -> str:
        now = self.clock()
        while self._link_order and self._link_order[0][0] < now:
            _, old = self._link_order.popleft()
            self._links.pop(old, None)
        key = secrets.token_urlsafe(12)
        expires = now + self.link_ttl
        self._links[key] = (expires, body)
        self._link_order.append((expires, key))
        return key

    def _origin(self, request: web.Request) -> str:
        # Links point back at whatever host the client used (loopback, a Docker service name...).
        return f"{request.scheme}://{request.host}"

    def _link(self, request: web.Request, record: RequestRecord, body: bytes, headers: dict[str, str]) -> web.Response:
        key = self._store_link(body)
        signature = hashlib.sha256(key.encode()).hexdigest()
        link = (
            f"{self._origin(request)}/_s3/{key}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Expires={int(self.link_ttl)}&X-Amz-Signature={signature}"
        )
        return self._json(record, {"link": link, "expires": _iso(self.clock() + self.link_ttl)}, 200, headers)

    async def _s3(self, request: web.Request) -> web.Response:
        record = self._record(request, "s3")
        slow = self._take("slow", target="s3")
        delay = self.s3_latency_ms / 1000 + (float(slow.get("delay", 2.0)) if slow else 0.0)
        if delay:
            await asyncio.sleep(delay)
        if record.authorization:
            # What S3 does when a client forwards its API token to the signed link.
            self.stats["s3_with_authorization"] += 1
            return self._text(
                record,
                "<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>",
                400,
                {},
                "application/xml",
            )
        entry = self._links.get(request.match_info["key"])
        if self._faults["link_expired"]:
            self._faults["link_expired"].popleft()
            entry = None
        if entry is None or entry[0] < self.clock():
            return self._text(
                record,
                "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
                403,
                {},
                "application/xml",
            )
        body = entry[1]
        if self._faults["truncated"]:
            self._faults["truncated"].popleft()
            body = body[: len(body) // 2]
        record.status = 200
        return web.Response(body=body, content_type="application/json")

    # --- responses ----------------------------------------------------------------------------------

    @staticmethod
    def _json(record: RequestRecord, body: Any, status: int, headers: Mapping[str, str] | None = None) -> web.Response:
        record.status = status
        return web.Response(
            text=json.dumps(body), status=status, headers=dict(headers or {}), content_type="application/json"
        )

    @staticmethod
    def _text(
        record: RequestRecord, text: str, status: int, headers: Mapping[str, str], content_type: str = "text/plain"
    ) -> web.Response:
        record.status = status
        return web.Response(text=text, status=status, headers=dict(headers), content_type=content_type)

    # --- HTTP control routes --------------------------------------------------------------------------

    async def _c_members(self, request: web.Request) -> web.Response:
        data = await request.json()
        members = data.get("members", [data]) if isinstance(data, dict) else data
        for m in members:
            self.add_member(
                int(m["cust_id"]),
                m.get("display_name"),
                irating=m.get("irating"),
                license_level=m.get("license_level"),
                sub_level=m.get("sub_level"),
            )
        return web.json_response({"members": len(self.members)})

    async def _c_races(self, request: web.Request) -> web.Response:
        data = dict(await request.json())
        entries = data.pop("entries")
        if "car_classes" in data:
            data["car_classes"] = [tuple(c) for c in data["car_classes"]]
        subsession_id = self.add_race(entries, **data)
        return web.json_response({"subsession_id": subsession_id})

    async def _c_faults(self, request: web.Request) -> web.Response:
        data = dict(await request.json())
        kind = data.pop("kind")
        count = int(data.pop("count", 1))
        try:
            self.fault(kind, count, **data)
        except ValueError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"ok": True, "blocked_until": self._blocked_until})

    async def _c_clear_faults(self, request: web.Request) -> web.Response:
        self.clear_faults()
        return web.json_response({"ok": True})

    async def _c_expire(self, request: web.Request) -> web.Response:
        self.expire_access_tokens()
        return web.json_response({"ok": True})

    async def _c_requests(self, request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        rows = [asdict(r) for r in self.requests[since:]]
        return web.json_response({"requests": rows, "next": since + len(rows)})

    async def _c_clear_requests(self, request: web.Request) -> web.Response:
        self.requests.clear()
        return web.json_response({"ok": True})

    async def _c_stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                **self.stats,
                "members": len(self.members),
                "races": len(self._races),
                "blocked_until": self._blocked_until,
            }
        )

    async def _c_config(self, request: web.Request) -> web.Response:
        data = await request.json()
        for key in (
            "latency_ms",
            "s3_latency_ms",
            "rate_limit",
            "rate_window",
            "access_token_ttl",
            "link_ttl",
            "hosted_chunk_size",
            "legacy_enabled",
        ):
            if key in data:
                setattr(self, key, data[key])
        return web.json_response({"ok": True})


def _qualifying_row(row: Mapping[str, Any]) -> dict[str, Any]:
    # The qualifying session lists the same cars in another order; only the race counts.
    return {
        **{k: v for k, v in row.items() if k != "driver_results"},
        "finish_position": -1,
        "starting_position": -1,
        "best_lap_time": -1,
    }


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"


def recent_start(minutes_ago: float, now: float | None = None) -> datetime:
    """A session start ``minutes_ago`` before now, for ``add_race(session_start_time=...)``."""
    return datetime.fromtimestamp(now if now is not None else time.time(), UTC) - timedelta(minutes=minutes_ago)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.iracing_api", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--s3-latency-ms", type=float, default=0.0)
    parser.add_argument("--rate-limit", type=int, default=240)
    parser.add_argument("--rate-window", type=float, default=60.0)
    parser.add_argument("--access-token-ttl", type=int, default=600)
    parser.add_argument("--client-id", default=FAKE_CLIENT_ID)
    parser.add_argument("--client-secret", default=FAKE_CLIENT_SECRET)
    parser.add_argument("--email", default=FAKE_EMAIL)
    parser.add_argument("--password", default=FAKE_PASSWORD)
    args = parser.parse_args(argv)
    fake = FakeIRacing(
        client_id=args.client_id,
        client_secret=args.client_secret,
        email=args.email,
        password=args.password,
        rate_limit=args.rate_limit,
        rate_window=args.rate_window,
        latency_ms=args.latency_ms,
        s3_latency_ms=args.s3_latency_ms,
        access_token_ttl=args.access_token_ttl,
    )
    print(f"fake iRacing listening on http://{args.host}:{args.port}", flush=True)
    web.run_app(fake.app(), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
