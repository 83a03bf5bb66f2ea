"""The gateway: one websocket per bot connection, sessions that survive a dropped socket, RESUME replay."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import aiohttp
from aiohttp import web

from .state import FakeDiscordState

# Gateway opcodes.
OP_DISPATCH, OP_HEARTBEAT, OP_IDENTIFY, OP_RESUME = 0, 1, 2, 6
OP_REQUEST_MEMBERS, OP_INVALID_SESSION, OP_HELLO, OP_HEARTBEAT_ACK = 8, 9, 10, 11


def _frame(op: int, d: Any = None) -> dict[str, Any]:
    return {"op": op, "d": d, "s": None, "t": None}


class Connection:
    """One websocket; dispatches are queued so that state changes can send synchronously."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    def send(self, payload: dict[str, Any]) -> None:
        self.queue.put_nowait(payload)

    async def pump(self) -> None:
        while (item := await self.queue.get()) is not None:
            if self.ws.closed:
                return
            await self.ws.send_str(json.dumps(item))


@dataclass
class Session:
    """A gateway session: it outlives its websocket, so a RESUME can replay what was missed."""

    id: str
    seq: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    connection: Connection | None = None

    REPLAY_LIMIT: ClassVar[int] = 1000

    def dispatch(self, event: str, data: Mapping[str, Any]) -> None:
        self.seq += 1
        payload = {"op": OP_DISPATCH, "t": event, "s": self.seq, "d": data}
        self.events = [*self.events[-self.REPLAY_LIMIT :], payload]
        if self.connection is not None:
            self.connection.send(payload)


class GatewayHub:
    """Serves the websocket for one bot: IDENTIFY gets READY then one GUILD_CREATE per guild;
    a new IDENTIFY ends the previous session; RESUME replays the events a dropped socket missed."""

    HEARTBEAT_MS = 41_250

    def __init__(self, state: FakeDiscordState) -> None:
        self.state = state
        self.connections: list[Connection] = []
        self.session: Session | None = None
        self.ws_url = ""

    def dispatch(self, event: str, data: Mapping[str, Any]) -> None:
        if self.session is not None:
            self.session.dispatch(event, data)

    @property
    def connected(self) -> bool:
        return self.session is not None and self.session.connection is not None

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        conn = Connection(ws)
        self.connections.append(conn)
        pump = asyncio.create_task(conn.pump())
        conn.send(_frame(OP_HELLO, {"heartbeat_interval": self.HEARTBEAT_MS}))
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                await self._on_frame(conn, json.loads(msg.data))
        finally:
            self.connections.remove(conn)
            if self.session is not None and self.session.connection is conn:
                self.session.connection = None
            conn.queue.put_nowait(None)
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
            self.state.touch()
        return ws

    async def _on_frame(self, conn: Connection, frame: Mapping[str, Any]) -> None:
        op, data = frame.get("op"), frame.get("d")
        d: dict[str, Any] = data if isinstance(data, dict) else {}
        if op == OP_HEARTBEAT:
            conn.send(_frame(OP_HEARTBEAT_ACK))
        elif op == OP_IDENTIFY:
            await self._identify(conn, d)
        elif op == OP_RESUME:
            self._resume(conn, d)
        elif op == OP_REQUEST_MEMBERS and self.session is not None:
            self._send_members(self.session, d)
        # op 3 (presence) and op 4 (voice) need no answer.

    async def _identify(self, conn: Connection, d: Mapping[str, Any]) -> None:
        if d.get("token") != self.state.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        self.state.identify_count += 1
        self.session = Session(id=secrets.token_hex(16), connection=conn)
        self.session.dispatch("READY", self.state.ready_payload(self.session.id, self.ws_url))
        for gid in self.state.guilds:
            self.session.dispatch("GUILD_CREATE", self.state.guild_create_payload(gid))
        self.state.touch()

    def _resume(self, conn: Connection, d: Mapping[str, Any]) -> None:
        """Replays what the session missed, then RESUMED; an unknown session must identify again."""
        session = self.session
        if session is None or d.get("session_id") != session.id or d.get("token") != self.state.token:
            conn.send(_frame(OP_INVALID_SESSION, False))
            return
        for event in session.events:
            if event["s"] > int(d.get("seq") or 0):
                conn.send(event)
        session.connection = conn
        session.dispatch("RESUMED", {})
        self.state.touch()

    def _send_members(self, session: Session, d: Mapping[str, Any]) -> None:
        """All of a guild's members, in one chunk."""
        gid = int(d.get("guild_id") or 0)
        if gid not in self.state.guilds:
            return
        members = [self.state.member_payload(gid, u) for u in self.state.guilds[gid].members]
        chunk = {"guild_id": str(gid), "members": members, "chunk_index": 0, "chunk_count": 1, "nonce": d.get("nonce")}
        session.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    async def close_all(self, code: int = 1001) -> None:
        for conn in list(self.connections):
            await conn.ws.close(code=code)
