"""Discord's REST API under /api/v{N}: aiohttp handlers over the state, and the middleware that
checks the token, logs every request and applies the faults and stalls a test armed."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from .faults import FaultRule
from .protocol import JSON_TYPE, FakeError
from .state import FakeDiscordState
from .world import Guild, Interaction

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON answer whose Content-Type is exactly what discord.py accepts (no charset)."""
    resp = web.Response(body=json.dumps(data).encode(), status=status, headers=dict(headers or {}))
    resp.headers["Content-Type"] = JSON_TYPE
    return resp


async def read_body(request: web.Request) -> tuple[Any, list[str]]:
    """JSON, or multipart with `payload_json` and files (only file names are kept)."""
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        payload: Any = {}
        names: list[str] = []
        while (part := await reader.next()) is not None:
            if part.name == "payload_json":
                payload = json.loads(await part.text())  # type: ignore[union-attr]
            else:
                names.append(part.filename or part.name or "file")  # type: ignore[union-attr]
                await part.read()  # type: ignore[union-attr]
        return payload, names
    if not request.can_read_body:
        return {}, []
    return json.loads(await request.read() or b"{}"), []


def _snowflake(request: web.Request, key: str) -> int:
    try:
        return int(request.match_info[key])
    except ValueError:
        raise FakeError(404, 0, f"404: Not Found ({key})") from None


def _no_content() -> web.Response:
    return web.Response(status=204)


class RestApi:
    """aiohttp handlers over the state; paths are Discord's, under /api/v{N}."""

    # Interaction callbacks and webhooks carry their token in the path, not in Authorization.
    PUBLIC_PREFIXES = ("/interactions/", "/webhooks/")

    def __init__(self, state: FakeDiscordState) -> None:
        self.s = state

    def routes(self, app: web.Application) -> None:
        r = app.router
        p = r"/api/v{version:\d+}"
        for method, path, handler in (
            ("GET", "/users/@me", self.me),
            ("GET", "/users/{user_id}", self.user),
            ("POST", "/users/@me/channels", self.open_dm),
            ("GET", "/oauth2/applications/@me", self.application),
            ("GET", "/applications/@me", self.application),
            ("GET", "/gateway/bot", self.gateway_bot),
            ("GET", "/gateway", self.gateway_plain),
            ("GET", "/channels/{channel_id}", self.channel),
            ("GET", "/channels/{channel_id}/messages", self.history),
            ("POST", "/channels/{channel_id}/messages", self.send),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete_message),
            ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self.react),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self.no_content),
            ("POST", "/channels/{channel_id}/typing", self.no_content),
            ("GET", "/guilds/{guild_id}", self.guild),
            ("GET", "/guilds/{guild_id}/channels", self.guild_channels),
            ("GET", "/guilds/{guild_id}/roles", self.guild_roles),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self.guild_member),
            ("GET", "/applications/{app_id}/commands", self.list_commands),
            ("PUT", "/applications/{app_id}/commands", self.put_commands),
            ("POST", "/applications/{app_id}/commands", self.post_command),
            ("DELETE", "/applications/{app_id}/commands/{command_id}", self.delete_command),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands", self.list_commands),
            ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", self.put_commands),
            ("POST", "/applications/{app_id}/guilds/{guild_id}/commands", self.post_command),
            ("DELETE", "/applications/{app_id}/guilds/{guild_id}/commands/{command_id}", self.delete_command),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self.callback),
            ("POST", "/webhooks/{app_id}/{token}", self.followup),
            ("GET", "/webhooks/{app_id}/{token}/messages/{message_id}", self.webhook_message),
            ("PATCH", "/webhooks/{app_id}/{token}/messages/{message_id}", self.edit_webhook_message),
            ("DELETE", "/webhooks/{app_id}/{token}/messages/{message_id}", self.no_content),
        ):
            r.add_route(method, p + path, handler)
        r.add_route("*", p + "/{tail:.*}", self.unknown)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        path = "/" + request.path.split("/", 3)[3] if request.path.count("/") >= 3 else request.path
        method = request.method
        fault = self.s.take_fault(method, path)
        if fault is not None and not fault.deliver:
            return self._fault_answer(method, path, fault)
        public = path.startswith(self.PUBLIC_PREFIXES)
        if not public and request.headers.get("Authorization") != f"Bot {self.s.token}":
            self.s.log_request(method, path, 401, fault=False)
            return json_response({"message": "401: Unauthorized", "code": 0}, 401)
        if fault is not None:  # done, then answered with the error
            await self._handle(handler, request)
            return self._fault_answer(method, path, fault)
        stall = self.s.take_stall(method, path)
        if stall is None:
            return await self._answer(handler, request, method, path)
        # (`is None`, not truthiness: an aiohttp response is a mapping, and an empty one is falsy.)
        held = await self._answer(handler, request, method, path) if stall.deliver else None
        self.s.note_stalled(method, path, 0 if held is None else held.status, delivered=held is not None)
        await self.s.wait_released()
        if request.transport is None or request.transport.is_closing():
            # The client is gone (it was killed meanwhile): nothing happens and nobody hears.
            return web.Response(status=499)
        return held if held is not None else await self._answer(handler, request, method, path)

    def _fault_answer(self, method: str, path: str, fault: FaultRule) -> web.Response:
        self.s.log_request(method, path, fault.status, fault=True)
        headers = {"Via": "1.1 google"}  # discord.py treats a 429 without Via as a Cloudflare ban
        if fault.status == 429:
            headers |= {"Retry-After": str(max(1, round(fault.retry_after))), "X-RateLimit-Scope": "user"}
        return json_response(fault.body(), fault.status, headers)

    async def _handle(self, handler: Handler, request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except FakeError as exc:
            return json_response({"message": exc.message, "code": exc.code}, exc.status)

    async def _answer(self, handler: Handler, request: web.Request, method: str, path: str) -> web.StreamResponse:
        resp = await self._handle(handler, request)
        self.s.log_request(method, path, resp.status, fault=False)
        return resp

    # -- identity and gateway
    async def me(self, request: web.Request) -> web.Response:
        return json_response({**self.s.users[self.s.bot_id], "verified": True, "mfa_enabled": False})

    async def user(self, request: web.Request) -> web.Response:
        uid = _snowflake(request, "user_id")
        if uid not in self.s.users:
            raise FakeError(404, 10013, "Unknown User")
        return json_response(self.s.users[uid])

    async def open_dm(self, request: web.Request) -> web.Response:
        body, _ = await read_body(request)
        return json_response(self.s.open_dm(int(body["recipient_id"])))

    async def application(self, request: web.Request) -> web.Response:
        return json_response(self.s.application_payload())

    def _ws_url(self) -> str:
        return self.s.gateway.ws_url if self.s.gateway else ""

    async def gateway_bot(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return json_response({"url": self._ws_url(), "shards": 1, "session_start_limit": limit})

    async def gateway_plain(self, request: web.Request) -> web.Response:
        return json_response({"url": self._ws_url()})

    # -- channels and messages
    def _channel(self, request: web.Request) -> int:
        cid = _snowflake(request, "channel_id")
        if cid not in self.s.channels:
            raise FakeError(404, 10003, "Unknown Channel")
        return cid

    async def channel(self, request: web.Request) -> web.Response:
        return json_response(self.s.channels[self._channel(request)])

    async def history(self, request: web.Request) -> web.Response:
        q = request.query
        msgs = self.s.history(
            self._channel(request),
            limit=int(q.get("limit", 50)),
            before=int(q["before"]) if "before" in q else None,
            after=int(q["after"]) if "after" in q else None,
        )
        return json_response(msgs)

    async def send(self, request: web.Request) -> web.Response:
        cid = self._channel(request)
        body, files = await read_body(request)
        return json_response(self.s.bot_message(cid, body, files))

    async def get_message(self, request: web.Request) -> web.Response:
        return json_response(self.s.channel_message(self._channel(request), _snowflake(request, "message_id")))

    async def edit_message(self, request: web.Request) -> web.Response:
        body, _ = await read_body(request)
        return json_response(self.s.edit_message(self._channel(request), _snowflake(request, "message_id"), body))

    async def delete_message(self, request: web.Request) -> web.Response:
        self.s.delete_message(self._channel(request), _snowflake(request, "message_id"))
        return _no_content()

    async def react(self, request: web.Request) -> web.Response:
        emoji = unquote(request.match_info["emoji"])
        self.s.react(self._channel(request), _snowflake(request, "message_id"), emoji)
        return _no_content()

    async def no_content(self, request: web.Request) -> web.Response:
        return _no_content()

    # -- guilds
    def _guild(self, request: web.Request) -> Guild:
        gid = _snowflake(request, "guild_id")
        if gid not in self.s.guilds:
            raise FakeError(404, 10004, "Unknown Guild")
        return self.s.guilds[gid]

    async def guild(self, request: web.Request) -> web.Response:
        return json_response(self.s.guild_payload(self._guild(request).id))

    async def guild_channels(self, request: web.Request) -> web.Response:
        return json_response([self.s.channels[c] for c in self._guild(request).channel_ids])

    async def guild_roles(self, request: web.Request) -> web.Response:
        return json_response(list(self._guild(request).roles.values()))

    async def guild_member(self, request: web.Request) -> web.Response:
        g, uid = self._guild(request), _snowflake(request, "user_id")
        if uid not in g.members:
            raise FakeError(404, 10007, "Unknown Member")
        return json_response(self.s.member_payload(g.id, uid))

    # -- application commands
    def _scope(self, request: web.Request) -> int | None:
        """The guild of a guild command route, None for global commands; only the bot's own application."""
        if _snowflake(request, "app_id") != self.s.application_id:
            raise FakeError(403, 50001, "Missing Access")
        return _snowflake(request, "guild_id") if "guild_id" in request.match_info else None

    async def list_commands(self, request: web.Request) -> web.Response:
        return json_response(self.s.commands.get(self._scope(request), []))

    async def put_commands(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        body, _ = await read_body(request)
        return json_response(self.s.put_commands(scope, body))

    async def post_command(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        body, _ = await read_body(request)
        return json_response(self.s.upsert_command(scope, body), 201)

    async def delete_command(self, request: web.Request) -> web.Response:
        self.s.delete_command(self._scope(request), _snowflake(request, "command_id"))
        return _no_content()

    # -- interactions and their webhooks
    async def callback(self, request: web.Request) -> web.Response:
        body, files = await read_body(request)
        out = self.s.interaction_callback(
            _snowflake(request, "interaction_id"), request.match_info["token"], body, files
        )
        if request.query.get("with_response") in ("1", "true", "True"):
            return json_response(out)
        return _no_content()

    async def followup(self, request: web.Request) -> web.Response:
        body, files = await read_body(request)
        return json_response(self.s.followup(request.match_info["token"], body, files))

    def _webhook_target(self, request: web.Request) -> tuple[Interaction, dict[str, Any]]:
        it = self.s.interaction_by_token(request.match_info["token"])
        key = request.match_info["message_id"]
        if key == "@original" and it.original is not None:
            return it, it.original
        for m in it.followups:
            if m["id"] == key:
                return it, m
        raise FakeError(404, 10008, "Unknown Message")

    async def webhook_message(self, request: web.Request) -> web.Response:
        return json_response(self._webhook_target(request)[1])

    async def edit_webhook_message(self, request: web.Request) -> web.Response:
        body, _ = await read_body(request)
        it, msg = self._webhook_target(request)
        if msg is it.original:
            return json_response(self.s.edit_original(request.match_info["token"], body))
        return json_response(self.s.edit_message(int(msg["channel_id"]), int(msg["id"]), body))

    async def unknown(self, request: web.Request) -> web.Response:
        return json_response({"message": "404: Not Found", "code": 0}, 404)
