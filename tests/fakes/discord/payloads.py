"""Discord's JSON objects as the fake sends them: users, roles, channels, members, guilds, READY, the application.

Pure builders: the state passes in what it knows and stores or sends what comes back. Fields discord.py
reads without a default must be present, hence the many nulls and zeros.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from .world import Guild

JOINED_AGO_S = 86_400  # everybody joined a day ago


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def user(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "discriminator": "0",
        "global_name": name,
        "avatar": None,
        "bot": bot,
        "system": False,
        "public_flags": 0,
        "flags": 0,
    }


def role(role_id: int, name: str, perms: int, position: int) -> dict[str, Any]:
    return {
        "id": str(role_id),
        "name": name,
        "color": 0,
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": position,
        "permissions": str(perms),
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def text_channel(channel_id: int, guild_id: int, name: str, position: int) -> dict[str, Any]:
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(guild_id),
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "flags": 0,
    }


def dm_channel(channel_id: int, recipient: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(channel_id),
        "type": 1,
        "last_message_id": None,
        "flags": 0,
        "recipients": [recipient],
        "guild_id": None,
    }


def member(member_user: dict[str, Any], role_ids: Iterable[int]) -> dict[str, Any]:
    return {
        "user": member_user,
        "nick": None,
        "avatar": None,
        "roles": [str(r) for r in role_ids],
        "joined_at": iso(time.time() - JOINED_AGO_S),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "communication_disabled_until": None,
    }


def guild(g: Guild) -> dict[str, Any]:
    return {
        "id": str(g.id),
        "name": g.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "owner_id": str(g.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": list(g.roles.values()),
        "emojis": [],
        "features": [],
        "mfa_level": 0,
        "application_id": None,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "max_members": 500_000,
        "vanity_url_code": None,
        "description": None,
        "banner": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": None,
        "nsfw_level": 0,
        "stickers": [],
        "premium_progress_bar_enabled": False,
        "safety_alerts_channel_id": None,
    }


def guild_create(g: Guild, members: list[dict[str, Any]], channels: list[dict[str, Any]]) -> dict[str, Any]:
    # member_count equal to the members sent: discord.py then asks for no chunking.
    return {
        **guild(g),
        "joined_at": iso(time.time() - JOINED_AGO_S),
        "large": False,
        "unavailable": False,
        "member_count": len(members),
        "members": members,
        "channels": channels,
        "threads": [],
        "presences": [],
        "voice_states": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
    }


def ready(
    bot_user: dict[str, Any], guild_ids: Iterable[int], application_id: int, session_id: str, resume_url: str
) -> dict[str, Any]:
    # `shard` and `application` are required by discord.py; guilds follow as GUILD_CREATE.
    return {
        "v": 10,
        "user": {**bot_user, "verified": True, "mfa_enabled": False},
        "guilds": [{"id": str(gid), "unavailable": True} for gid in guild_ids],
        "session_id": session_id,
        "resume_gateway_url": resume_url,
        "shard": [0, 1],
        "application": {"id": str(application_id), "flags": 0},
        "private_channels": [],
        "relationships": [],
        "user_settings": {},
        "presences": [],
        "geo_ordered_rtc_regions": [],
        "guild_join_requests": [],
        "session_type": "normal",
    }


def application(application_id: int, bot_user: dict[str, Any], owner: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(application_id),
        "name": bot_user["username"],
        "icon": None,
        "description": "",
        "summary": "",
        "rpc_origins": [],
        "bot_public": True,
        "bot_require_code_grant": False,
        "owner": owner,
        "team": None,
        "verify_key": "0" * 64,
        "flags": 0,
        "tags": [],
        "bot": bot_user,
        "redirect_uris": [],
        "interactions_endpoint_url": None,
    }
