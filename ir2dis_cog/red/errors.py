"""One error handler for the whole cog: every failure becomes one short sentence, in the words of
the command family it came from (/iracing for server admins and members, [p]iracingset for the
bot owner). No traceback ever reaches Discord; it goes to the log."""

from __future__ import annotations

import logging
import time

from discord import app_commands
from redbot.core import commands

from ir2dis_cog.core.numbers import InputError
from ir2dis_cog.iracing.errors import IRacingError, MaintenanceError, NotFoundError, RateLimitedError
from ir2dis_cog.iracing.ratelimit import InteractiveBudgetSpent
from ir2dis_cog.red.answers import sentence
from ir2dis_cog.red.throttle import cooldown_sentence

log = logging.getLogger("red.ir2dis.commands")

OWNER_GROUP = "iracingset"


class UserFacingError(Exception):
    """A short sentence for the user; never a traceback."""


def refused(exc: InputError) -> UserFacingError:
    """Bad input to a setting: its sentence, and that the setting is as it was."""
    return UserFacingError(f"{sentence(exc)} Nothing was changed.")


def _again(at: float) -> str:
    """When to try again, as Discord shows a time: "in 20 seconds" in the reader's own words."""
    return f"<t:{int(max(at, time.time())) + 1}:R>"


def iracing_failure(exc: IRacingError) -> UserFacingError:
    if isinstance(exc, MaintenanceError):
        return UserFacingError("iRacing is down for maintenance. Try again later.")
    if isinstance(exc, InteractiveBudgetSpent):
        return UserFacingError(
            f"Commands have used their share of the iRacing budget for now. Try again {_again(exc.reset_at)}."
        )
    if isinstance(exc, RateLimitedError):
        return UserFacingError(f"iRacing is busy (rate limit reached). Try again {_again(exc.reset_at)}.")
    if isinstance(exc, NotFoundError):
        return UserFacingError("iRacing has no such driver or race.")
    return UserFacingError("iRacing could not be reached just now. Try again later.")


# How a command's own exception reaches the error handler: wrapped once by a prefix call, twice by
# a slash call of a hybrid command (HybridCommandError around app_commands.CommandInvokeError).
_WRAPPERS = (commands.CommandInvokeError, commands.HybridCommandError, app_commands.CommandInvokeError)


def unwrap(error: BaseException) -> list[BaseException]:
    """`error` and the exceptions it wraps, outermost first; the last is what was raised."""
    chain = [error]
    while isinstance(chain[-1], _WRAPPERS):
        original = getattr(chain[-1], "original", None)
        if not isinstance(original, BaseException):
            break
        chain.append(original)
    return chain


def _family(ctx: commands.Context) -> str:
    command = ctx.command
    root = command.root_parent if command is not None and command.root_parent is not None else command
    return OWNER_GROUP if root is not None and root.name == OWNER_GROUP else "iracing"


def answer_for(ctx: commands.Context, error: BaseException) -> str | None:
    """The sentence for this failure, or None when Red's own handler should answer it."""
    chain = unwrap(error)
    cause = chain[-1]
    owner = _family(ctx) == OWNER_GROUP
    if isinstance(cause, UserFacingError):
        return str(cause)
    if isinstance(cause, InputError):
        return sentence(cause)
    if isinstance(cause, commands.CommandOnCooldown):
        return cooldown_sentence(cause, time.time())
    if isinstance(cause, commands.NoPrivateMessage | app_commands.NoPrivateMessage):
        return "This command works in a server, not in direct messages."
    if isinstance(cause, commands.NotOwner):
        return "Only the bot owner can change ir2dis's settings."
    if isinstance(cause, commands.CheckFailure | app_commands.CheckFailure):
        if owner:
            return "Only the bot owner can change ir2dis's settings."
        return "You need the Manage Server permission (or the bot's admin role) for this."
    if isinstance(cause, commands.BadArgument | commands.UserInputError | app_commands.TransformerError) and (
        not isinstance(cause, commands.MissingRequiredArgument)
    ):
        if owner:
            return f"That value does not fit this setting. See `{ctx.clean_prefix}help {OWNER_GROUP}`."
        return "That input does not fit this command. Try `/iracing` help."
    if any(isinstance(e, commands.CommandInvokeError | app_commands.CommandInvokeError) for e in chain):
        # The command itself raised: a bug or an outage, not the user's input.
        log.error("command %s failed", ctx.command.qualified_name if ctx.command else "?", exc_info=cause)
        return "Something went wrong on our side. The bot owner can find details in the log."
    return None
