"""The cog-wide error handler answers each command family in its own words."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

from discord import app_commands
from redbot.core import commands

from ir2dis_cog.iracing.errors import MaintenanceError, RateLimitedError
from ir2dis_cog.iracing.ratelimit import InteractiveBudgetSpent
from ir2dis_cog.red.errors import UserFacingError, answer_for, iracing_failure


def ctx_of(root: str, sub: str = "x") -> Any:
    parent = SimpleNamespace(name=root, root_parent=None, qualified_name=root)
    command = SimpleNamespace(name=sub, root_parent=parent, qualified_name=f"{root} {sub}")
    return SimpleNamespace(command=command, clean_prefix="!")


def test_a_member_without_manage_server_and_a_non_owner_are_told_different_things() -> None:
    refused = commands.CheckFailure("no")
    assert answer_for(ctx_of("iracing", "track"), refused) == (
        "You need the Manage Server permission (or the bot's admin role) for this."
    )
    assert answer_for(ctx_of("iracingset", "pollinterval"), refused) == (
        "Only the bot owner can change ir2dis's settings."
    )
    assert answer_for(ctx_of("iracingset"), commands.NotOwner()) == "Only the bot owner can change ir2dis's settings."


def test_a_bad_argument_points_at_the_help_of_its_own_family() -> None:
    bad = commands.BadArgument("not a number")
    assert answer_for(ctx_of("iracingset", "pollinterval"), bad) == (
        "That value does not fit this setting. See `!help iracingset`."
    )
    assert answer_for(ctx_of("iracing", "settz"), bad) == "That input does not fit this command. Try `/iracing` help."


def test_a_sentence_raised_inside_a_slash_command_is_unwrapped_and_shown() -> None:
    inner = app_commands.CommandInvokeError(SimpleNamespace(name="track"), UserFacingError("No such driver."))  # type: ignore[arg-type]
    wrapped = commands.HybridCommandError(inner)
    assert answer_for(ctx_of("iracing", "track"), wrapped) == "No such driver."
    assert str(iracing_failure(MaintenanceError("down"))) == "iRacing is down for maintenance. Try again later."


def test_a_bug_is_logged_and_answered_without_a_traceback(caplog: Any) -> None:
    error = commands.CommandInvokeError(RuntimeError("boom at line 3"))
    answer = answer_for(ctx_of("iracing", "list"), error)
    assert answer == "Something went wrong on our side. The bot owner can find details in the log."
    assert "boom" not in answer and any(r.exc_info for r in caplog.records)


def test_what_is_not_ours_goes_to_reds_handler() -> None:
    assert answer_for(ctx_of("iracing"), commands.MaxConcurrencyReached(1, commands.BucketType.user)) is None


def test_a_throttled_member_hears_one_sentence_with_when_to_try_again() -> None:
    now = time.time()
    member = commands.CommandOnCooldown(commands.Cooldown(3, 60), 20.0, commands.BucketType.member)
    server = commands.CommandOnCooldown(commands.Cooldown(12, 60), 5.0, commands.BucketType.guild)
    answer = answer_for(ctx_of("iracing", "lastrace"), member)
    assert answer is not None and answer.startswith("You are asking a lot in a short time. Try again <t:")
    at = int(answer.split("<t:")[1].split(":")[0])
    assert now + 20 <= at <= now + 23
    assert (answer_for(ctx_of("iracing", "track"), server) or "").startswith("This server is asking iRacing a lot")
    spent = str(iracing_failure(InteractiveBudgetSpent(now + 30)))
    assert spent.startswith("Commands have used their share of the iRacing budget for now. Try again <t:")
    busy = str(iracing_failure(RateLimitedError(now + 10)))
    assert busy.startswith("iRacing is busy (rate limit reached). Try again <t:")
