"""Control routes: how a test in another process (the Docker test, a shell script) programs the fake.

Each route is declared once, in `CONTROL_ROUTES`, as `<method> /_fake/<name>` and the `FakeIRacing`
method it stands for; in-process tests call those methods directly. The bodies are plain JSON
(no remote client: `aiohttp` or `urllib` calls are all the users need).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .server import FakeIRacing

Handler = Callable[["FakeIRacing", web.Request], Awaitable[web.Response]]

# What `POST /_fake/config` may change while the fake runs.
CONFIG_KEYS = (
    "latency_ms",
    "s3_latency_ms",
    "rate_limit",
    "rate_window",
    "access_token_ttl",
    "link_ttl",
    "hosted_chunk_size",
    "legacy_enabled",
    "broken_endpoints",
)


@dataclass(frozen=True)
class ControlRoute:
    method: str
    name: str  # served at /_fake/<name>
    handler: Handler
    doc: str


async def add_members(fake: FakeIRacing, request: web.Request) -> web.Response:
    data = await request.json()
    members = data.get("members", [data]) if isinstance(data, dict) else data
    for m in members:
        fake.add_member(
            int(m["cust_id"]),
            m.get("display_name"),
            irating=m.get("irating"),
            license_level=m.get("license_level"),
            sub_level=m.get("sub_level"),
        )
    return web.json_response({"members": len(fake.members)})


async def add_race(fake: FakeIRacing, request: web.Request) -> web.Response:
    data = dict(await request.json())
    entries = data.pop("entries")
    if "car_classes" in data:
        data["car_classes"] = [tuple(c) for c in data["car_classes"]]  # JSON has no tuples
    return web.json_response({"subsession_id": fake.add_race(entries, **data)})


async def add_fault(fake: FakeIRacing, request: web.Request) -> web.Response:
    data = dict(await request.json())
    kind = data.pop("kind")
    count = data.pop("count", 1)
    count = None if count is None else int(count)  # null: until switched off
    try:
        fake.fault(kind, count, **data)
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response({"ok": True, "blocked_until": fake.blocked_until})


async def clear_faults(fake: FakeIRacing, request: web.Request) -> web.Response:
    try:
        fake.clear_faults(request.query.get("kind"))
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response({"ok": True})


async def expire_tokens(fake: FakeIRacing, request: web.Request) -> web.Response:
    fake.expire_access_tokens()
    return web.json_response({"ok": True})


async def requests(fake: FakeIRacing, request: web.Request) -> web.Response:
    since = int(request.query.get("since", "0"))
    rows = [asdict(r) for r in fake.requests[since:]]
    return web.json_response({"requests": rows, "next": since + len(rows)})


async def clear_requests(fake: FakeIRacing, request: web.Request) -> web.Response:
    fake.requests.clear()
    return web.json_response({"ok": True})


async def stats(fake: FakeIRacing, request: web.Request) -> web.Response:
    body: dict[str, Any] = {
        **fake.stats,
        "members": len(fake.members),
        "races": len(fake.world.races),
        "blocked_until": fake.blocked_until,
    }
    return web.json_response(body)


async def config(fake: FakeIRacing, request: web.Request) -> web.Response:
    data = await request.json()
    for key in CONFIG_KEYS:
        if key in data:
            setattr(fake, key, data[key])
    return web.json_response({"ok": True})


CONTROL_ROUTES: tuple[ControlRoute, ...] = (
    ControlRoute("POST", "members", add_members, "add_member for one member or {'members': [...]}"),
    ControlRoute("POST", "races", add_race, "add_race: {'entries': [...], **keyword arguments}"),
    ControlRoute("POST", "faults", add_fault, "fault: {'kind': ..., 'count': n (null: until cleared), **params}"),
    ControlRoute("DELETE", "faults", clear_faults, "clear_faults: every fault, or ?kind=... for one kind"),
    ControlRoute("POST", "expire_tokens", expire_tokens, "expire_access_tokens"),
    ControlRoute("GET", "requests", requests, "the request log from ?since=n, and the next n"),
    ControlRoute("DELETE", "requests", clear_requests, "empty the request log"),
    ControlRoute("GET", "stats", stats, "counters, world size and the forced rate-limit block"),
    ControlRoute("POST", "config", config, f"change any of {', '.join(CONFIG_KEYS)}"),
)


def _bind(fake: FakeIRacing, handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        return await handler(fake, request)

    return handle


def add_control_routes(app: web.Application, fake: FakeIRacing) -> None:
    for route in CONTROL_ROUTES:
        path, handler = f"/_fake/{route.name}", _bind(fake, route.handler)
        if route.method == "GET":
            app.router.add_get(path, handler)  # answers HEAD too, as a probe may send it
        else:
            app.router.add_route(route.method, path, handler)
