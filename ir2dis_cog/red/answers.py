"""What every answer of the cog goes through: member text made inert, the whole cut to Discord's size.

One rule for all commands: text a member typed (or iRacing sent) is shown through ``shown`` (markdown
and every mention form escaped, clipped), and every answer through ``fit`` (at most 2,000
characters, Discord's limit for a message's content).
"""

from __future__ import annotations

from ir2dis_cog.core.numbers import InputError
from ir2dis_cog.red.embeds import ELLIPSIS, safe_text

MAX_CONTENT = 2000  # Discord refuses a message whose content is longer
# How much of one piece of outside text an answer shows: a name, a league, what a member typed.
SHOWN_TEXT = 100


def shown(raw: str, limit: int = SHOWN_TEXT) -> str:
    """Outside text as an answer shows it: one line, markdown and mentions escaped, clipped."""
    return safe_text(raw, limit)


def fit(text: str, limit: int = MAX_CONTENT) -> str:
    """An answer cut to Discord's limit, at a line break when one is near the end."""
    if len(text) <= limit:
        return text
    head = text[: limit - len(ELLIPSIS)]
    # Never end on a lone backslash: it would escape the ellipsis, not what it was written for.
    line = head.rfind("\n")
    if line > limit // 2:
        head = head[:line]
    return head.rstrip("\\") + ELLIPSIS


def sentence(exc: InputError) -> str:
    """An input error's sentence with the member's text in it made inert."""
    return exc.render(shown)
