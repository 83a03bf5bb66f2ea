"""What the bot needs in a channel it posts in: one list, for the invite link and every channel check."""

from __future__ import annotations

import discord

# (discord.Permissions attribute, the name Discord's client shows, whether posting stops without it).
BOT_PERMISSIONS: tuple[tuple[str, str, bool], ...] = (
    ("view_channel", "View Channel", True),
    ("send_messages", "Send Messages", True),
    ("embed_links", "Embed Links", True),
    # To find a card a crash kept us from recording, instead of posting it twice.
    ("read_message_history", "Read Message History", True),
    # The result's picture: without it the embed is posted alone.
    ("attach_files", "Attach Files", False),
)


def missing_permissions(permissions: discord.Permissions) -> list[str]:
    """The permissions a results channel cannot do without that ``permissions`` lacks."""
    return [label for attr, label, needed in BOT_PERMISSIONS if needed and not getattr(permissions, attr)]


def bot_permissions() -> discord.Permissions:
    """Every permission of the list, as the invite link asks for them (Red adds the scopes)."""
    return discord.Permissions(**{attr: True for attr, _, _ in BOT_PERMISSIONS})
