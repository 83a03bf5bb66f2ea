"""`FakeDiscordState`: everything the fake knows, driven by the REST handlers, the gateway and the tests.

Mutations are synchronous and bump `version`; `wait_change` lets waiters (in-process or over HTTP)
sleep until the next one instead of polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from . import payloads
from .faults import FaultRule, StallRule, take_first
from .permissions import (
    ALL_PERMISSIONS,
    BOT_ROLE_DEFAULT,
    MEMBER_DEFAULT,
    PERMISSIONS,
    compute_permissions,
    permission_bits,
)
from .protocol import (
    CB_AUTOCOMPLETE,
    CB_DEFERRED,
    CB_DEFERRED_UPDATE,
    CB_MESSAGE,
    DISCORD_EPOCH_MS,
    EPHEMERAL,
    INTERACTION_AUTOCOMPLETE,
    INTERACTION_COMMAND,
    LOADING,
    OPT_SNOWFLAKES,
    FakeError,
)
from .records import CommandSync, InteractionReply, Message, RequestRecord, StalledRequest
from .rules import build_command_options, leaf_options, pinged, validate_message_body
from .world import Guild, Interaction

NONCE_WINDOW = 300.0  # Discord: "checked for uniqueness in the past few minutes"

if TYPE_CHECKING:
    from .gateway import GatewayHub


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
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, dict[str, Any]] = {}
        self.channel_messages: dict[int, list[int]] = {}
        self.messages_by_id: dict[int, dict[str, Any]] = {}
        # (author, nonce) -> (message id, when): a create with `enforce_nonce` repeated within
        # NONCE_WINDOW returns the first message instead of making a second one, as Discord does.
        self.nonces: dict[tuple[int, str], tuple[int, float]] = {}
        self.reactions: dict[int, list[str]] = {}
        self.commands: dict[int | None, list[dict[str, Any]]] = {}
        self.command_syncs: list[CommandSync] = []
        self.interactions: dict[int, Interaction] = {}
        self.faults: list[FaultRule] = []
        self.stalls: list[StallRule] = []
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
        self.users[user_id] = payloads.user(user_id, name, bot=bot)
        return self.users[user_id]

    def add_guild(self, guild_id: int | None = None, name: str = "Test Guild", *, owner_id: int | None = None) -> int:
        gid = guild_id or self.next_id()
        owner = owner_id or self.owner_id
        g = Guild(id=gid, name=name, owner_id=owner)
        g.roles[gid] = payloads.role(gid, "@everyone", MEMBER_DEFAULT, 0)
        bot_role = self.next_id()
        g.roles[bot_role] = {**payloads.role(bot_role, "ir2dis", BOT_ROLE_DEFAULT, 1), "managed": True}
        g.members[self.bot_id] = [bot_role]
        g.members[owner] = []
        if owner not in self.users:
            self.add_user(owner, f"user{owner}")
        self.guilds[gid] = g
        self.dispatch("GUILD_CREATE", self.guild_create_payload(gid))
        self.touch()
        return gid

    def add_role(
        self, guild_id: int, name: str, permissions: Iterable[str] | int = (), *, mentionable: bool = False
    ) -> int:
        g = self.guilds[guild_id]
        rid = self.next_id()
        g.roles[rid] = {
            **payloads.role(rid, name, permission_bits(permissions), len(g.roles)),
            "mentionable": mentionable,
        }
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
        self.channels[cid] = payloads.text_channel(cid, guild_id, name, len(g.channel_ids))
        self.channel_messages[cid] = []
        g.channel_ids.append(cid)
        self.dispatch("CHANNEL_CREATE", self.channels[cid])
        self.touch()
        return cid

    def open_dm(self, user_id: int) -> dict[str, Any]:
        """The DM channel with a user, made on first use."""
        for ch in self.channels.values():
            if ch["type"] == 1 and ch["recipients"][0]["id"] == str(user_id):
                return ch
        cid = self.next_id()
        self.channels[cid] = payloads.dm_channel(cid, self.users[user_id])
        self.channel_messages[cid] = []
        return self.channels[cid]

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
        ch = self.channels[channel_id]
        rest = [o for o in ch["permission_overwrites"] if int(o["id"]) != target_id]
        ow = {
            "id": str(target_id),
            "type": target_type,
            "allow": str(permission_bits(allow)),
            "deny": str(permission_bits(deny)),
        }
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
            user_id=user_id,
            owner_id=g.owner_id,
            guild_id=g.id,
            roles=g.roles,
            member_roles=g.members[user_id],
            overwrites=ch["permission_overwrites"],
        )

    # -- payloads ----------------------------------------------------------------------------
    def member_payload(self, guild_id: int, user_id: int) -> dict[str, Any]:
        return payloads.member(self.users[user_id], self.guilds[guild_id].members[user_id])

    def guild_payload(self, guild_id: int) -> dict[str, Any]:
        return payloads.guild(self.guilds[guild_id])

    def guild_create_payload(self, guild_id: int) -> dict[str, Any]:
        g = self.guilds[guild_id]
        members = [self.member_payload(guild_id, uid) for uid in g.members]
        return payloads.guild_create(g, members, [self.channels[c] for c in g.channel_ids])

    def ready_payload(self, session_id: str, resume_url: str) -> dict[str, Any]:
        return payloads.ready(self.users[self.bot_id], self.guilds, self.application_id, session_id, resume_url)

    def application_payload(self) -> dict[str, Any]:
        return payloads.application(self.application_id, self.users[self.bot_id], self.users[self.owner_id])

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
        content = body.get("content") or ""
        allowed = body.get("allowed_mentions")
        users, roles, everyone = pinged(content, allowed)
        return {
            "id": str(mid),
            "channel_id": str(channel_id),
            "author": self.users[author_id],
            "content": content,
            "timestamp": payloads.iso(time.time()),
            "edited_timestamp": None,
            "tts": bool(body.get("tts")),
            # Who was pinged, as Discord works it out from the content and allowed_mentions.
            "mention_everyone": everyone,
            "mentions": [self.users[u] for u in users if u in self.users],
            "mention_roles": [str(r) for r in roles],
            "attachments": [
                {"id": str(self.next_id()), "filename": name, "size": 0, "url": "", "proxy_url": ""}
                for name in attachments
            ],
            "embeds": embeds,
            "pinned": False,
            "type": 19 if ref else 0,  # 19: a reply
            "flags": int(body.get("flags") or 0),
            "components": body.get("components") or [],
            **({"nonce": body["nonce"]} if body.get("nonce") is not None else {}),
            **({"message_reference": {**ref, "channel_id": str(channel_id)}} if ref else {}),
            # Not in Discord's message object: what the sender asked for, kept for tests to check.
            **({"allowed_mentions": allowed} if allowed is not None else {}),
        }

    def user_message(self, channel_id: int, author_id: int, content: str) -> int:
        """A person writes in a channel: stored and dispatched as MESSAGE_CREATE."""
        if channel_id not in self.channels:
            raise ValueError(f"unknown channel {channel_id}")
        msg = self._new_message(channel_id, author_id, {"content": content})
        self._store_message(msg)
        return int(msg["id"])

    def bot_message(self, channel_id: int, body: Mapping[str, Any], attachments: Iterable[str] = ()) -> dict[str, Any]:
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
        nonce = str(body["nonce"]) if body.get("nonce") is not None and body.get("enforce_nonce") else None
        earlier = self.nonces.get((self.bot_id, nonce)) if nonce is not None else None
        kept = earlier is not None and earlier[0] in self.channel_messages.get(channel_id, [])  # not deleted
        if earlier is not None and kept and time.time() - earlier[1] < NONCE_WINDOW:
            return self.messages_by_id[earlier[0]]
        msg = self._store_message(self._new_message(channel_id, self.bot_id, body, attachments=attachments))
        if nonce is not None:
            self.nonces[(self.bot_id, nonce)] = (int(msg["id"]), time.time())
        return msg

    def edit_message(self, channel_id: int, message_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        msg = self.messages_by_id.get(message_id)
        if msg is None or int(msg["channel_id"]) != channel_id:
            raise FakeError(404, 10008, "Unknown Message")
        for key in ("content", "flags", "components"):
            if key in body:
                msg[key] = body[key] if body[key] is not None else ("" if key == "content" else 0)
        if "embeds" in body:
            msg["embeds"] = [{"type": "rich", **e} for e in body["embeds"] or []]
        msg["edited_timestamp"] = payloads.iso(time.time())
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

    def channel_message(self, channel_id: int, message_id: int) -> dict[str, Any]:
        """One message as `GET .../messages/{id}` shows it (not deleted, with its reactions)."""
        msg = self.messages_by_id.get(message_id)
        if (
            msg is None
            or int(msg["channel_id"]) != channel_id
            or message_id not in self.channel_messages.get(channel_id, [])
        ):
            raise FakeError(404, 10008, "Unknown Message")
        return self._with_reactions(msg)

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
        reactions = [{"emoji": {"id": None, "name": e}, "count": n, "me": True} for e, n in counts.items()]
        return {**msg, "reactions": reactions}

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
        # A command keeps its id across syncs, as on Discord (same scope, name and type).
        cid = self._command_ids.setdefault((guild_id, body["name"], ctype), self.next_id())
        cmd = {
            "options": [],
            "default_member_permissions": None,
            "dm_permission": True,
            "nsfw": False,
            "description": "",
            "name_localizations": None,
            "description_localizations": None,
            "contexts": None,
            "integration_types": [0],
            **body,
            "id": str(cid),
            "application_id": str(self.application_id),
            "type": ctype,
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
        self,
        guild_id: int,
        user_id: int,
        command: str,
        path: list[str],
        options: Mapping[str, Any],
        *,
        channel_id: int | None = None,
        focused: str | None = None,
    ) -> int:
        """Builds an application command (type 2) or autocomplete (type 4) interaction and dispatches it."""
        g = self.guilds[guild_id]
        cid = channel_id or g.channel_ids[0]
        cmd = self.find_command(guild_id, command)
        opts = build_command_options(cmd.get("options") or [], path, options, focused)
        data: dict[str, Any] = {"id": cmd["id"], "name": command, "type": 1, "options": opts, "guild_id": str(guild_id)}
        resolved = self._resolved(guild_id, leaf_options(opts))
        if resolved:
            data["resolved"] = resolved
        iid = self.next_id()
        kind = INTERACTION_AUTOCOMPLETE if focused else INTERACTION_COMMAND
        token = "itok-" + secrets.token_hex(16)
        self.interactions[iid] = Interaction(
            id=iid, token=token, type=kind, guild_id=guild_id, channel_id=cid, user_id=user_id, data=data
        )
        member = self.member_payload(guild_id, user_id)
        member["permissions"] = str(self.permissions_in(cid, user_id))
        payload = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": kind,
            "data": data,
            "guild_id": str(guild_id),
            "channel_id": str(cid),
            "channel": self.channels[cid],
            "member": member,
            "token": token,
            "version": 1,
            "app_permissions": str(self.permissions_in(cid, self.bot_id)),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild_id)},
            "context": 0,
            "attachment_size_limit": 8 * 1024 * 1024,
        }
        self.dispatch("INTERACTION_CREATE", payload)
        self.touch()
        return iid

    def _resolved(self, guild_id: int, options: list[Mapping[str, Any]]) -> dict[str, Any]:
        """The `resolved` block: what the snowflake options (users, channels, roles) point at."""
        out: dict[str, dict[str, Any]] = {}
        for o in options:
            if o.get("focused") or o["type"] not in OPT_SNOWFLAKES:
                continue
            oid = int(o["value"])
            if oid in self.channels:
                ch = self.channels[oid]
                out.setdefault("channels", {})[str(oid)] = {
                    "id": ch["id"],
                    "name": ch["name"],
                    "type": ch["type"],
                    "parent_id": ch.get("parent_id"),
                    "permissions": str(self.permissions_in(oid, self.bot_id)),
                    "guild_id": ch.get("guild_id"),
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

    def interaction_by_token(self, token: str) -> Interaction:
        for it in self.interactions.values():
            if it.token == token:
                return it
        raise FakeError(404, 10015, "Unknown Webhook")

    def interaction_callback(
        self, interaction_id: int, token: str, body: Mapping[str, Any], attachments: Iterable[str] = ()
    ) -> dict[str, Any]:
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
                msg["flags"] = int(data.get("flags") or 0) | LOADING
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
                "id": str(it.id),
                "type": it.type,
                "response_message_id": original["id"] if original else None,
                "response_message_loading": ctype == CB_DEFERRED,
                "response_message_ephemeral": bool(original and int(original["flags"]) & EPHEMERAL),
            },
            "resource": resource,
        }

    def followup(self, token: str, body: Mapping[str, Any], attachments: Iterable[str] = ()) -> dict[str, Any]:
        it = self.interaction_by_token(token)
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
        it = self.interaction_by_token(token)
        if it.original is None:
            raise FakeError(404, 10008, "Unknown Message")
        msg = it.original
        for key in ("content", "components"):
            if key in body:
                msg[key] = body[key] or ("" if key == "content" else [])
        if "embeds" in body:
            msg["embeds"] = [{"type": "rich", **e} for e in body["embeds"] or []]
        msg["flags"] = int(msg["flags"]) & ~LOADING
        was_deferred = not it.original_edited and int(msg["id"]) not in self.messages_by_id
        it.original_edited = True
        if was_deferred:
            self._store_message(msg)  # the "thinking" message becomes a real one
        else:
            msg["edited_timestamp"] = payloads.iso(time.time())
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
            embeds = tuple(source.get("embeds") or ())
            return InteractionReply(it.id, ctype, source.get("content") or "", embeds, flags, (), int(source["id"]))
        if ctype == CB_AUTOCOMPLETE:
            return InteractionReply(it.id, ctype, "", (), 0, tuple(data.get("choices") or ()), None)
        msg = it.original
        return InteractionReply(
            it.id,
            ctype,
            data.get("content") or "",
            tuple(msg["embeds"] if msg else data.get("embeds") or ()),
            int(data.get("flags") or 0),
            (),
            int(msg["id"]) if msg else None,
        )

    def interaction_record(self, interaction_id: int) -> dict[str, Any]:
        """Everything the bot did with one interaction: callbacks, original message, follow-ups."""
        it = self.interactions[interaction_id]
        return {
            "id": it.id,
            "type": it.type,
            "callbacks": it.callbacks,
            "original": it.original,
            "followups": it.followups,
        }

    # -- faults, stalls and the request log ------------------------------------------------------
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
        self.faults.append(
            FaultRule(
                method=method.upper(),
                path=path,
                remaining=count,
                status=status,
                retry_after=retry_after,
                code=code,
                message=message,
                deliver=deliver,
            )
        )

    def clear_faults(self) -> None:
        self.faults.clear()

    def take_fault(self, method: str, path: str) -> FaultRule | None:
        return take_first(self.faults, method, path)

    def stall(self, method: str, path: str, *, count: int = 1, deliver: bool = False) -> None:
        """The next `count` matching requests get no answer until `release_stalled()`.

        `deliver=True`: the request takes effect first (Discord stored the message, the bot never
        learns its id); otherwise it is held before anything happens (lost in flight).
        """
        self.stalls.append(StallRule(method=method.upper(), path=path, remaining=count, deliver=deliver))

    def take_stall(self, method: str, path: str) -> StallRule | None:
        return take_first(self.stalls, method, path)

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
