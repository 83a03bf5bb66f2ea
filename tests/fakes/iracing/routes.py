"""The routes a client sees: the OAuth token endpoint, legacy `/auth`, the data API and its S3 links."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import lap_chart, payloads
from .auth import mask
from .leagues import LeagueNotFound, league_answer
from .links import signed_link
from .records import RequestRecord, to_epoch

if TYPE_CHECKING:
    from .server import FakeIRacing

SLOW_DEFAULT_S = 2.0  # how long a `slow` fault waits when the test names no delay
HOSTED_MAX_RANGE = 90 * 86_400  # search_hosted answers a range of at most 90 days
# What a proxy or CDN in front of the API answers when something behind it is wrong: HTML, status 200.
ERROR_PAGE = (
    "<!DOCTYPE html><html><head><title>iRacing.com</title></head>"
    "<body><h1>Something went wrong</h1><p>Please try again in a few minutes.</p></body></html>"
)


def json_answer(
    record: RequestRecord, body: Any, status: int, headers: Mapping[str, str] | None = None
) -> web.Response:
    record.status = status
    return web.Response(
        text=json.dumps(body), status=status, headers=dict(headers or {}), content_type="application/json"
    )


def text_answer(
    record: RequestRecord, text: str, status: int, headers: Mapping[str, str], content_type: str = "text/plain"
) -> web.Response:
    record.status = status
    return web.Response(text=text, status=status, headers=dict(headers), content_type=content_type)


def s3_error(record: RequestRecord, code: str, message: str, status: int) -> web.Response:
    xml = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    return text_answer(record, xml, status, {}, "application/xml")


def origin(request: web.Request) -> str:
    # Links point back at whatever host the client used (loopback, a Docker service name...).
    return f"{request.scheme}://{request.host}"


class ApiRoutes:
    """The client-facing handlers of one `FakeIRacing`."""

    def __init__(self, fake: FakeIRacing) -> None:
        self.fake = fake

    def add_to(self, app: web.Application) -> None:
        app.router.add_post("/oauth2/token", self.token)
        app.router.add_post("/auth", self.legacy_auth)
        app.router.add_get("/data/{path:.+}", self.data)
        app.router.add_get("/_s3/{key}", self.s3)

    # --- OAuth and legacy login ------------------------------------------------------------------

    async def token(self, request: web.Request) -> web.Response:
        fake = self.fake
        record = fake.record(request, "oauth")
        form = await request.post()
        grant = str(form.get("grant_type", ""))
        record.grant_type = grant
        fault = fake.faults.pop("token_error")
        if fault is not None:
            return json_answer(record, {"error": "server_error"}, int(fault.get("status", 500)))
        if form.get("client_id") != fake.client_id or form.get("client_secret") != mask(
            fake.client_secret, fake.client_id
        ):
            return json_answer(record, {"error": "invalid_client"}, 401)
        if grant == "password_limited":
            username = str(form.get("username", ""))
            password = fake.password_for(username)
            if password is None or form.get("password") != mask(password, username):
                return json_answer(
                    record, {"error": "invalid_grant", "error_description": "bad username or password"}, 400
                )
            if form.get("scope") != "iracing.auth":
                return json_answer(record, {"error": "invalid_scope"}, 400)
            fake.stats["logins"] += 1
            return json_answer(record, fake.issue_tokens(account=username), 200)
        if grant == "refresh_token":
            spent = str(form.get("refresh_token", ""))
            outcome = fake.tokens.spend_refresh(spent, fake.clock())
            if outcome == "reused":
                fake.stats["refresh_reuse"] += 1
            if outcome != "ok":
                return json_answer(record, {"error": "invalid_grant"}, 400)
            fake.stats["refreshes"] += 1
            return json_answer(record, fake.issue_tokens(account=fake.token_accounts.get(spent)), 200)
        return json_answer(record, {"error": "unsupported_grant_type"}, 400)

    async def legacy_auth(self, request: web.Request) -> web.Response:
        fake = self.fake
        record = fake.record(request, "legacy_auth")
        if not fake.legacy_enabled:
            return json_answer(record, {"error": "Method Not Allowed"}, 405)
        try:
            body = await request.json()
        except ValueError:
            return json_answer(record, {"error": "Bad Request"}, 400)
        failure = {"authcode": 0, "inactive": False, "verificationRequired": False}
        if fake.faults.captcha:
            return json_answer(
                record, {**failure, "verificationRequired": True, "message": "Verification required."}, 200
            )
        if fake.faults.legacy_refused:
            return json_answer(record, {**failure, "message": "Legacy authorization refused."}, 200)
        email = str(body.get("email", ""))
        if email.strip().lower() != fake.email.lower() or body.get("password") != mask(fake.password, email):
            return json_answer(
                record, {**failure, "message": "Invalid email address or password. Please try again."}, 200
            )
        token, sso = fake.tokens.new_legacy_session()
        fake.stats["legacy_logins"] += 1
        response = json_answer(record, {"authcode": secrets.token_hex(16), "custId": 1, "autoLoginToken": None}, 200)
        response.set_cookie("authtoken_members", token, httponly=True)
        response.set_cookie("irsso_membersv2", sso, httponly=True)
        return response

    def authorized(self, request: web.Request) -> bool:
        authorization = request.headers.get("Authorization", "")
        return self.fake.tokens.authorizes(authorization, request.cookies.get("authtoken_members"), self.fake.clock())

    # --- data API, step one: an answer or a link to it -------------------------------------------------

    async def data(self, request: web.Request) -> web.StreamResponse:
        fake = self.fake
        record = fake.record(request, "data")
        slow = fake.faults.take("slow")
        delay = fake.latency_ms / 1000 + (float(slow.get("delay", SLOW_DEFAULT_S)) if slow else 0.0)
        if delay:
            await asyncio.sleep(delay)
        now = fake.clock()
        account, window = fake.window_for(request.headers.get("Authorization", ""))
        fake.account_requests[account] += 1
        headers = window.count_request(now, fake.rate_limit, fake.rate_window)
        if window.blocked(now):
            fake.stats["rate_limited"] += 1
            return text_answer(record, "Rate limit exceeded", window.blocked_status, headers)
        if window.over(fake.rate_limit):
            fake.stats["rate_limited"] += 1
            return text_answer(record, "Rate limit exceeded", 429, headers)
        if fake.faults.pop("disconnect") is not None:
            record.status = -1
            assert request.transport is not None
            request.transport.close()  # the client sees the connection drop mid-request
            return web.Response(status=500)
        if fake.faults.take("maintenance") is not None:
            record.fault = "maintenance"
            note = "The site is currently undergoing maintenance. Please try your request later."
            return json_answer(record, {"error": "Site Maintenance", "note": note}, 503, headers)
        fault = fake.faults.take("server_error")
        if fault is not None:
            return json_answer(record, {"error": "Internal Server Error"}, int(fault.get("status", 500)), headers)
        if fake.faults.take("unauthorized") is not None or not self.authorized(request):
            return json_answer(record, {"error": "Unauthorized"}, 401, headers)
        try:
            return self.endpoint(request, record, request.match_info["path"], request.query, headers)
        except (KeyError, ValueError):
            return json_answer(record, {"error": "Bad Request"}, 400, headers)

    def endpoint(
        self,
        request: web.Request,
        record: RequestRecord,
        path: str,
        query: Mapping[str, str],
        headers: dict[str, str],
    ) -> web.Response:
        """One data endpoint's answer; a missing or malformed parameter raises KeyError or ValueError."""
        world = self.fake.world
        now = self.fake.clock()
        if path in self.fake.broken_endpoints:
            return json_answer(record, {"error": "Internal Server Error"}, 500, headers)
        if path == "results/lap_chart_data":
            race = world.races.get(int(query["subsession_id"]))
            if race is None or not race.published(now) or query.get("simsession_number", "0") != "0":
                return json_answer(record, {"error": "Not Found"}, 404, headers)
            return self.lap_chart(request, record, race.subsession_id, race.body, headers)
        if path == "stats/member_recent_races":
            return self.link(request, record, world.recent_body(int(query["cust_id"]), now), headers)
        if path == "results/get":
            race = world.races.get(int(query["subsession_id"]))
            if race is None or not race.published(now):
                return json_answer(record, {"error": "Not Found"}, 404, headers)
            return self.results(request, record, race.subsession_id, race.body, headers)
        if path == "season/spectator_subsessionids_detail":
            return self.link(request, record, json.dumps(world.live_body(now)).encode(), headers)
        if path == "session/reg_drivers_list":
            sid = int(query["subsession_id"])
            body = payloads.reg_drivers_body(sid, world.roster(sid, now))
            return self.link(request, record, json.dumps(body).encode(), headers)
        if path == "series/season_schedule":
            body = world.season_schedule(int(query["season_id"]))
            return self.link(request, record, json.dumps(body).encode(), headers)
        if path == "member/get":
            ids = [int(c) for c in query["cust_ids"].split(",") if c]
            body = payloads.member_get_body(ids, world.members)
            return self.link(request, record, json.dumps(body).encode(), headers)
        if path == "lookup/drivers":
            rows = payloads.lookup_rows(query.get("search_term", ""), world.members.values())
            return self.link(request, record, json.dumps(rows).encode(), headers)
        if path == "results/search_hosted":
            return self.search_hosted(request, record, query, headers)
        if path == "results/search_series":
            return self.search_series(request, record, query, headers)
        if path.startswith("league/"):
            try:
                body = league_answer(world, path, query, now)
            except LeagueNotFound:
                return json_answer(record, {"error": "Not Found"}, 404, headers)
            if body is not None:
                return self.link(request, record, json.dumps(body).encode(), headers)
        return json_answer(record, {"error": "Not Found"}, 404, headers)

    def search_hosted(
        self, request: web.Request, record: RequestRecord, query: Mapping[str, str], headers: dict[str, str]
    ) -> web.Response:
        fake = self.fake
        begin = to_epoch(query["finish_range_begin"].replace("Z", "+00:00"), 0.0)
        if begin < fake.clock() - HOSTED_MAX_RANGE:
            raise ValueError("search_hosted: a range of at most 90 days")  # answered 400, as iRacing does
        rows = fake.world.hosted_rows(int(query["cust_id"]), begin, fake.clock())
        size = max(1, fake.hosted_chunk_size)
        names = [self.park(json.dumps(rows[i : i + size]).encode()) for i in range(0, len(rows), size)]
        body = payloads.search_hosted_body(size, len(rows), f"{origin(request)}/_s3/", names)
        return json_answer(record, body, 200, headers)

    def search_series(
        self, request: web.Request, record: RequestRecord, query: Mapping[str, str], headers: dict[str, str]
    ) -> web.Response:
        """Official races finished in the range, chunked as `search_hosted` answers (only races are
        asked for here; ``event_types`` other than 5 are not modelled)."""
        fake = self.fake
        begin = to_epoch(query["finish_range_begin"].replace("Z", "+00:00"), 0.0)
        end = (
            to_epoch(query["finish_range_end"].replace("Z", "+00:00"), 0.0)
            if "finish_range_end" in query
            else fake.clock()
        )
        rows = fake.world.series_rows(begin, end, fake.clock())
        size = max(1, fake.hosted_chunk_size)
        names = [self.park(json.dumps(rows[i : i + size]).encode()) for i in range(0, len(rows), size)]
        body = payloads.search_hosted_body(size, len(rows), f"{origin(request)}/_s3/", names)
        body["type"] = "search_series"
        return json_answer(record, body, 200, headers)

    def lap_chart(
        self, request: web.Request, record: RequestRecord, subsession_id: int, results: bytes, headers: dict[str, str]
    ) -> web.Response:
        """A link to a body whose `chunk_info` names the chunk files, as iRacing answers it."""
        rows = lap_chart.lap_chart_rows(json.loads(results))
        names = [self.park(json.dumps(part).encode()) for part in lap_chart.chunks(rows)]
        info = payloads.search_hosted_body(lap_chart.CHUNK_ROWS, len(rows), f"{origin(request)}/_s3/", names)
        body = {"success": True, "session_info": {"subsession_id": subsession_id, "simsession_number": 0}}
        body["chunk_info"] = info["data"]["chunk_info"]
        return self.link(request, record, json.dumps(body).encode(), headers)

    def results(
        self, request: web.Request, record: RequestRecord, subsession_id: int, body: bytes, headers: dict[str, str]
    ) -> web.Response:
        """A race's results, or the bad answer a test armed for it in their place."""
        faults = self.fake.faults
        if faults.take("results_html", subsession_id=subsession_id) is not None:
            record.fault = "results_html"
            return text_answer(record, ERROR_PAGE, 200, headers, "text/html")
        if faults.take("results_truncated", subsession_id=subsession_id) is not None:
            record.fault = "results_truncated"
            body = body[: len(body) // 2]
        elif faults.take("results_incomplete", subsession_id=subsession_id) is not None:
            record.fault = "results_incomplete"
            document = json.loads(body)
            document.pop("session_results", None)
            body = json.dumps(document).encode()
        return self.link(request, record, body, headers)

    def park(self, body: bytes) -> str:
        return self.fake.links.park(body, self.fake.clock(), self.fake.link_ttl)

    def link(self, request: web.Request, record: RequestRecord, body: bytes, headers: dict[str, str]) -> web.Response:
        fake = self.fake
        link = signed_link(origin(request), self.park(body), fake.link_ttl)
        return json_answer(record, payloads.link_body(link, fake.clock() + fake.link_ttl), 200, headers)

    # --- data API, step two: the S3 link ---------------------------------------------------------------

    async def s3(self, request: web.Request) -> web.Response:
        fake = self.fake
        record = fake.record(request, "s3")
        slow = fake.faults.take("slow", target="s3")
        delay = fake.s3_latency_ms / 1000 + (float(slow.get("delay", SLOW_DEFAULT_S)) if slow else 0.0)
        if delay:
            await asyncio.sleep(delay)
        if record.authorization:
            # What S3 does when a client forwards its API token to the signed link.
            fake.stats["s3_with_authorization"] += 1
            return s3_error(record, "InvalidArgument", "Only one auth mechanism allowed", 400)
        entry = fake.links.get(request.match_info["key"])
        if fake.faults.pop("link_expired") is not None:
            entry = None
        if entry is None or entry[0] < fake.clock():
            return s3_error(record, "AccessDenied", "Request has expired", 403)
        body = entry[1]
        if fake.faults.pop("truncated") is not None:
            body = body[: len(body) // 2]
        record.status = 200
        return web.Response(body=body, content_type="application/json")
