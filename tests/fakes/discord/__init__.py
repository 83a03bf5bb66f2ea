"""A fake Discord API on 127.0.0.1: REST, gateway and a control surface for tests.

Enough of Discord for the real `redbot` (discord.py 2.7) to log in, see guilds, channels,
roles and members, register slash commands, receive messages and interactions, and
answer them. Everything the bot sends is recorded and readable back.

One `FakeDiscordState` (`state`) holds the world; `rest` and `gateway` serve it to the bot.
Tests drive it through control operations declared once on `FakeDiscord` (`server`, `control`):
- in-process: `FakeDiscord` (start/stop, add_guild, send_slash, wait_for_message, ...);
- out of process: `python -m tests.fakes.discord --port N` serves the same operations as
  `POST /_fake/<operation>`, and `FakeDiscordRemote` (`remote`) calls them by the same names (async).

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

from .permissions import ALL_PERMISSIONS, PERMISSIONS, compute_permissions, permission_bits
from .protocol import (
    CB_AUTOCOMPLETE,
    CB_DEFERRED,
    CB_DEFERRED_UPDATE,
    CB_MESSAGE,
    CB_MODAL,
    CB_UPDATE,
    EPHEMERAL,
    FakeError,
)
from .records import CommandSync, InteractionReply, Message, RequestRecord, StalledRequest
from .remote import FakeDiscordRemote
from .rules import build_command_options, validate_message_body
from .server import OPERATIONS, FakeDiscord
from .state import FakeDiscordState

__all__ = [
    "ALL_PERMISSIONS",
    "CB_AUTOCOMPLETE",
    "CB_DEFERRED",
    "CB_DEFERRED_UPDATE",
    "CB_MESSAGE",
    "CB_MODAL",
    "CB_UPDATE",
    "EPHEMERAL",
    "OPERATIONS",
    "PERMISSIONS",
    "CommandSync",
    "FakeDiscord",
    "FakeDiscordRemote",
    "FakeDiscordState",
    "FakeError",
    "InteractionReply",
    "Message",
    "RequestRecord",
    "StalledRequest",
    "build_command_options",
    "compute_permissions",
    "permission_bits",
    "validate_message_body",
]
