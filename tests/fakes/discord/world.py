"""The fake's mutable world beyond plain payloads: guilds (roles, members, channels) and interactions.

Mutable on purpose: the REST handlers and the gateway change them in place, as Discord would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    roles: dict[int, dict[str, Any]] = field(default_factory=dict)  # role id -> role payload
    members: dict[int, list[int]] = field(default_factory=dict)  # user id -> role ids
    channel_ids: list[int] = field(default_factory=list)


@dataclass
class Interaction:
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
