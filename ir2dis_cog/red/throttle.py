"""Cooldowns on the commands that ask iRacing: per member and per server, with discord.py's tools.

The member's cooldown is discord.py's own decorator; a command has room for one, so the server's
is a before-invoke hook over a ``CooldownMapping`` of its own (it runs after the member's, so a
member already throttled does not spend the server's allowance). Both raise
``CommandOnCooldown``, which the cog's error handler answers with one private sentence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from redbot.core import commands

F = TypeVar("F", bound=Callable[..., Any])

# (uses, seconds). A lastrace costs up to four requests (lookup, races, result, lap chart), so a
# server's allowance is about the members' share of a minute (47 of 240 at the defaults).
LASTRACE_PER_MEMBER = (3, 60.0)
TRACK_PER_MEMBER = (5, 60.0)
IRACING_PER_SERVER = (12, 60.0)


def per_member(rate: int, per: float) -> Callable[[F], F]:
    return commands.cooldown(rate, per, commands.BucketType.member)


def per_server(rate: int, per: float) -> Callable[[F], F]:
    """A server-wide cooldown on one command (a before-invoke hook: the command's only one)."""
    mapping: commands.CooldownMapping[Any] = commands.CooldownMapping.from_cooldown(
        rate, per, commands.BucketType.guild
    )

    async def hook(cog: Any, ctx: commands.Context) -> None:
        # The message's time, as discord.py's own cooldowns take it.
        current = (ctx.message.edited_at or ctx.message.created_at).timestamp()
        bucket = mapping.get_bucket(ctx.message, current)
        retry_after = bucket.update_rate_limit(current) if bucket is not None else None
        if bucket is not None and retry_after:
            raise commands.CommandOnCooldown(bucket, retry_after, commands.BucketType.guild)

    decorate: Callable[[F], F] = commands.before_invoke(hook)
    return decorate


def cooldown_sentence(error: commands.CommandOnCooldown, now: float) -> str:
    """One short sentence: who is throttled and when to try again (a Discord relative time)."""
    again = f"<t:{int(now + error.retry_after) + 1}:R>"
    if error.type is commands.BucketType.guild:
        return f"This server is asking iRacing a lot right now. Try again {again}."
    return f"You are asking a lot in a short time. Try again {again}."
