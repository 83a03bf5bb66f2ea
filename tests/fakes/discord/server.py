"""`FakeDiscord`: the fake served from the test's own event loop (REST, gateway and control routes on one
aiohttp app), and the control operations tests drive it with.

Setup and reads are plain methods; `start`/`stop` and the `wait_*` ones are coroutines. The methods
marked `@operation` are also served over HTTP and mirrored by `FakeDiscordRemote` (see `control`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from aiohttp import web

from .control import ControlRoutes, Operation, collect_operations, operation
from .gateway import GatewayHub
from .records import CommandSync, InteractionReply, Message, RequestRecord, StalledRequest
from .rest import RestApi
from .state import FakeDiscordState

DEFAULT_TOKEN = "fake-bot-token"
DEFAULT_BOT_ID = 900_000_000_000_000_001
DEFAULT_OWNER_ID = 900_000_000_000_000_002
MAX_REQUEST_BYTES = 32 * 1024 * 1024  # room for a card image upload


def _split_path(args: tuple[Any, ...]) -> tuple[list[str], dict[str, Any]]:
    """`("track", {"driver": 1})` -> subcommand path and options."""
    if args and isinstance(args[-1], Mapping):
        return [str(a) for a in args[:-1]], dict(args[-1])
    return [str(a) for a in args], {}


class FakeDiscord:
    """The fake Discord, run inside the test's event loop."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = DEFAULT_TOKEN,
        bot_id: int = DEFAULT_BOT_ID,
        application_id: int = DEFAULT_BOT_ID,
        owner_id: int = DEFAULT_OWNER_ID,
    ) -> None:
        self.state = FakeDiscordState(token=token, bot_id=bot_id, application_id=application_id, owner_id=owner_id)
        self.hub = GatewayHub(self.state)
        self.state.gateway = self.hub
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- lifecycle
    def build_app(self) -> web.Application:
        rest = RestApi(self.state)
        app = web.Application(middlewares=[rest.middleware], client_max_size=MAX_REQUEST_BYTES)
        app.router.add_get("/gateway", self.hub.handle)
        app.router.add_get("/", self.hub.handle)
        ControlRoutes(self, OPERATIONS).add_to(app)
        rest.routes(app)
        return app

    async def start(self) -> FakeDiscord:
        self._runner = web.AppRunner(self.build_app(), handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://{self._host}:{port}"
        self.hub.ws_url = f"ws://{self._host}:{port}/gateway"
        return self

    async def stop(self) -> None:
        self.state.release_stalled()  # held handlers would otherwise delay the shutdown
        await self.hub.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_base(self) -> str:
        """What `discord.http.Route.BASE` must be set to."""
        return f"{self.url}/api/v10"

    @property
    def token(self) -> str:
        return self.state.token

    @property
    def bot_id(self) -> int:
        return self.state.bot_id

    @property
    def owner_id(self) -> int:
        return self.state.owner_id

    @property
    def application_id(self) -> int:
        return self.state.application_id

    @operation
    def info(self) -> dict[str, Any]:
        """Where the fake is and who the bot is; `version` counts state changes."""
        return {
            "api_base": self.api_base,
            "bot_id": self.bot_id,
            "owner_id": self.owner_id,
            "application_id": self.application_id,
            "version": self.state.version,
        }

    # -- world building
    @operation
    def add_guild(self, guild_id: int | None = None, name: str = "Test Guild", *, owner_id: int | None = None) -> int:
        return self.state.add_guild(guild_id, name, owner_id=owner_id)

    @operation
    def add_channel(self, guild_id: int, name: str = "general", *, channel_id: int | None = None) -> int:
        return self.state.add_channel(guild_id, name, channel_id=channel_id)

    @operation
    def add_role(
        self, guild_id: int, name: str, permissions: Iterable[str] | int = (), *, mentionable: bool = False
    ) -> int:
        return self.state.add_role(guild_id, name, permissions, mentionable=mentionable)

    @operation
    def add_member(
        self, guild_id: int, user_id: int | None = None, name: str = "member", roles: Iterable[int] = ()
    ) -> int:
        return self.state.add_member(guild_id, user_id, name, roles)

    @operation
    def set_bot_permissions(
        self, channel_id: int, *, allow: Iterable[str] | int = (), deny: Iterable[str] | int = ()
    ) -> None:
        """A member overwrite for the bot in one channel, e.g. `deny=["send_messages"]`."""
        self.state.set_bot_permissions(channel_id, allow=allow, deny=deny)

    @operation
    def set_overwrite(
        self,
        channel_id: int,
        target_id: int,
        *,
        target_type: int,
        allow: Iterable[str] | int = (),
        deny: Iterable[str] | int = (),
    ) -> None:
        """Replace the overwrite for one role (type 0) or member (type 1) in a channel."""
        self.state.set_overwrite(channel_id, target_id, target_type=target_type, allow=allow, deny=deny)

    # -- misbehaving
    @operation
    def inject_fault(
        self,
        method: str,
        path: str,
        status: int,
        *,
        count: int = 1,
        retry_after: float = 1.0,
        code: int = 0,
        message: str = "",
        deliver: bool = False,
    ) -> None:
        """The next `count` requests matching method and path (fnmatch, after /api/v10) get `status`;
        with `deliver`, each takes effect first (e.g. the message is created) and then gets `status`."""
        self.state.inject_fault(
            method, path, status, count=count, retry_after=retry_after, code=code, message=message, deliver=deliver
        )

    @operation
    def clear_faults(self) -> None:
        self.state.clear_faults()

    @operation
    def stall(self, method: str, path: str, *, count: int = 1, deliver: bool = False) -> None:
        """Hold back the answers to the next `count` matching requests (see `FakeDiscordState.stall`)."""
        self.state.stall(method, path, count=count, deliver=deliver)

    @operation
    def release_stalled(self) -> None:
        self.state.release_stalled()

    @operation
    def stalled_requests(self) -> list[StalledRequest]:
        return list(self.state.stalled)

    # -- acting as people (dispatched over the gateway)
    @operation
    def send_message(self, channel_id: int, content: str, *, author_id: int | None = None) -> int:
        """A user (the owner by default) writes `content`; returns the message id."""
        return self.state.user_message(channel_id, author_id or self.state.owner_id, content)

    @operation
    def send_slash(
        self, guild_id: int, user_id: int, command: str, *path_and_options: Any, channel_id: int | None = None
    ) -> int:
        """`send_slash(g, u, "iracing", "track", {"driver": "123"})`; returns the interaction id.

        Positional strings after the command name are subcommand (group) names; a final dict holds
        the options, typed by the command the bot registered.
        """
        path, options = _split_path(path_and_options)
        return self.state.new_interaction(guild_id, user_id, command, path, options, channel_id=channel_id)

    @operation
    def send_autocomplete(
        self,
        guild_id: int,
        user_id: int,
        command: str,
        *path_and_options: Any,
        focused: str,
        channel_id: int | None = None,
    ) -> int:
        """An autocomplete interaction (type 4) with `focused` the option being typed."""
        path, options = _split_path(path_and_options)
        return self.state.new_interaction(
            guild_id, user_id, command, path, options, channel_id=channel_id, focused=focused
        )

    # -- reading back
    @operation
    def messages(self, channel_id: int) -> list[Message]:
        return self.state.messages(channel_id)

    @operation
    def message(self, message_id: int) -> Message:
        return self.state.message(message_id)

    @operation
    def interaction(self, interaction_id: int) -> dict[str, Any]:
        return self.state.interaction_record(interaction_id)

    @operation
    def commands(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        return list(self.state.commands.get(guild_id, []))

    @operation
    def command_syncs(self) -> list[CommandSync]:
        return list(self.state.command_syncs)

    @operation
    def requests(self) -> list[RequestRecord]:
        return list(self.state.requests)

    @operation
    def gateway_status(self) -> dict[str, Any]:
        return {
            "connected": self.hub.connected,
            "identify_count": self.state.identify_count,
            "connections": len(self.hub.connections),
        }

    # -- waiting
    @operation
    async def wait_change(self, since: int, timeout: float = 10.0) -> int:  # noqa: ASYNC109 (a long-poll)
        """The state's version once it is past `since`, or at timeout (the same version)."""
        return await self.state.wait_change(since, timeout)

    async def wait_until(self, check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:  # noqa: ASYNC109
        """Waits until `check()` returns something truthy (re-checked on every state change)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            since = self.state.version
            result = check()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"fake Discord: timed out after {timeout:.0f}s waiting for {what}")
            await self.state.wait_change(since, remaining)

    async def wait_for_message(
        self,
        channel_id: int,
        predicate: Callable[[Message], bool] = lambda m: True,
        timeout: float = 30.0,  # noqa: ASYNC109
        *,
        after: int = 0,
    ) -> Message:
        """The first message in the channel (newer than `after`) that satisfies `predicate`."""

        def check() -> Message | None:
            return next((m for m in self.messages(channel_id) if m.id > after and predicate(m)), None)

        return await self.wait_until(check, timeout, f"a message in channel {channel_id}")

    @operation
    async def wait_for_interaction_reply(self, interaction_id: int, timeout: float = 30.0) -> InteractionReply:  # noqa: ASYNC109
        return await self.wait_until(
            lambda: self.state.interaction_reply(interaction_id), timeout, f"a reply to interaction {interaction_id}"
        )

    @operation
    async def wait_for_identify(self, count: int, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """Until the bot has sent its `count`-th IDENTIFY (and is connected)."""
        await self.wait_until(
            lambda: self.state.identify_count >= count and self.hub.connected, timeout, f"IDENTIFY number {count}"
        )

    @operation
    async def wait_for_command_sync(self, count: int, timeout: float = 30.0) -> CommandSync:  # noqa: ASYNC109
        """Until `count` command syncs (PUTs) happened; returns the last one."""
        return await self.wait_until(
            lambda: len(self.state.command_syncs) >= count and self.state.command_syncs[-1],
            timeout,
            f"command sync number {count}",
        )

    @operation
    async def disconnect_gateway(self, code: int = 1001) -> None:
        """Drops every websocket (the bot should reconnect and resume)."""
        await self.hub.close_all(code)


# Read once, when the class exists: a return type with no JSON form fails at import, not in a test.
OPERATIONS: dict[str, Operation] = collect_operations(FakeDiscord)
