"""`FakeIRacing`: the world, the tokens, the faults and the rate limit behind one aiohttp app."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from aiohttp import web

from .auth import FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, FAKE_EMAIL, FAKE_PASSWORD, TokenStore
from .control import add_control_routes
from .faults import COUNTED, FAULT_KINDS, Faults
from .links import LinkStore
from .ratelimit import RateWindow
from .records import Member, Race, RaceEntry, RequestRecord
from .routes import ApiRoutes
from .world import World, race_spec


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
        # Plain attributes, read on every request: tests (and /_fake/config) change them live.
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.latency_ms = latency_ms
        self.s3_latency_ms = s3_latency_ms
        self.access_token_ttl = access_token_ttl
        self.refresh_token_ttl = refresh_token_ttl
        self.link_ttl = link_ttl
        self.hosted_chunk_size = hosted_chunk_size
        self.legacy_enabled = legacy_enabled
        # Data endpoints (e.g. "results/lap_chart_data") that answer 500 until a test mends them.
        self.broken_endpoints: list[str] = []
        self.clock = clock

        self.world = World()
        self.tokens = TokenStore()
        self.links = LinkStore()
        self.faults = Faults()
        self.window = RateWindow()
        # Further accounts on the client's access list (email -> password), each with its own
        # rate window; the first account is ``email`` and counts in ``window``.
        self.accounts: dict[str, str] = {}
        self.account_windows: dict[str, RateWindow] = {}
        self.token_accounts: dict[str, str] = {}  # access or refresh token -> the account's email
        self.account_requests: Counter[str] = Counter()  # data requests by account email

        self.requests: list[RequestRecord] = []
        self.stats: Counter[str] = Counter()
        self.base_url: str | None = None
        self._runner: web.AppRunner | None = None

    # --- the world -----------------------------------------------------------------------------

    @property
    def members(self) -> dict[int, Member]:
        return self.world.members

    @property
    def _races(self) -> dict[int, Race]:
        # Engine tests read a race's start to set a driver's watermark.
        return self.world.races

    @property
    def _next_subsession(self) -> int:
        return self.world.next_subsession

    @_next_subsession.setter
    def _next_subsession(self, value: int) -> None:
        # Engine tests reserve an id for a race they add hours later.
        self.world.next_subsession = value

    def add_member(
        self,
        cust_id: int,
        display_name: str | None = None,
        *,
        irating: int | None = None,
        license_level: int | None = None,
        sub_level: int | None = None,
    ) -> None:
        self.world.add_member(cust_id, display_name, irating=irating, license_level=license_level, sub_level=sub_level)

    def _member(self, cust_id: int) -> Member:
        return self.world.member(cust_id)

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
        results_delay: float | None = None,
        live_listed: bool = True,
        league_id: int = 0,
        league_season_id: int | None = None,
    ) -> int:
        """Add a race (entries in finishing order) and return its subsession id.

        By default it started ``race_minutes`` ago and has just ended. Official races show up
        in each driver's ``member_recent_races``; hosted ones in ``search_hosted``.

        A race whose end is still ahead is live: an official one is in the spectator list (unless
        ``live_listed`` is False) and its roster is readable until its end. With ``results_delay``
        its results (``results/get``, ``member_recent_races``) appear that many seconds after
        its end, not at once.
        """
        now = self.clock()
        league = self.world.leagues[league_id] if league_id else None
        season = league.season(league_season_id) if league else None
        spec = race_spec(
            self.world.claim_subsession(subsession_id),
            entries,
            now=now,
            session_start_time=session_start_time,
            race_minutes=race_minutes,
            car_classes=car_classes,
            series_name=series_name,
            series_short_name=series_short_name,
            series_id=series_id,
            season_name=season_name,
            season_id=season_id,
            track_name=track_name,
            track_config=track_config,
            track_id=track_id,
            laps=laps,
            split_number=split_number,
            num_splits=num_splits,
            # A hosted or league race is unofficial whatever else was said.
            official=official and not hosted and not league_id,
            hosted=hosted or bool(league_id),
            session_name=session_name,
            host_cust_id=host_cust_id,
            event_type_name=event_type_name,
            results_delay=results_delay,
            live_listed=live_listed,
            league_id=league_id,
            league_season_id=season.season_id if season else 0,
            league_name=league.name if league else None,
            league_season_name=season.name if season else None,
        )
        return self.world.add_race(spec).subsession_id

    def add_league(
        self, league_id: int, name: str, seasons: Sequence[tuple[int, str]], *, private_results: bool = False
    ) -> None:
        """A league with these (season id, name) seasons, all active; its races: ``add_race(league_id=...)``."""
        self.world.add_league(league_id, name, seasons, private_results=private_results)

    def recent_race_ids(self, cust_id: int) -> list[int]:
        return self.world.recent_race_ids(cust_id, self.clock())

    # --- faults ----------------------------------------------------------------------------------

    def fault(self, kind: str, count: int | None = 1, **params: Any) -> None:
        """Inject a fault (see FAULT_KINDS). Counted faults hit the next ``count`` matching requests,
        or (``count=None``) every one until ``clear_faults(kind)`` switches them off."""
        self._known(kind)
        if kind == "rate_limit":
            self.window.block(self.clock(), float(params.get("reset_in", 2.0)), int(params.get("status", 429)))
        elif kind == "captcha":
            self.faults.captcha = True
        elif kind == "legacy_refused":
            self.faults.legacy_refused = True
        elif kind == "expire_tokens":
            self.expire_access_tokens()
        else:
            self.faults.arm(kind, count, params)

    def clear_faults(self, kind: str | None = None) -> None:
        """Switch off one counted fault kind, or every fault (and a forced rate-limit block)."""
        if kind is not None:
            self._known(kind)
            if kind not in COUNTED:
                raise ValueError(f"{kind!r} is not switched off by kind; clear every fault instead")
            self.faults.clear(kind)
            return
        self.faults.clear()
        self.window.blocked_until = None

    @staticmethod
    def _known(kind: str) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {sorted(FAULT_KINDS)}")

    def expire_access_tokens(self) -> None:
        self.tokens.expire_access(self.clock())

    @property
    def blocked_until(self) -> float | None:
        return self.window.blocked_until

    @property
    def captcha(self) -> bool:
        return self.faults.captcha

    @property
    def legacy_refused(self) -> bool:
        return self.faults.legacy_refused

    # --- tokens ----------------------------------------------------------------------------------

    def issue_tokens(self, *, access_ttl: float | None = None, account: str | None = None) -> dict[str, Any]:
        """Mint a token pair directly (a test seeding saved state); counts as no login."""
        ttl = self.access_token_ttl if access_ttl is None else access_ttl
        pair = self.tokens.issue(self.clock(), ttl, self.refresh_token_ttl)
        who = (account or self.email).strip().lower()
        self.token_accounts[pair["access_token"]] = self.token_accounts[pair["refresh_token"]] = who
        return pair

    def add_account(self, email: str, password: str) -> None:
        """One more account on the OAuth client's access list, with its own rate limit window."""
        self.accounts[email.strip().lower()] = password
        self.account_windows[email.strip().lower()] = RateWindow()

    def password_for(self, email: str) -> str | None:
        who = email.strip().lower()
        return self.password if who == self.email.lower() else self.accounts.get(who)

    def window_for(self, authorization: str) -> tuple[str, RateWindow]:
        """The account a request's bearer token belongs to, and that account's rate window."""
        who = self.token_accounts.get(authorization.removeprefix("Bearer "), self.email.lower())
        return who, self.account_windows.get(who, self.window)

    def issued_secrets(self) -> list[str]:
        """Every token and session cookie this fake handed out (for leak checks)."""
        return self.tokens.issued()

    # --- server ----------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        ApiRoutes(self).add_to(app)
        add_control_routes(app, self)
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

    def record(self, request: web.Request, kind: str) -> RequestRecord:
        """Logs a request as it arrives; its handler sets the status it answers with."""
        record = RequestRecord(
            self.clock(), kind, request.path, request.query_string, "Authorization" in request.headers
        )
        self.requests.append(record)
        self.stats[f"{kind}_requests"] += 1
        return record
