"""Discord's permission bits and its documented algorithm for a member's permissions in a channel."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# Only the bits a bot meets here, from Discord's documentation.
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
# What @everyone may do in a new guild of the fake, and what the bot's own role adds.
MEMBER_DEFAULT = sum(
    PERMISSIONS[n]
    for n in (
        "view_channel",
        "send_messages",
        "embed_links",
        "attach_files",
        "read_message_history",
        "add_reactions",
        "use_external_emojis",
        "use_application_commands",
        "change_nickname",
        "send_messages_in_threads",
        "create_instant_invite",
    )
)
BOT_ROLE_DEFAULT = MEMBER_DEFAULT | PERMISSIONS["manage_messages"] | PERMISSIONS["manage_webhooks"]


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
