"""The engine's publisher, made of discord.py: send a card, and find one already sent."""

from __future__ import annotations

import hashlib
import io
import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from ir2dis_cog.core.cards import RaceCard, card_marker
from ir2dis_cog.core.routing import Mentions
from ir2dis_cog.poller.ports import ChannelUnavailableError
from ir2dis_cog.red.embeds import card_to_embed, image_filename
from ir2dis_cog.red.permissions import missing_permissions

if TYPE_CHECKING:
    from redbot.core.bot import Red

log = logging.getLogger("red.ir2dis.publisher")

# How far back to look for a card that a crash kept us from recording.
HISTORY_LIMIT = 100


def result_message(card: RaceCard, image: bytes | None) -> dict[str, Any]:
    """``send``'s arguments for a result: the embed, and the picture attached to it when there is one."""
    if image is None:
        return {"embed": card_to_embed(card)}
    picture = discord.File(io.BytesIO(image), filename=image_filename(card.subsession_id))
    return {"embed": card_to_embed(card, with_image=True), "file": picture}


def allowed_mentions(mentions: Mentions | None) -> discord.AllowedMentions:
    """Exactly the users and roles of ``mentions`` (none when there are none): never everyone, never
    a reply, never a name that happens to look like a mention."""
    if not mentions:
        return discord.AllowedMentions.none()
    return discord.AllowedMentions(
        everyone=False,
        users=[discord.Object(u) for u in mentions.users],
        roles=[discord.Object(r) for r in mentions.roles],
        replied_user=False,
    )


def card_nonce(channel_id: int, subsession_id: int) -> str:
    """The same for every send of one card to one channel (at most 25 characters, as Discord allows).

    discord.py retries a 5xx by itself, below the outbox; when Discord had made the message before
    answering 502, that retry would make a second card. discord.py sends a nonce with
    ``enforce_nonce``, so Discord answers such a retry with the first message instead.
    """
    return hashlib.sha256(f"{channel_id}:{subsession_id}".encode()).hexdigest()[:25]


class DiscordPublisher:
    def __init__(self, bot: Red) -> None:
        self._bot = bot

    async def _channel(self, channel_id: int) -> discord.TextChannel | discord.Thread:
        channel = self._bot.get_channel(channel_id)
        if channel is None:
            try:
                channel = await self._bot.fetch_channel(channel_id)
            except discord.NotFound:
                raise ChannelUnavailableError("the results channel no longer exists") from None
            except discord.Forbidden:
                raise ChannelUnavailableError("the bot cannot see the results channel") from None
        if not isinstance(channel, discord.TextChannel | discord.Thread):
            raise ChannelUnavailableError("the results channel is not a text channel")
        me = channel.guild.me
        if me is not None:
            missing = missing_permissions(channel.permissions_for(me))
            if missing:
                raise ChannelUnavailableError("missing permission: " + ", ".join(missing))
        return channel

    async def publish(
        self, channel_id: int, card: RaceCard, image: bytes | None = None, mentions: Mentions | None = None
    ) -> int:
        channel = await self._channel(channel_id)
        me = channel.guild.me
        if image is not None and me is not None and not channel.permissions_for(me).attach_files:
            # The race matters more than its picture: post the embed, and say why the picture is missing.
            log.warning(
                "no Attach Files permission in the results channel; posting the result without its picture",
                extra={"channel_id": channel_id, "subsession_id": card.subsession_id},
            )
            image = None
        try:
            message = await channel.send(
                content=mentions.text() if mentions else None,
                **result_message(card, image),
                allowed_mentions=allowed_mentions(mentions),
                nonce=card_nonce(channel_id, card.subsession_id),
            )
        except discord.Forbidden:
            raise ChannelUnavailableError("Discord refused the message (missing permission)") from None
        except discord.NotFound:
            raise ChannelUnavailableError("the results channel no longer exists") from None
        return message.id

    async def publish_notice(
        self, channel_id: int, title: str, lines: list[str], marker: str, mentions: Mentions | None = None
    ) -> int:
        """A short embed of ours that is no result card (the weekly digest, "on track now"); it pings
        exactly ``mentions`` (ids in the content), nobody when there are none."""
        channel = await self._channel(channel_id)
        embed = discord.Embed(title=title[:256], description="\n".join(lines)[:4000], colour=discord.Colour.blurple())
        embed.set_footer(text=marker[:200])
        try:
            message = await channel.send(
                content=mentions.text() if mentions else None,
                embed=embed,
                allowed_mentions=allowed_mentions(mentions),
            )
        except discord.Forbidden:
            raise ChannelUnavailableError("Discord refused the message (missing permission)") from None
        except discord.NotFound:
            raise ChannelUnavailableError("the channel no longer exists") from None
        return message.id

    async def find_existing(self, channel_id: int, subsession_id: int) -> int | None:
        """The id of a card for this subsession that the bot already sent here, if any."""
        channel = await self._channel(channel_id)
        # Digits around the marker would mean another subsession id ("1234" is not "123").
        marker = re.compile(rf"(?<!\d){re.escape(card_marker(subsession_id))}(?!\d)")
        me = self._bot.user
        try:
            async for message in channel.history(limit=HISTORY_LIMIT):
                if me is not None and message.author.id != me.id:
                    continue
                for embed in message.embeds:
                    if embed.footer and embed.footer.text and marker.search(embed.footer.text):
                        return message.id
        except discord.Forbidden:
            raise ChannelUnavailableError("missing permission: Read Message History") from None
        return None
