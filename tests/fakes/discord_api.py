"""A fake Discord API on 127.0.0.1: REST, gateway and a control surface for tests.

Enough of Discord for the real `redbot` (discord.py 2.7) to log in, see guilds, channels,
roles and members, register slash commands, receive messages and interactions, and
answer them. Everything the bot sends is recorded and readable back.

One `FakeDiscordState` holds the world. Two thin surfaces drive it:
- in-process: `FakeDiscord` (start/stop, add_guild, send_slash, wait_for_message, ...);
- out of process: `python -m tests.fakes.discord_api --port N` serves the same operations
  as `POST /_fake/<operation>` (JSON keyword arguments in, `{"result": ...}` out), and
  `FakeDiscordRemote` calls them with the same method names (all async).

Discord quirks discord.py depends on, and that the fake therefore reproduces:
- REST answers carry `Content-Type: application/json` exactly (no charset);
- a 429 carries a `Via` header (without it discord.py takes it for a Cloudflare ban) and
  `retry_after` in the body;
- `GET /gateway/bot` gives the websocket URL; READY carries `shard` and `application`;
- the interaction callback answers `with_response` with the `interaction`/`resource` body.

`stall(...)` holds answers back to stage a crash mid-request: the bot dies after Discord took
its message but before it heard the message id, or before the message left it at all.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fnmatch
import json
import secrets
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import aiohttp
from aiohttp import web

JSON_TYPE = "application/json"
DISCORD_EPOCH_MS = 1_420_070_400_000
EPHEMERAL = 1 << 6

# Permission bits, from Discord's documentation (only the ones a bot meets here).
PERMISSIONS: dict[str, int] = {
    "create_instant_invite": 1 << 0,
    "kick_members": 1 << 1,
    "ban_members": 1 << 2,
    "administrator": 1 << 3,
    "manage_channels": 1 << 4,
    "manage_guild": 1 << 5,
    "add_reactions": 1 << 6,
    "view_audit_log": 1 << 7,
    "view_channel": 1 << 10,
    "send_messages": 1 << 11,
    "send_tts_messages": 1 << 12,
    "manage_messages": 1 << 13,
    "embed_links": 1 << 14,
    "attach_files": 1 << 15,
    "read_message_history": 1 << 16,
    "mention_everyone": 1 << 17,
    "use_external_emojis": 1 << 18,
    "change_nickname": 1 << 26,
    "manage_roles": 1 << 28,
    "manage_webhooks": 1 << 29,
    "use_application_commands": 1 << 31,
    "send_messages_in_threads": 1 << 38,
}
ALL_PERMISSIONS = (1 << 50) - 1
MEMBER_DEFAULT = sum(
    PERMISSIONS[n]
    for n in (
        "view_channel", "send_messages", "embed_links", "attach_files", "read_message_history",
        "add_reactions", "use_external_emojis", "use_application_commands", "change_nickname",
        "send_messages_in_threads", "create_instant_invite",
    )
)
BOT_ROLE_DEFAULT = MEMBER_DEFAULT | PERMISSIONS["manage_messages"] | PERMISSIONS["manage_webhooks"]

# Application command option types.
OPT_SUB_COMMAND, OPT_SUB_GROUP = 1, 2
OPT_STRING, OPT_INTEGER, OPT_BOOLEAN, OPT_USER, OPT_CHANNEL, OPT_ROLE = 3, 4, 5, 6, 7, 8
OPT_MENTIONABLE, OPT_NUMBER = 9, 10

# Interaction callback types.
CB_MESSAGE, CB_DEFERRED, CB_DEFERRED_UPDATE, CB_UPDATE, CB_AUTOCOMPLETE, CB_MODAL = 4, 5, 6, 7, 8, 9


def permission_bits(names: Iterable[str] | int) -> int:
    """`["send_messages", "embed_links"]` -> the bit mask; an int passes through."""
    if isinstance(names, int):
        return names
    bits = 0
    for name in names:
        try:
            bits |= PERMISSIONS[name]
        except KeyError:
            raise ValueError(f"unknown permission name: {name}") from None
    return bits


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


class FakeError(Exception):
    """A REST error the fake answers with: status, Discord error code and message."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# ---------------------------------------------------------------------------------------------
# Records handed back to tests (frozen, JSON-able so the HTTP control surface returns the same).


@dataclass(frozen=True)
class Message:
    """A message as stored by the fake (the Discord payload, with handy fields)."""

    id: int
    channel_id: int
    author_id: int
    content: str
    embeds: tuple[dict[str, Any], ...]
    flags: int
    reactions: tuple[str, ...]
    reference_id: int | None
    interaction_id: int | None
    payload: dict[str, Any] = field(compare=False, repr=False)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    def text(self) -> str:
        """Content plus every embed's visible text, for loose assertions."""
        parts = [self.content]
        for e in self.embeds:
            parts += [e.get("title", ""), e.get("description", "")]
            parts += [f"{f.get('name', '')} {f.get('value', '')}" for f in e.get("fields", [])]
            parts += [e.get("footer", {}).get("text", ""), e.get("author", {}).get("name", "")]
        return "\n".join(p for p in parts if p)

    @classmethod
    def from_payload(cls, p: Mapping[str, Any], reactions: Iterable[str] = ()) -> Message:
        ref = p.get("message_reference") or {}
        meta = p.get("interaction_metadata") or {}
        return cls(
            id=int(p["id"]),
            channel_id=int(p["channel_id"]),
            author_id=int(p["author"]["id"]),
            content=p.get("content") or "",
            embeds=tuple(p.get("embeds") or ()),
            flags=int(p.get("flags") or 0),
            reactions=tuple(reactions),
            reference_id=int(ref["message_id"]) if ref.get("message_id") else None,
            interaction_id=int(meta["id"]) if meta.get("id") else None,
            payload=dict(p),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"payload": self.payload, "reactions": list(self.reactions)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Message:
        return cls.from_payload(d["payload"], d.get("reactions", ()))


@dataclass(frozen=True)
class InteractionReply:
    """What the user saw in answer to an interaction (first visible answer)."""

    interaction_id: int
    callback_type: int  # 4 message, 5 deferred then follow-up, 8 autocomplete, 9 modal
    content: str
    embeds: tuple[dict[str, Any], ...]
    flags: int
    choices: tuple[dict[str, Any], ...]
    message_id: int | None

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> InteractionReply:
        return cls(
            interaction_id=int(d["interaction_id"]),
            callback_type=int(d["callback_type"]),
            content=d["content"],
            embeds=tuple(d["embeds"]),
            flags=int(d["flags"]),
            choices=tuple(d["choices"]),
            message_id=d["message_id"],
        )


@dataclass(frozen=True)
class RequestRecord:
    """One REST request the bot made (never headers or bodies: they may hold the token)."""

    method: str
    path: str  # after /api/v10
    status: int
    at: float  # time.time()
    fault: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RequestRecord:
        return cls(**d)


@dataclass(frozen=True)
class CommandSync:
    """One `PUT .../commands` (a sync), with the names it registered."""

    guild_id: int | None
    names: tuple[str, ...]
    at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CommandSync:
        return cls(guild_id=d["guild_id"], names=tuple(d["names"]), at=d["at"])


@dataclass
class _Fault:
    method: str
    path: str  # fnmatch pattern over the path after /api/v10
    status: int
    remaining: int
    retry_after: float
    code: int
    message: str


@dataclass
class _Stall:
    method: str
    path: str  # fnmatch pattern over the path after /api/v10
    remaining: int
    deliver: bool


@dataclass(frozen=True)
class StalledRequest:
    """A request whose answer the fake held back (see `FakeDiscord.stall`)."""

    method: str
    path: str
    delivered: bool  # it took effect (e.g. the message exists) before the answer was held
    status: int  # the held answer's status; 0 when not delivered
    at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StalledRequest:
        return cls(**d)


@dataclass
class _Interaction:
    id: int
    token: str
    type: int
    guild_id: int
    channel_id: int
    user_id: int
    data: dict[str, Any]
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    original: dict[str, Any] | None = None  # the response message
    original_edited: bool = False
    followups: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, dict[str, Any]] = field(default_factory=dict)
    members: dict[int, list[int]] = field(default_factory=dict)  # user id -> role ids
    channel_ids: list[int] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Pure helpers.


def compute_permissions(
    *,
    user_id: int,
    owner_id: int,
    guild_id: int,
    roles: Mapping[int, Mapping[str, Any]],
    member_roles: Iterable[int],
    overwrites: Iterable[Mapping[str, Any]],
) -> int:
    """Discord's documented permission algorithm: base from roles, then channel overwrites."""
    if user_id == owner_id:
        return ALL_PERMISSIONS
    member_roles = set(member_roles)
    base = int(roles[guild_id]["permissions"])
    for rid in member_roles:
        if rid in roles:
            base |= int(roles[rid]["permissions"])
    if base & PERMISSIONS["administrator"]:
        return ALL_PERMISSIONS
    by_target = {int(o["id"]): o for o in overwrites}
    perms = base
    everyone = by_target.get(guild_id)
    if everyone:
        perms = (perms & ~int(everyone["deny"])) | int(everyone["allow"])
    allow = deny = 0
    for rid in member_roles:
        o = by_target.get(rid)
        if o and o["type"] == 0:
            allow |= int(o["allow"])
            deny |= int(o["deny"])
    perms = (perms & ~deny) | allow
    mine = by_target.get(user_id)
    if mine and mine["type"] == 1:
        perms = (perms & ~int(mine["deny"])) | int(mine["allow"])
    if not perms & PERMISSIONS["view_channel"]:
        return 0
    return perms


def validate_message_body(body: Mapping[str, Any], *, has_files: bool = False) -> str | None:
    """Discord's limits on a message; None when fine, else the reason (Discord answers 400)."""
    content = body.get("content") or ""
    embeds = body.get("embeds") or []
    if not content and not embeds and not has_files and not body.get("components"):
        return "Cannot send an empty message"
    if len(content) > 2000:
        return "content: Must be 2000 or fewer in length."
    if len(embeds) > 10:
        return "embeds: Must be 10 or fewer in length."
    total = 0
    for i, e in enumerate(embeds):
        limits = (("title", 256), ("description", 4096))
        for key, limit in limits:
            n = len(e.get(key) or "")
            total += n
            if n > limit:
                return f"embeds.{i}.{key}: Must be {limit} or fewer in length."
        fields = e.get("fields") or []
        if len(fields) > 25:
            return f"embeds.{i}.fields: Must be 25 or fewer in length."
        for j, f in enumerate(fields):
            if not f.get("name") or not f.get("value"):
                return f"embeds.{i}.fields.{j}: name and value are required."
            if len(f["name"]) > 256 or len(f["value"]) > 1024:
                return f"embeds.{i}.fields.{j}: too long."
            total += len(f["name"]) + len(f["value"])
        footer = (e.get("footer") or {}).get("text") or ""
        author = (e.get("author") or {}).get("name") or ""
        if len(footer) > 2048 or len(author) > 256:
            return f"embeds.{i}: footer or author too long."
        total += len(footer) + len(author)
    if total > 6000:
        return "embeds: the embeds together exceed 6000 characters."
    return None


def build_command_options(
    schema: list[Mapping[str, Any]], path: list[str], values: Mapping[str, Any], focused: str | None
) -> list[dict[str, Any]]:
    """Interaction options for `path` (subcommand names) and `values`, typed by the registered schema."""
    if path:
        name = path[0]
        for opt in schema:
            if opt["name"] == name and opt["type"] in (OPT_SUB_COMMAND, OPT_SUB_GROUP):
                inner = build_command_options(opt.get("options") or [], path[1:], values, focused)
                return [{"type": opt["type"], "name": name, "options": inner}]
        raise ValueError(f"no subcommand {name!r} in the registered command")
    known = {o["name"]: o for o in schema}
    out: list[dict[str, Any]] = []
    for name, value in values.items():
        if name not in known:
            raise ValueError(f"no option {name!r}; registered: {sorted(known)}")
        kind = known[name]["type"]
        if focused == name:  # autocomplete sends the partial text as typed
            out.append({"type": kind, "name": name, "value": str(value), "focused": True})
            continue
        if kind == OPT_INTEGER:
            value = int(value)
        elif kind == OPT_NUMBER:
            value = float(value)
        elif kind == OPT_BOOLEAN:
            value = bool(value)
        elif kind in (OPT_USER, OPT_CHANNEL, OPT_ROLE, OPT_MENTIONABLE):
            value = str(value)
        else:
            value = str(value)
        out.append({"type": kind, "name": name, "value": value})
    missing = [o["name"] for o in schema if o.get("required") and o["name"] not in values]
    if missing and focused is None:
        raise ValueError(f"required options missing: {missing}")
    return out


def _leaf_options(options: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    for o in options:
        if o["type"] in (OPT_SUB_COMMAND, OPT_SUB_GROUP):
            return _leaf_options(o.get("options") or [])
    return options


def _fault_body(status: int, retry_after: float, code: int, message: str) -> dict[str, Any]:
    if status == 429:
        return {"message": message or "You are being rate limited.", "retry_after": retry_after, "global": False}
    return {"message": message or f"{status}: fault injected by the test", "code": code}


# ---------------------------------------------------------------------------------------------
# The state: one object, driven by REST handlers, the gateway and the control surfaces.


class FakeDiscordState:
    """Everything the fake knows. Mutations are synchronous; `wait_change` waits for the next one."""

    def __init__(
        self, *, token: str, bot_id: int, application_id: int, owner_id: int, bot_name: str = "ir2dis-test"
    ) -> None:
        self.token = token
        self.bot_id = bot_id
        self.application_id = application_id
        self.owner_id = owner_id
        self.users: dict[int, dict[str, Any]] = {}
        self.guilds: dict[int, _Guild] = {}
        self.channels: dict[int, dict[str, Any]] = {}
        self.channel_messages: dict[int, list[int]] = {}
        self.messages_by_id: dict[int, dict[str, Any]] = {}
        self.reactions: dict[int, list[str]] = {}
        self.commands: dict[int | None, list[dict[str, Any]]] = {}
        self.command_syncs: list[CommandSync] = []
        self.interactions: dict[int, _Interaction] = {}
        self.faults: list[_Fault] = []
        self.stalls: list[_Stall] = []
        self.stalled: list[StalledRequest] = []
        self._released = asyncio.Event()
        self.requests: list[RequestRecord] = []
        self.identify_count = 0
        self.version = 0
        self._changed = asyncio.Event()
        self._last_id = 0
        self._command_ids: dict[tuple[int | None, str, int], int] = {}
        self.gateway: GatewayHub | None = None
        self.add_user(bot_id, bot_name, bot=True)
        self.add_user(owner_id, "owner")

    # -- ids, change notification, dispatch --------------------------------------------------
    def next_id(self) -> int:
        """A snowflake from the clock, strictly increasing (discord.py reads times from ids)."""
        candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last_id = max(candidate, self._last_id + 1)
        return self._last_id

    def touch(self) -> None:
        """Something changed: wake every waiter (a fresh event per change, so no lost wake-ups)."""
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_change(self, since: int, timeout: float) -> int:  # noqa: ASYNC109 (a long-poll)
        """Returns the version once it is past `since`, or at timeout (the same version)."""
        if self.version <= since:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)
        return self.version

    def dispatch(self, event: str, data: Mapping[str, Any]) -> None:
        if self.gateway is not None:
            self.gateway.dispatch(event, data)

    # -- world building --------------------------------------------------------------------
    def add_user(self, user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
        user = {
            "id": str(user_id), "username": name, "discriminator": "0", "global_name": name,
            "avatar": None, "bot": bot, "system": False, "public_flags": 0, "flags": 0,
        }
        self.users[user_id] = user
        return user

    def add_guild(self, guild_id: int | None = None, name: str = "Test Guild", *, owner_id: int | None = None) -> int:
        gid = guild_id or self.next_id()
        owner = owner_id or self.owner_id
        g = _Guild(id=gid, name=name, owner_id=owner)
        g.roles[gid] = self._role(gid, "@everyone", MEMBER_DEFAULT, 0)
        bot_role = self.next_id()
        g.roles[bot_role] = {**self._role(bot_role, "ir2dis", BOT_ROLE_DEFAULT, 1), "managed": True}
        g.members[self.bot_id] = [bot_role]
        g.members[owner] = []
        if owner not in self.users:
            self.add_user(owner, f"user{owner}")
        self.guilds[gid] = g
        self.dispatch("GUILD_CREATE", self.guild_create_payload(gid))
        self.touch()
        return gid

    @staticmethod
    def _role(role_id: int, name: str, perms: int, position: int) -> dict[str, Any]:
        return {
            "id": str(role_id), "name": name, "color": 0, "hoist": False, "icon": None,
            "unicode_emoji": None, "position": position, "permissions": str(perms), "managed": False,
            "mentionable": False, "flags": 0,
        }

    def add_role(self, guild_id: int, name: str, permissions: Iterable[str] | int = ()) -> int:
        g = self.guilds[guild_id]
        rid = self.next_id()
        g.roles[rid] = self._role(rid, name, permission_bits(permissions), len(g.roles))
        self.dispatch("GUILD_ROLE_CREATE", {"guild_id": str(guild_id), "role": g.roles[rid]})
        self.touch()
        return rid

    def add_member(
        self, guild_id: int, user_id: int | None = None, name: str = "member", roles: Iterable[int] = ()
    ) -> int:
        uid = user_id or self.next_id()
        if uid not in self.users:
            self.add_user(uid, name)
        self.guilds[guild_id].members[uid] = list(roles)
        self.dispatch("GUILD_MEMBER_ADD", {**self.member_payload(guild_id, uid), "guild_id": str(guild_id)})
        self.touch()
        return uid

    def add_channel(self, guild_id: int, name: str = "general", *, channel_id: int | None = None) -> int:
        cid = channel_id or self.next_id()
        g = self.guilds[guild_id]
        self.channels[cid] = {
            "id": str(cid), "type": 0, "guild_id": str(guild_id), "name": name, "position": len(g.channel_ids),
            "permission_overwrites": [], "nsfw": False, "parent_id": None, "topic": None,
            "last_message_id": None, "rate_limit_per_user": 0, "flags": 0,
        }
        self.channel_messages[cid] = []
        g.channel_ids.append(cid)
        self.dispatch("CHANNEL_CREATE", self.channels[cid])
        self.touch()
        return cid

    def set_overwrite(
        self, channel_id: int, target_id: int, *, target_type: int, allow: Iterable[str] | int = (),
        deny: Iterable[str] | int = (),
    ) -> None:
        """Replace the overwrite for one role (type 0) or member (type 1) in a channel."""
        ch = self.channels[channel_id]
        rest = [o for o in ch["permission_overwrites"] if int(o["id"]) != target_id]
        ow = {"id": str(target_id), "type": target_type, "allow": str(permission_bits(allow)),
              "deny": str(permission_bits(deny))}
        ch["permission_overwrites"] = [*rest, ow]
        self.dispatch("CHANNEL_UPDATE", ch)
        self.touch()

    def set_bot_permissions(
        self, channel_id: int, *, allow: Iterable[str] | int = (), deny: Iterable[str] | int = ()
    ) -> None:
        """A member overwrite for the bot: e.g. deny=["send_messages"] in one channel."""
        self.set_overwrite(channel_id, self.bot_id, target_type=1, allow=allow, deny=deny)

    def permissions_in(self, channel_id: int, user_id: int) -> int:
        ch = self.channels[channel_id]
        if ch.get("guild_id") is None:
            return ALL_PERMISSIONS & ~PERMISSIONS["administrator"]
        g = self.guilds[int(ch["guild_id"])]
        if user_id not in g.members:
            return 0
        return compute_permissions(
            user_id=user_id, owner_id=g.owner_id, guild_id=g.id, roles=g.roles,
            member_roles=g.members[user_id], overwrites=ch["permission_overwrites"],
        )

    # -- payloads ----------------------------------------------------------------------------
    def member_payload(self, guild_id: int, user_id: int) -> dict[str, Any]:
        return {
            "user": self.users[user_id], "nick": None, "avatar": None,
            "roles": [str(r) for r in self.guilds[guild_id].members[user_id]],
            "joined_at": _iso(time.time() - 86_400), "premium_since": None, "deaf": False, "mute": False,
            "flags": 0, "pending": False, "communication_disabled_until": None,
        }

    def guild_payload(self, guild_id: int) -> dict[str, Any]:
        g = self.guilds[guild_id]
        return {
            "id": str(g.id), "name": g.name, "icon": None, "splash": None, "discovery_splash": None,
            "owner_id": str(g.owner_id), "afk_channel_id": None, "afk_timeout": 300, "verification_level": 0,
            "default_message_notifications": 0, "explicit_content_filter": 0, "roles": list(g.roles.values()),
            "emojis": [], "features": [], "mfa_level": 0, "application_id": None, "system_channel_id": None,
            "system_channel_flags": 0, "rules_channel_id": None, "max_members": 500_000,
            "vanity_url_code": None, "description": None, "banner": None, "premium_tier": 0,
            "premium_subscription_count": 0, "preferred_locale": "en-US", "public_updates_channel_id": None,
            "nsfw_level": 0, "stickers": [], "premium_progress_bar_enabled": False,
            "safety_alerts_channel_id": None,
        }

    def guild_create_payload(self, guild_id: int) -> dict[str, Any]:
        g = self.guilds[guild_id]
        # member_count equal to the members sent: discord.py then asks for no chunking.
        return {
            **self.guild_payload(guild_id), "joined_at": _iso(time.time() - 86_400), "large": False,
            "unavailable": False, "member_count": len(g.members),
            "members": [self.member_payload(guild_id, uid) for uid in g.members],
            "channels": [self.channels[c] for c in g.channel_ids], "threads": [], "presences": [],
            "voice_states": [], "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": [],
        }

    def ready_payload(self, session_id: str, resume_url: str) -> dict[str, Any]:
        return {
            "v": 10, "user": {**self.users[self.bot_id], "verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(gid), "unavailable": True} for gid in self.guilds],
            "session_id": session_id, "resume_gateway_url": resume_url, "shard": [0, 1],
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [], "relationships": [], "user_settings": {}, "presences": [],
            "geo_ordered_rtc_regions": [], "guild_join_requests": [], "session_type": "normal",
        }

    def application_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.application_id), "name": self.users[self.bot_id]["username"], "icon": None,
            "description": "", "summary": "", "rpc_origins": [], "bot_public": True,
            "bot_require_code_grant": False, "owner": self.users[self.owner_id], "team": None,
            "verify_key": "0" * 64, "flags": 0, "tags": [], "bot": self.users[self.bot_id],
            "redirect_uris": [], "interactions_endpoint_url": None,
        }

    # -- messages -----------------------------------------------------------------------------
    def _store_message(self, msg: dict[str, Any]) -> dict[str, Any]:
        mid, cid = int(msg["id"]), int(msg["channel_id"])
        self.messages_by_id[mid] = msg
        if not int(msg.get("flags") or 0) & EPHEMERAL:
            self.channel_messages.setdefault(cid, []).append(mid)
            if cid in self.channels:
                self.channels[cid]["last_message_id"] = str(mid)
            self.dispatch("MESSAGE_CREATE", self._with_guild(msg))
        self.touch()
        return msg

    def _with_guild(self, msg: dict[str, Any]) -> dict[str, Any]:
        ch = self.channels.get(int(msg["channel_id"]))
        if not ch or ch.get("guild_id") is None:
            return msg
        gid = int(ch["guild_id"])
        uid = int(msg["author"]["id"])
        out = {**msg, "guild_id": str(gid)}
        if uid in self.guilds[gid].members:
            member = self.member_payload(gid, uid)
            member.pop("user")
            out["member"] = member
        return out

    def _new_message(
        self, channel_id: int, author_id: int, body: Mapping[str, Any], *, attachments: Iterable[str] = ()
    ) -> dict[str, Any]:
        mid = self.next_id()
        ref = body.get("message_reference")
        embeds = [{"type": "rich", **e} for e in body.get("embeds") or []]
        return {
            "id": str(mid), "channel_id": str(channel_id), "author": self.users[author_id],
            "content": body.get("content") or "", "timestamp": _iso(time.time()), "edited_timestamp": None,
            "tts": bool(body.get("tts")), "mention_everyone": False, "mentions": [], "mention_roles": [],
            "attachments": [
                {"id": str(self.next_id()), "filename": name, "size": 0, "url": "", "proxy_url": ""}
                for name in attachments
            ],
            "embeds": embeds, "pinned": False, "type": 19 if ref else 0, "flags": int(body.get("flags") or 0),
            "components": body.get("components") or [],
            **({"message_reference": {**ref, "channel_id": str(channel_id)}} if ref else {}),
        }

    def user_message(self, channel_id: int, author_id: int, content: str) -> int:
        """A person writes in a channel: stored and dispatched as MESSAGE_CREATE."""
        if channel_id not in self.channels:
            raise ValueError(f"unknown channel {channel_id}")
        msg = self._new_message(channel_id, author_id, {"content": content})
        self._store_message(msg)
        return int(msg["id"])

    def bot_message(
        self, channel_id: int, body: Mapping[str, Any], attachments: Iterable[str] = ()
    ) -> dict[str, Any]:
        ch = self.channels.get(channel_id)
        if ch is None:
            raise FakeError(404, 10003, "Unknown Channel")
        perms = self.permissions_in(channel_id, self.bot_id)
        if not perms & PERMISSIONS["view_channel"]:
            raise FakeError(403, 50001, "Missing Access")
        if not perms & PERMISSIONS["send_messages"]:
            raise FakeError(403, 50013, "Missing Permissions")
        attachments = list(attachments)
        problem = validate_message_body(body, has_files=bool(attachments))
        if problem:
            raise FakeError(400, 50006 if "empty" in problem else 50035, problem)
        return self._store_message(self._new_message(channel_id, self.bot_id, body, attachments=attachments))

    def edit_message(self, channel_id: int, message_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        msg = self.messages_by_id.get(message_id)
        if msg is None or int(msg["channel_id"]) != channel_id:
            raise FakeError(404, 10008, "Unknown Message")
        for key in ("content", "flags", "components"):
            if key in body:
                msg[key] = body[key] if body[key] is not None else ("" if key == "content" else 0)
        if "embeds" in body:
            msg["embeds"] = [{"type": "rich", **e} for e in body["embeds"] or []]
        msg["edited_timestamp"] = _iso(time.time())
        self.dispatch("MESSAGE_UPDATE", self._with_guild(msg))
        self.touch()
        return msg

    def delete_message(self, channel_id: int, message_id: int) -> None:
        ids = self.channel_messages.get(channel_id, [])
        if message_id not in ids:
            raise FakeError(404, 10008, "Unknown Message")
        ids.remove(message_id)
        self.dispatch("MESSAGE_DELETE", {"id": str(message_id), "channel_id": str(channel_id)})
        self.touch()

    def history(
        self, channel_id: int, *, limit: int = 50, before: int | None = None, after: int | None = None
    ) -> list[dict[str, Any]]:
        """Newest first, as Discord lists them; `after` lists the oldest after it first, newest first."""
        if channel_id not in self.channels:
            raise FakeError(404, 10003, "Unknown Channel")
        perms = self.permissions_in(channel_id, self.bot_id)
        if not perms & PERMISSIONS["view_channel"]:
            raise FakeError(403, 50001, "Missing Access")
        if not perms & PERMISSIONS["read_message_history"]:
            return []  # Discord answers an empty list without the permission
        ids = self.channel_messages.get(channel_id, [])
        limit = max(1, min(limit, 100))
        if after is not None:
            chosen = [m for m in ids if m > after][:limit]
        else:
            chosen = [m for m in ids if before is None or m < before][-limit:]
        return [self._with_reactions(self.messages_by_id[m]) for m in reversed(chosen)]

    def _with_reactions(self, msg: dict[str, Any]) -> dict[str, Any]:
        emojis = self.reactions.get(int(msg["id"]))
        if not emojis:
            return msg
        counts = {e: emojis.count(e) for e in emojis}
        return {**msg, "reactions": [
            {"emoji": {"id": None, "name": e}, "count": n, "me": True} for e, n in counts.items()
        ]}

    def react(self, channel_id: int, message_id: int, emoji: str) -> None:
        msg = self.messages_by_id.get(message_id)
        if msg is None or int(msg["channel_id"]) != channel_id:
            raise FakeError(404, 10008, "Unknown Message")
        self.reactions.setdefault(message_id, []).append(emoji)
        self.touch()

    def messages(self, channel_id: int) -> list[Message]:
        """Every non-ephemeral message in a channel, oldest first (bypasses permissions)."""
        return [
            Message.from_payload(self.messages_by_id[m], self.reactions.get(m, ()))
            for m in self.channel_messages.get(channel_id, [])
        ]

    def message(self, message_id: int) -> Message:
        return Message.from_payload(self.messages_by_id[message_id], self.reactions.get(message_id, ()))

    # -- application commands ---------------------------------------------------------------
    def put_commands(self, guild_id: int | None, body: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        if guild_id is not None and guild_id not in self.guilds:
            raise FakeError(404, 10004, "Unknown Guild")
        registered = [self._register(guild_id, c) for c in body]
        self.commands[guild_id] = registered
        self.command_syncs.append(CommandSync(guild_id, tuple(c["name"] for c in registered), time.time()))
        self.touch()
        return registered

    def upsert_command(self, guild_id: int | None, body: Mapping[str, Any]) -> dict[str, Any]:
        cmd = self._register(guild_id, body)
        rest = [c for c in self.commands.get(guild_id, []) if c["id"] != cmd["id"]]
        self.commands[guild_id] = [*rest, cmd]
        self.touch()
        return cmd

    def delete_command(self, guild_id: int | None, command_id: int) -> None:
        before = self.commands.get(guild_id, [])
        after = [c for c in before if int(c["id"]) != command_id]
        if len(after) == len(before):
            raise FakeError(404, 10063, "Unknown application command")
        self.commands[guild_id] = after
        self.touch()

    def _register(self, guild_id: int | None, body: Mapping[str, Any]) -> dict[str, Any]:
        ctype = int(body.get("type") or 1)
        key = (guild_id, body["name"], ctype)
        cid = self._command_ids.setdefault(key, self.next_id())
        cmd = {
            "options": [], "default_member_permissions": None, "dm_permission": True, "nsfw": False,
            "description": "", "name_localizations": None, "description_localizations": None,
            "contexts": None, "integration_types": [0],
            **body, "id": str(cid), "application_id": str(self.application_id), "type": ctype,
            "version": str(self.next_id()),
        }
        if guild_id is not None:
            cmd["guild_id"] = str(guild_id)
        return cmd

    def find_command(self, guild_id: int, name: str) -> dict[str, Any]:
        for scope in (guild_id, None):
            for c in self.commands.get(scope, []):
                if c["name"] == name and c["type"] == 1:
                    return c
        registered = sorted({c["name"] for cs in self.commands.values() for c in cs})
        raise ValueError(f"slash command {name!r} is not registered (registered: {registered})")

    # -- interactions ---------------------------------------------------------------------------
    def new_interaction(
        self, guild_id: int, user_id: int, command: str, path: list[str], options: Mapping[str, Any], *,
        channel_id: int | None = None, focused: str | None = None,
    ) -> int:
        """Builds an application command (type 2) or autocomplete (type 4) interaction and dispatches it."""
        g = self.guilds[guild_id]
        cid = channel_id or g.channel_ids[0]
        cmd = self.find_command(guild_id, command)
        opts = build_command_options(cmd.get("options") or [], path, options, focused)
        data: dict[str, Any] = {"id": cmd["id"], "name": command, "type": 1, "options": opts,
                                "guild_id": str(guild_id)}
        resolved = self._resolved(guild_id, _leaf_options(opts))
        if resolved:
            data["resolved"] = resolved
        iid = self.next_id()
        kind = 4 if focused else 2
        token = "itok-" + secrets.token_hex(16)
        self.interactions[iid] = _Interaction(
            id=iid, token=token, type=kind, guild_id=guild_id, channel_id=cid, user_id=user_id, data=data
        )
        member = self.member_payload(guild_id, user_id)
        member["permissions"] = str(self.permissions_in(cid, user_id))
        payload = {
            "id": str(iid), "application_id": str(self.application_id), "type": kind, "data": data,
            "guild_id": str(guild_id), "channel_id": str(cid), "channel": self.channels[cid],
            "member": member, "token": token, "version": 1,
            "app_permissions": str(self.permissions_in(cid, self.bot_id)), "locale": "en-US",
            "guild_locale": "en-US", "entitlements": [], "authorizing_integration_owners": {"0": str(guild_id)},
            "context": 0, "attachment_size_limit": 8 * 1024 * 1024,
        }
        self.dispatch("INTERACTION_CREATE", payload)
        self.touch()
        return iid

    def _resolved(self, guild_id: int, options: list[Mapping[str, Any]]) -> dict[str, Any]:
        out: dict[str, dict[str, Any]] = {}
        for o in options:
            if o.get("focused"):
                continue
            oid = int(o["value"]) if o["type"] in (OPT_USER, OPT_CHANNEL, OPT_ROLE, OPT_MENTIONABLE) else None
            if oid is None:
                continue
            if oid in self.channels:
                ch = self.channels[oid]
                out.setdefault("channels", {})[str(oid)] = {
                    "id": ch["id"], "name": ch["name"], "type": ch["type"], "parent_id": ch.get("parent_id"),
                    "permissions": str(self.permissions_in(oid, self.bot_id)), "guild_id": ch.get("guild_id"),
                }
            elif oid in self.users:
                out.setdefault("users", {})[str(oid)] = self.users[oid]
                if oid in self.guilds[guild_id].members:
                    m = self.member_payload(guild_id, oid)
                    m.pop("user")
                    out.setdefault("members", {})[str(oid)] = m
            elif oid in self.guilds[guild_id].roles:
                out.setdefault("roles", {})[str(oid)] = self.guilds[guild_id].roles[oid]
        return out

    def _interaction_by_token(self, token: str) -> _Interaction:
        for it in self.interactions.values():
            if it.token == token:
                return it
        raise FakeError(404, 10015, "Unknown Webhook")

    def interaction_callback(self, interaction_id: int, token: str, body: Mapping[str, Any],
                             attachments: Iterable[str] = ()) -> dict[str, Any]:
        it = self.interactions.get(interaction_id)
        if it is None or it.token != token:
            raise FakeError(404, 10062, "Unknown interaction")
        if it.callbacks:
            raise FakeError(400, 40060, "Interaction has already been acknowledged.")
        ctype = int(body["type"])
        data = dict(body.get("data") or {})
        it.callbacks.append({"type": ctype, "data": data})
        resource: dict[str, Any] = {"type": ctype}
        if ctype in (CB_MESSAGE, CB_DEFERRED):
            msg = self._new_message(it.channel_id, self.bot_id, data, attachments=attachments)
            msg["interaction_metadata"] = {"id": str(it.id), "type": it.type, "user": self.users[it.user_id]}
            if ctype == CB_DEFERRED:
                msg["flags"] = int(data.get("flags") or 0) | (1 << 7)  # LOADING
            else:
                problem = validate_message_body(data, has_files=bool(list(attachments)))
                if problem:
                    it.callbacks.pop()
                    raise FakeError(400, 50035, problem)
            it.original = msg
            if ctype == CB_MESSAGE:
                self._store_message(msg)
                resource["message"] = msg
        self.touch()
        original = it.original
        return {
            "interaction": {
                "id": str(it.id), "type": it.type,
                "response_message_id": original["id"] if original else None,
                "response_message_loading": ctype == CB_DEFERRED,
                "response_message_ephemeral": bool(original and int(original["flags"]) & EPHEMERAL),
            },
            "resource": resource,
        }

    def followup(self, token: str, body: Mapping[str, Any], attachments: Iterable[str] = ()) -> dict[str, Any]:
        it = self._interaction_by_token(token)
        if not it.callbacks:
            raise FakeError(404, 10015, "Unknown Webhook")  # no follow-up before the first answer
        attachments = list(attachments)
        problem = validate_message_body(body, has_files=bool(attachments))
        if problem:
            raise FakeError(400, 50035, problem)
        if it.callbacks[0]["type"] == CB_DEFERRED and not it.original_edited:
            return self.edit_original(token, body)  # the first follow-up replaces the "thinking" message
        msg = self._new_message(it.channel_id, self.bot_id, body, attachments=attachments)
        msg["webhook_id"] = str(self.application_id)
        it.followups.append(msg)
        self._store_message(msg)
        return msg

    def edit_original(self, token: str, body: Mapping[str, Any]) -> dict[str, Any]:
        it = self._interaction_by_token(token)
        if it.original is None:
            raise FakeError(404, 10008, "Unknown Message")
        msg = it.original
        for key in ("content", "components"):
            if key in body:
                msg[key] = body[key] or ("" if key == "content" else [])
        if "embeds" in body:
            msg["embeds"] = [{"type": "rich", **e} for e in body["embeds"] or []]
        msg["flags"] = int(msg["flags"]) & ~(1 << 7)
        was_deferred = not it.original_edited and int(msg["id"]) not in self.messages_by_id
        it.original_edited = True
        if was_deferred:
            self._store_message(msg)  # the "thinking" message becomes a real one
        else:
            msg["edited_timestamp"] = _iso(time.time())
            self.touch()
        return msg

    def interaction_reply(self, interaction_id: int) -> InteractionReply | None:
        """The first answer the user saw, or None while there is none."""
        it = self.interactions[interaction_id]
        if not it.callbacks:
            return None
        cb = it.callbacks[0]
        ctype, data = cb["type"], cb["data"]
        if ctype in (CB_DEFERRED, CB_DEFERRED_UPDATE):
            source = it.original if it.original_edited else (it.followups[0] if it.followups else None)
            if source is None:
                return None
            flags = int(source["flags"])
            if source is it.original:
                flags |= int(data.get("flags") or 0)
            return InteractionReply(it.id, ctype, source.get("content") or "", tuple(source.get("embeds") or ()),
                                    flags, (), int(source["id"]))
        if ctype == CB_AUTOCOMPLETE:
            return InteractionReply(it.id, ctype, "", (), 0, tuple(data.get("choices") or ()), None)
        msg = it.original
        return InteractionReply(
            it.id, ctype, data.get("content") or "", tuple(msg["embeds"] if msg else data.get("embeds") or ()),
            int(data.get("flags") or 0), (), int(msg["id"]) if msg else None,
        )

    def interaction_record(self, interaction_id: int) -> dict[str, Any]:
        """Everything the bot did with one interaction: callbacks, original message, follow-ups."""
        it = self.interactions[interaction_id]
        return {"id": it.id, "type": it.type, "callbacks": it.callbacks, "original": it.original,
                "followups": it.followups}

    # -- faults and request log -----------------------------------------------------------------
    def inject_fault(
        self, method: str, path: str, status: int, *, count: int = 1, retry_after: float = 1.0,
        code: int = 0, message: str = "",
    ) -> None:
        """The next `count` requests matching method and path (fnmatch, after /api/v10) get `status`."""
        self.faults.append(_Fault(method.upper(), path, status, count, retry_after, code, message))

    def clear_faults(self) -> None:
        self.faults.clear()

    def take_fault(self, method: str, path: str) -> _Fault | None:
        for f in self.faults:
            if f.remaining > 0 and f.method in (method, "*") and fnmatch.fnmatchcase(path, f.path):
                f.remaining -= 1
                return f
        return None

    def stall(self, method: str, path: str, *, count: int = 1, deliver: bool = False) -> None:
        """The next `count` matching requests get no answer until `release_stalled()`.

        `deliver=True`: the request takes effect first (Discord stored the message, the bot never
        learns its id); otherwise it is held before anything happens (lost in flight).
        """
        self.stalls.append(_Stall(method.upper(), path, count, deliver))

    def take_stall(self, method: str, path: str) -> _Stall | None:
        for s in self.stalls:
            if s.remaining > 0 and s.method in (method, "*") and fnmatch.fnmatchcase(path, s.path):
                s.remaining -= 1
                return s
        return None

    def note_stalled(self, method: str, path: str, status: int, *, delivered: bool) -> None:
        self.stalled.append(StalledRequest(method, path, delivered, status, time.time()))
        self.touch()

    async def wait_released(self) -> None:
        await self._released.wait()

    def release_stalled(self) -> None:
        """Disarms every stall and lets the held requests go on (a fresh event for later stalls)."""
        self.stalls.clear()
        self._released.set()
        self._released = asyncio.Event()

    def log_request(self, method: str, path: str, status: int, *, fault: bool) -> None:
        self.requests.append(RequestRecord(method, path, status, time.time(), fault))
        self.touch()


# ---------------------------------------------------------------------------------------------
# The gateway: one websocket per bot connection; dispatches go through a queue per connection.


class _Connection:
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
class _Session:
    """A gateway session: it outlives its websocket, so a RESUME can replay what was missed."""

    id: str
    seq: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    connection: _Connection | None = None

    REPLAY_LIMIT = 1000

    def dispatch(self, event: str, data: Mapping[str, Any]) -> None:
        self.seq += 1
        payload = {"op": 0, "t": event, "s": self.seq, "d": data}
        self.events = [*self.events[-self.REPLAY_LIMIT :], payload]
        if self.connection is not None:
            self.connection.send(payload)


class GatewayHub:
    """Serves the websocket for one bot: IDENTIFY gets READY then one GUILD_CREATE per guild;
    a new IDENTIFY ends the previous session; RESUME replays the events a dropped socket missed."""

    HEARTBEAT_MS = 41_250

    def __init__(self, state: FakeDiscordState) -> None:
        self.state = state
        self.connections: list[_Connection] = []
        self.session: _Session | None = None
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
        conn = _Connection(ws)
        self.connections.append(conn)
        pump = asyncio.create_task(conn.pump())
        conn.send({"op": 10, "d": {"heartbeat_interval": self.HEARTBEAT_MS}, "s": None, "t": None})
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

    async def _on_frame(self, conn: _Connection, frame: Mapping[str, Any]) -> None:
        op, data = frame.get("op"), frame.get("d")
        d: dict[str, Any] = data if isinstance(data, dict) else {}
        if op == 1:  # heartbeat
            conn.send({"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:  # identify
            if d.get("token") != self.state.token:
                await conn.ws.close(code=4004, message=b"Authentication failed.")
                return
            self.state.identify_count += 1
            self.session = _Session(id=secrets.token_hex(16), connection=conn)
            self.session.dispatch("READY", self.state.ready_payload(self.session.id, self.ws_url))
            for gid in self.state.guilds:
                self.session.dispatch("GUILD_CREATE", self.state.guild_create_payload(gid))
            self.state.touch()
        elif op == 6:  # resume: replay what the session missed, then RESUMED
            session = self.session
            if session is None or d.get("session_id") != session.id or d.get("token") != self.state.token:
                conn.send({"op": 9, "d": False, "s": None, "t": None})
                return
            for event in session.events:
                if event["s"] > int(d.get("seq") or 0):
                    conn.send(event)
            session.connection = conn
            session.dispatch("RESUMED", {})
            self.state.touch()
        elif op == 8 and self.session is not None:  # request guild members: all of them, one chunk
            gid = int(d.get("guild_id") or 0)
            if gid in self.state.guilds:
                members = [self.state.member_payload(gid, u) for u in self.state.guilds[gid].members]
                self.session.dispatch("GUILD_MEMBERS_CHUNK", {
                    "guild_id": str(gid), "members": members, "chunk_index": 0, "chunk_count": 1,
                    "nonce": d.get("nonce"),
                })
        # op 3 (presence) and op 4 (voice) need no answer.

    async def close_all(self, code: int = 1001) -> None:
        for conn in list(self.connections):
            await conn.ws.close(code=code)


# ---------------------------------------------------------------------------------------------
# REST.

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    # Exactly "application/json": discord.py compares the header and rejects "; charset=utf-8".
    resp = web.Response(body=json.dumps(data).encode(), status=status, headers=dict(headers or {}))
    resp.headers["Content-Type"] = JSON_TYPE
    return resp


async def _read_body(request: web.Request) -> tuple[Any, list[str]]:
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


class RestApi:
    """aiohttp handlers over the state; paths are Discord's, under /api/v{N}."""

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
        if fault is not None:
            self.s.log_request(method, path, fault.status, fault=True)
            headers = {"Via": "1.1 google"}  # discord.py treats a 429 without Via as a Cloudflare ban
            if fault.status == 429:
                headers |= {"Retry-After": str(max(1, round(fault.retry_after))), "X-RateLimit-Scope": "user"}
            body = _fault_body(fault.status, fault.retry_after, fault.code, fault.message)
            return _json(body, fault.status, headers)
        public = path.startswith(self.PUBLIC_PREFIXES)
        if not public and request.headers.get("Authorization") != f"Bot {self.s.token}":
            self.s.log_request(method, path, 401, fault=False)
            return _json({"message": "401: Unauthorized", "code": 0}, 401)
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

    async def _answer(self, handler: Handler, request: web.Request, method: str, path: str) -> web.StreamResponse:
        try:
            resp = await handler(request)
        except FakeError as exc:
            resp = _json({"message": exc.message, "code": exc.code}, exc.status)
        self.s.log_request(method, path, resp.status, fault=False)
        return resp

    # -- identity and gateway
    async def me(self, request: web.Request) -> web.Response:
        return _json({**self.s.users[self.s.bot_id], "verified": True, "mfa_enabled": False})

    async def user(self, request: web.Request) -> web.Response:
        uid = _snowflake(request, "user_id")
        if uid not in self.s.users:
            raise FakeError(404, 10013, "Unknown User")
        return _json(self.s.users[uid])

    async def open_dm(self, request: web.Request) -> web.Response:
        body, _ = await _read_body(request)
        uid = int(body["recipient_id"])
        for ch in self.s.channels.values():
            if ch["type"] == 1 and ch["recipients"][0]["id"] == str(uid):
                return _json(ch)
        cid = self.s.next_id()
        self.s.channels[cid] = {"id": str(cid), "type": 1, "last_message_id": None, "flags": 0,
                                "recipients": [self.s.users[uid]], "guild_id": None}
        self.s.channel_messages[cid] = []
        return _json(self.s.channels[cid])

    async def application(self, request: web.Request) -> web.Response:
        return _json(self.s.application_payload())

    async def gateway_bot(self, request: web.Request) -> web.Response:
        return _json({"url": self.s.gateway.ws_url if self.s.gateway else "", "shards": 1,
                      "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0,
                                              "max_concurrency": 1}})

    async def gateway_plain(self, request: web.Request) -> web.Response:
        return _json({"url": self.s.gateway.ws_url if self.s.gateway else ""})

    # -- channels and messages
    def _channel(self, request: web.Request) -> int:
        cid = _snowflake(request, "channel_id")
        if cid not in self.s.channels:
            raise FakeError(404, 10003, "Unknown Channel")
        return cid

    async def channel(self, request: web.Request) -> web.Response:
        return _json(self.s.channels[self._channel(request)])

    async def history(self, request: web.Request) -> web.Response:
        q = request.query
        msgs = self.s.history(
            self._channel(request), limit=int(q.get("limit", 50)),
            before=int(q["before"]) if "before" in q else None, after=int(q["after"]) if "after" in q else None,
        )
        return _json(msgs)

    async def send(self, request: web.Request) -> web.Response:
        cid = self._channel(request)
        body, files = await _read_body(request)
        return _json(self.s.bot_message(cid, body, files))

    async def get_message(self, request: web.Request) -> web.Response:
        cid, mid = self._channel(request), _snowflake(request, "message_id")
        msg = self.s.messages_by_id.get(mid)
        if msg is None or int(msg["channel_id"]) != cid or mid not in self.s.channel_messages.get(cid, []):
            raise FakeError(404, 10008, "Unknown Message")
        return _json(self.s._with_reactions(msg))

    async def edit_message(self, request: web.Request) -> web.Response:
        body, _ = await _read_body(request)
        return _json(self.s.edit_message(self._channel(request), _snowflake(request, "message_id"), body))

    async def delete_message(self, request: web.Request) -> web.Response:
        self.s.delete_message(self._channel(request), _snowflake(request, "message_id"))
        return web.Response(status=204)

    async def react(self, request: web.Request) -> web.Response:
        emoji = unquote(request.match_info["emoji"])
        self.s.react(self._channel(request), _snowflake(request, "message_id"), emoji)
        return web.Response(status=204)

    async def no_content(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    # -- guilds
    def _guild(self, request: web.Request) -> _Guild:
        gid = _snowflake(request, "guild_id")
        if gid not in self.s.guilds:
            raise FakeError(404, 10004, "Unknown Guild")
        return self.s.guilds[gid]

    async def guild(self, request: web.Request) -> web.Response:
        return _json(self.s.guild_payload(self._guild(request).id))

    async def guild_channels(self, request: web.Request) -> web.Response:
        return _json([self.s.channels[c] for c in self._guild(request).channel_ids])

    async def guild_roles(self, request: web.Request) -> web.Response:
        return _json(list(self._guild(request).roles.values()))

    async def guild_member(self, request: web.Request) -> web.Response:
        g, uid = self._guild(request), _snowflake(request, "user_id")
        if uid not in g.members:
            raise FakeError(404, 10007, "Unknown Member")
        return _json(self.s.member_payload(g.id, uid))

    # -- application commands
    def _scope(self, request: web.Request) -> int | None:
        if _snowflake(request, "app_id") != self.s.application_id:
            raise FakeError(403, 50001, "Missing Access")
        return _snowflake(request, "guild_id") if "guild_id" in request.match_info else None

    async def list_commands(self, request: web.Request) -> web.Response:
        return _json(self.s.commands.get(self._scope(request), []))

    async def put_commands(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        body, _ = await _read_body(request)
        return _json(self.s.put_commands(scope, body))

    async def post_command(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        body, _ = await _read_body(request)
        return _json(self.s.upsert_command(scope, body), 201)

    async def delete_command(self, request: web.Request) -> web.Response:
        self.s.delete_command(self._scope(request), _snowflake(request, "command_id"))
        return web.Response(status=204)

    # -- interactions and their webhooks
    async def callback(self, request: web.Request) -> web.Response:
        body, files = await _read_body(request)
        out = self.s.interaction_callback(
            _snowflake(request, "interaction_id"), request.match_info["token"], body, files
        )
        if request.query.get("with_response") in ("1", "true", "True"):
            return _json(out)
        return web.Response(status=204)

    async def followup(self, request: web.Request) -> web.Response:
        body, files = await _read_body(request)
        return _json(self.s.followup(request.match_info["token"], body, files))

    def _webhook_target(self, request: web.Request) -> tuple[_Interaction, dict[str, Any]]:
        it = self.s._interaction_by_token(request.match_info["token"])
        key = request.match_info["message_id"]
        if key == "@original" and it.original is not None:
            return it, it.original
        for m in it.followups:
            if m["id"] == key:
                return it, m
        raise FakeError(404, 10008, "Unknown Message")

    async def webhook_message(self, request: web.Request) -> web.Response:
        return _json(self._webhook_target(request)[1])

    async def edit_webhook_message(self, request: web.Request) -> web.Response:
        body, _ = await _read_body(request)
        it, msg = self._webhook_target(request)
        if msg is it.original:
            return _json(self.s.edit_original(request.match_info["token"], body))
        return _json(self.s.edit_message(int(msg["channel_id"]), int(msg["id"]), body))

    async def unknown(self, request: web.Request) -> web.Response:
        return _json({"message": "404: Not Found", "code": 0}, 404)


# ---------------------------------------------------------------------------------------------
# The in-process surface.


class FakeDiscord:
    """The fake Discord, run inside the test's event loop.

    Setup and reads are plain methods; the `wait_*` and `start`/`stop` ones are coroutines.
    """

    def __init__(
        self, *, host: str = "127.0.0.1", port: int = 0, token: str = "fake-bot-token",
        bot_id: int = 900_000_000_000_000_001, application_id: int = 900_000_000_000_000_001,
        owner_id: int = 900_000_000_000_000_002,
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
        app = web.Application(middlewares=[rest.middleware], client_max_size=32 * 1024 * 1024)
        app.router.add_get("/gateway", self.hub.handle)
        app.router.add_get("/", self.hub.handle)
        Control(self).routes(app)
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

    # -- world building (sync)
    def add_guild(self, guild_id: int | None = None, name: str = "Test Guild", *, owner_id: int | None = None) -> int:
        return self.state.add_guild(guild_id, name, owner_id=owner_id)

    def add_channel(self, guild_id: int, name: str = "general", *, channel_id: int | None = None) -> int:
        return self.state.add_channel(guild_id, name, channel_id=channel_id)

    def add_role(self, guild_id: int, name: str, permissions: Iterable[str] | int = ()) -> int:
        return self.state.add_role(guild_id, name, permissions)

    def add_member(self, guild_id: int, user_id: int | None = None, name: str = "member",
                   roles: Iterable[int] = ()) -> int:
        return self.state.add_member(guild_id, user_id, name, roles)

    def set_bot_permissions(self, channel_id: int, *, allow: Iterable[str] | int = (),
                            deny: Iterable[str] | int = ()) -> None:
        self.state.set_bot_permissions(channel_id, allow=allow, deny=deny)

    def set_overwrite(self, channel_id: int, target_id: int, *, target_type: int,
                      allow: Iterable[str] | int = (), deny: Iterable[str] | int = ()) -> None:
        self.state.set_overwrite(channel_id, target_id, target_type=target_type, allow=allow, deny=deny)

    def inject_fault(self, method: str, path: str, status: int, *, count: int = 1, retry_after: float = 1.0,
                     code: int = 0, message: str = "") -> None:
        self.state.inject_fault(method, path, status, count=count, retry_after=retry_after, code=code,
                                message=message)

    def clear_faults(self) -> None:
        self.state.clear_faults()

    def stall(self, method: str, path: str, *, count: int = 1, deliver: bool = False) -> None:
        """Hold back the answers to the next `count` matching requests (see `FakeDiscordState.stall`)."""
        self.state.stall(method, path, count=count, deliver=deliver)

    def release_stalled(self) -> None:
        self.state.release_stalled()

    def stalled_requests(self) -> list[StalledRequest]:
        return list(self.state.stalled)

    # -- acting as people (sync: dispatched over the gateway)
    def send_message(self, channel_id: int, content: str, *, author_id: int | None = None) -> int:
        """A user (the owner by default) writes `content`; returns the message id."""
        return self.state.user_message(channel_id, author_id or self.state.owner_id, content)

    def send_slash(self, guild_id: int, user_id: int, command: str, *path_and_options: Any,
                   channel_id: int | None = None) -> int:
        """`send_slash(g, u, "iracing", "track", {"driver": "123"})`; returns the interaction id.

        Positional strings after the command name are subcommand (group) names; a final dict holds
        the options, typed by the command the bot registered.
        """
        path, options = _split_path(path_and_options)
        return self.state.new_interaction(guild_id, user_id, command, path, options, channel_id=channel_id)

    def send_autocomplete(self, guild_id: int, user_id: int, command: str, *path_and_options: Any,
                          focused: str, channel_id: int | None = None) -> int:
        """An autocomplete interaction (type 4) with `focused` the option being typed."""
        path, options = _split_path(path_and_options)
        return self.state.new_interaction(guild_id, user_id, command, path, options, channel_id=channel_id,
                                          focused=focused)

    # -- reading back (sync)
    def messages(self, channel_id: int) -> list[Message]:
        return self.state.messages(channel_id)

    def message(self, message_id: int) -> Message:
        return self.state.message(message_id)

    def interaction(self, interaction_id: int) -> dict[str, Any]:
        return self.state.interaction_record(interaction_id)

    def commands(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        return list(self.state.commands.get(guild_id, []))

    def command_syncs(self) -> list[CommandSync]:
        return list(self.state.command_syncs)

    def requests(self) -> list[RequestRecord]:
        return list(self.state.requests)

    def gateway_status(self) -> dict[str, Any]:
        return {"connected": self.hub.connected, "identify_count": self.state.identify_count,
                "connections": len(self.hub.connections)}

    # -- waiting (async)
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

    async def wait_for_message(self, channel_id: int, predicate: Callable[[Message], bool] = lambda m: True,
                               timeout: float = 30.0, *, after: int = 0) -> Message:  # noqa: ASYNC109
        """The first message in the channel (newer than `after`) that satisfies `predicate`."""
        def check() -> Message | None:
            return next((m for m in self.messages(channel_id) if m.id > after and predicate(m)), None)
        return await self.wait_until(check, timeout, f"a message in channel {channel_id}")

    async def wait_for_interaction_reply(self, interaction_id: int, timeout: float = 30.0) -> InteractionReply:  # noqa: ASYNC109
        return await self.wait_until(lambda: self.state.interaction_reply(interaction_id), timeout,
                                     f"a reply to interaction {interaction_id}")

    async def wait_for_identify(self, count: int, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """Until the bot has sent its `count`-th IDENTIFY (and is connected)."""
        await self.wait_until(lambda: self.state.identify_count >= count and self.hub.connected, timeout,
                              f"IDENTIFY number {count}")

    async def wait_for_command_sync(self, count: int, timeout: float = 30.0) -> CommandSync:  # noqa: ASYNC109
        """Until `count` command syncs (PUTs) happened; returns the last one."""
        return await self.wait_until(
            lambda: len(self.state.command_syncs) >= count and self.state.command_syncs[-1], timeout,
            f"command sync number {count}",
        )

    async def disconnect_gateway(self, code: int = 1001) -> None:
        """Drops every websocket (the bot should reconnect and resume)."""
        await self.hub.close_all(code)


def _split_path(args: tuple[Any, ...]) -> tuple[list[str], dict[str, Any]]:
    if args and isinstance(args[-1], Mapping):
        return [str(a) for a in args[:-1]], dict(args[-1])
    return [str(a) for a in args], {}


# ---------------------------------------------------------------------------------------------
# The HTTP control surface (`/_fake/<operation>`) and its client.

# operation -> (converter of the result to JSON)
_CONTROL_OPS: dict[str, Callable[[Any], Any]] = {
    "add_guild": lambda r: r, "add_channel": lambda r: r, "add_role": lambda r: r, "add_member": lambda r: r,
    "set_bot_permissions": lambda r: r, "set_overwrite": lambda r: r, "inject_fault": lambda r: r,
    "clear_faults": lambda r: r, "send_message": lambda r: r, "send_slash": lambda r: r,
    "send_autocomplete": lambda r: r, "interaction": lambda r: r, "commands": lambda r: r,
    "gateway_status": lambda r: r, "disconnect_gateway": lambda r: r,
    "messages": lambda r: [m.to_dict() for m in r], "message": lambda r: r.to_dict(),
    "command_syncs": lambda r: [c.to_dict() for c in r], "requests": lambda r: [q.to_dict() for q in r],
    "wait_for_interaction_reply": lambda r: r.to_dict(), "wait_for_identify": lambda r: r,
    "wait_for_command_sync": lambda r: r.to_dict(), "stall": lambda r: r, "release_stalled": lambda r: r,
    "stalled_requests": lambda r: [q.to_dict() for q in r],
}


class Control:
    """`POST /_fake/<op>` with JSON {"args": [...], "kwargs": {...}} -> {"result": ...} or {"error": ...}."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/_fake/wait_change", self.wait_change)
        app.router.add_get("/_fake/info", self.info)
        app.router.add_post("/_fake/{op}", self.call)

    async def info(self, request: web.Request) -> web.Response:
        f = self.fake
        return _json({"api_base": f.api_base, "bot_id": f.bot_id, "owner_id": f.owner_id,
                      "application_id": f.application_id, "version": f.state.version})

    async def wait_change(self, request: web.Request) -> web.Response:
        body = await request.json()
        version = await self.fake.state.wait_change(int(body["since"]), float(body.get("timeout", 10)))
        return _json({"result": version})

    async def call(self, request: web.Request) -> web.Response:
        op = request.match_info["op"]
        if op not in _CONTROL_OPS:
            return _json({"error": f"unknown operation {op}"}, 404)
        body = await request.json() if request.can_read_body else {}
        try:
            result = getattr(self.fake, op)(*body.get("args", []), **body.get("kwargs", {}))
            if asyncio.iscoroutine(result):
                result = await result
        except (ValueError, KeyError, TimeoutError) as exc:
            return _json({"error": f"{type(exc).__name__}: {exc}"}, 400)
        return _json({"result": _CONTROL_OPS[op](result)})


class FakeDiscordRemote:
    """Drives a fake Discord running in another process; the same operations, all async."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> FakeDiscordRemote:
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def api_base(self) -> str:
        return f"{self.url}/api/v10"

    async def _post(self, op: str, *args: Any, **kwargs: Any) -> Any:
        assert self._session is not None, "use `async with FakeDiscordRemote(url)`"
        async with self._session.post(f"{self.url}/_fake/{op}", json={"args": list(args), "kwargs": kwargs}) as r:
            data = await r.json()
        if "error" in data:
            raise RuntimeError(f"fake Discord {op}: {data['error']}")
        return data["result"]

    async def info(self) -> dict[str, Any]:
        assert self._session is not None
        async with self._session.get(f"{self.url}/_fake/info") as r:
            return await r.json()

    async def add_guild(self, guild_id: int | None = None, name: str = "Test Guild", **kw: Any) -> int:
        return await self._post("add_guild", guild_id, name, **kw)

    async def add_channel(self, guild_id: int, name: str = "general", **kw: Any) -> int:
        return await self._post("add_channel", guild_id, name, **kw)

    async def add_role(self, guild_id: int, name: str, permissions: list[str] | int = ()) -> int:  # type: ignore[assignment]
        return await self._post("add_role", guild_id, name, list(permissions) if not isinstance(permissions, int)
                                else permissions)

    async def add_member(self, guild_id: int, user_id: int | None = None, name: str = "member",
                         roles: list[int] = ()) -> int:  # type: ignore[assignment]
        return await self._post("add_member", guild_id, user_id, name, list(roles))

    async def set_bot_permissions(self, channel_id: int, *, allow: list[str] | int = (),  # type: ignore[assignment]
                                  deny: list[str] | int = ()) -> None:  # type: ignore[assignment]
        await self._post("set_bot_permissions", channel_id, allow=_names(allow), deny=_names(deny))

    async def set_overwrite(self, channel_id: int, target_id: int, *, target_type: int,
                            allow: list[str] | int = (), deny: list[str] | int = ()) -> None:  # type: ignore[assignment]
        await self._post("set_overwrite", channel_id, target_id, target_type=target_type, allow=_names(allow),
                         deny=_names(deny))

    async def inject_fault(self, method: str, path: str, status: int, **kw: Any) -> None:
        await self._post("inject_fault", method, path, status, **kw)

    async def clear_faults(self) -> None:
        await self._post("clear_faults")

    async def stall(self, method: str, path: str, *, count: int = 1, deliver: bool = False) -> None:
        await self._post("stall", method, path, count=count, deliver=deliver)

    async def release_stalled(self) -> None:
        await self._post("release_stalled")

    async def stalled_requests(self) -> list[StalledRequest]:
        return [StalledRequest.from_dict(d) for d in await self._post("stalled_requests")]

    async def send_message(self, channel_id: int, content: str, *, author_id: int | None = None) -> int:
        return await self._post("send_message", channel_id, content, author_id=author_id)

    async def send_slash(self, guild_id: int, user_id: int, command: str, *path_and_options: Any,
                         channel_id: int | None = None) -> int:
        return await self._post("send_slash", guild_id, user_id, command, *path_and_options, channel_id=channel_id)

    async def send_autocomplete(self, guild_id: int, user_id: int, command: str, *path_and_options: Any,
                                focused: str, channel_id: int | None = None) -> int:
        return await self._post("send_autocomplete", guild_id, user_id, command, *path_and_options,
                                focused=focused, channel_id=channel_id)

    async def messages(self, channel_id: int) -> list[Message]:
        return [Message.from_dict(m) for m in await self._post("messages", channel_id)]

    async def message(self, message_id: int) -> Message:
        return Message.from_dict(await self._post("message", message_id))

    async def interaction(self, interaction_id: int) -> dict[str, Any]:
        return await self._post("interaction", interaction_id)

    async def commands(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        return await self._post("commands", guild_id)

    async def command_syncs(self) -> list[CommandSync]:
        return [CommandSync.from_dict(c) for c in await self._post("command_syncs")]

    async def requests(self) -> list[RequestRecord]:
        return [RequestRecord.from_dict(r) for r in await self._post("requests")]

    async def gateway_status(self) -> dict[str, Any]:
        return await self._post("gateway_status")

    async def wait_for_interaction_reply(self, interaction_id: int, timeout: float = 30.0) -> InteractionReply:  # noqa: ASYNC109
        return InteractionReply.from_dict(await self._post("wait_for_interaction_reply", interaction_id, timeout))

    async def wait_for_identify(self, count: int, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        await self._post("wait_for_identify", count, timeout)

    async def wait_for_command_sync(self, count: int, timeout: float = 30.0) -> CommandSync:  # noqa: ASYNC109
        return CommandSync.from_dict(await self._post("wait_for_command_sync", count, timeout))

    async def disconnect_gateway(self, code: int = 1001) -> None:
        await self._post("disconnect_gateway", code)

    async def wait_for_message(self, channel_id: int, predicate: Callable[[Message], bool] = lambda m: True,
                               timeout: float = 30.0, *, after: int = 0) -> Message:  # noqa: ASYNC109
        """Checked here (a predicate cannot travel); long-polls the fake for changes in between."""
        assert self._session is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            version = (await self.info())["version"]
            found = next((m for m in await self.messages(channel_id) if m.id > after and predicate(m)), None)
            if found:
                return found
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"fake Discord: no matching message in channel {channel_id}")
            async with self._session.post(f"{self.url}/_fake/wait_change",
                                          json={"since": version, "timeout": min(remaining, 10)}) as r:
                await r.read()


def _names(value: Iterable[str] | int) -> list[str] | int:
    return value if isinstance(value, int) else list(value)


# ---------------------------------------------------------------------------------------------
# As a process: python -m tests.fakes.discord_api --port N


async def _serve(args: argparse.Namespace) -> None:
    fake = FakeDiscord(host=args.host, port=args.port, token=args.token, bot_id=args.bot_id,
                       application_id=args.application_id or args.bot_id, owner_id=args.owner_id)
    await fake.start()
    for _ in range(args.guilds):
        gid = fake.add_guild()
        fake.add_channel(gid, "general")
    # One line on stdout tells a parent process where the fake listens.
    print(json.dumps({"url": fake.url, "api_base": fake.api_base}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await fake.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake Discord API for tests")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--token", default="fake-bot-token")
    parser.add_argument("--bot-id", type=int, default=900_000_000_000_000_001)
    parser.add_argument("--application-id", type=int, default=0)
    parser.add_argument("--owner-id", type=int, default=900_000_000_000_000_002)
    parser.add_argument("--guilds", type=int, default=0, help="guilds (each with a #general) to create at start")
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main(sys.argv[1:])
