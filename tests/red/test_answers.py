"""Every answer within Discord's limits, member text inert in it; the one permission list."""

from __future__ import annotations

import re

import discord
import pytest

from ir2dis_cog.core.driver_input import DriverInputError
from ir2dis_cog.red.answers import MAX_CONTENT, SHOWN_TEXT, fit, sentence, shown
from ir2dis_cog.red.permissions import BOT_PERMISSIONS, bot_permissions, missing_permissions

HOSTILE = (
    "**bold** __under__ ~~strike~~ ||spoiler|| `code` [link](https://evil.example)",
    "# heading",
    "-# subtext",
    "> quote",
    "@everyone @here",
    "<@123> <@!123> <@&123> <#123> </iracing track:123>",
    "<@123456789012345678> <@&123456789012345678>",
    "emoji 🏎️ and zero\u200bwidth\u2060joiner",
    "'; DROP TABLE guild; --",
    "line\nbreak\r\nand\ttab",
)

# What would be live in Discord: markdown not preceded by a backslash, a mention, a mass mention.
_LIVE = re.compile(r"(?<!\\)(\*|_|~|\||`|\[)|(?<!\\)<[@#/]|@(everyone|here)")


@pytest.mark.parametrize("text", HOSTILE)
def test_member_text_is_inert(text: str) -> None:
    out = shown(text)
    assert not _LIVE.search(out), out
    assert "\n" not in out and not out.startswith(("#", ">", "-"))
    assert len(out) <= SHOWN_TEXT


def test_long_member_text_is_clipped() -> None:
    out = shown("*" * 2000)
    assert len(out) <= SHOWN_TEXT and out.endswith("…") and not _LIVE.search(out)


def test_answers_fit_discord() -> None:
    assert fit("short") == "short"
    for text in ("x" * 2001, "line\n" * 900, "\\" * 3000, "a" * 1999 + "\\*"):
        out = fit(text)
        assert len(out) <= MAX_CONTENT and out.endswith("…"), len(out)
        assert not out.endswith("\\…")


def test_an_input_errors_sentence_escapes_what_the_member_typed() -> None:
    exc = DriverInputError("No tracked driver here matches '{}'.", "<@&123456789012345678> **x**")
    said = sentence(exc)
    assert said.startswith("No tracked driver here matches '") and not _LIVE.search(said), said


def test_one_permission_list_for_the_invite_and_the_channel_check() -> None:
    wanted = bot_permissions()
    names = {attr for attr, _, _ in BOT_PERMISSIONS}
    assert names == {"view_channel", "send_messages", "embed_links", "attach_files", "read_message_history"}
    # Exactly these bits (discord.py iterates View Channel under its old name, read_messages).
    assert wanted.value == sum(getattr(discord.Permissions, a).flag for a in names)
    # Discord's bits: View Channel, Send Messages, Embed Links, Attach Files, Read Message History.
    assert wanted.value == 0x400 | 0x800 | 0x4000 | 0x8000 | 0x10000
    # Every required one is checked; Attach Files only costs the picture.
    assert missing_permissions(discord.Permissions.none()) == [
        "View Channel",
        "Send Messages",
        "Embed Links",
        "Read Message History",
    ]
    assert missing_permissions(wanted) == []
