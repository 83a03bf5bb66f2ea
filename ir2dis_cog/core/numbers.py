"""Every number a member types, read by one rule: ASCII digits only, within the bounds of its use.

``str.isdigit`` accepts ``²``, ``①`` and full-width digits that ``int`` then refuses (or reads as
another number), so a member's typo became a traceback. Here a number is ``[0-9]+`` and nothing
else, checked against its bounds before ``int`` sees it; anything else is one sentence. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_DIGITS = re.compile(r"[0-9]+")
# More digits than any bound needs are refused before int() reads them (it refuses past 4,300).
_MAX_DIGITS = 20


class InputError(ValueError):
    """A sentence for the member. What the member typed is kept apart from the sentence (``quoted``),
    so that the edge that shows it escapes it for its medium (Discord's markdown and mentions)."""

    def __init__(self, template: str, *quoted: str) -> None:
        # A sentence without the member's text is used as written (braces and all).
        super().__init__(template.format(*quoted) if quoted else template)
        self.template = template
        self.quoted = quoted

    def render(self, show: Callable[[str], str]) -> str:
        """The sentence, each piece of the member's text passed through ``show``."""
        return self.template.format(*(show(q) for q in self.quoted)) if self.quoted else self.template


class NumberError(InputError):
    """Text that is not a whole number within the bounds of its use."""


@dataclass(frozen=True)
class Bounds:
    """Where a number is valid, and the one sentence that says so."""

    low: int
    high: int
    sentence: str


# iRacing's ids are positive 32-bit numbers.
MAX_ID = 2**31 - 1
CUST_ID = Bounds(1, MAX_ID, f"An iRacing customer id is a whole number from 1 to {MAX_ID}.")
LEAGUE_ID = Bounds(1, MAX_ID, f"A league id is a whole number from 1 to {MAX_ID}.")
SERIES_ID = Bounds(1, 999_999, "A series id is a whole number from 1 to 999999.")
WEEKDAY = Bounds(1, 7, "The day is Monday to Sunday, or 1 to 7 (Monday is 1).")
HOUR = Bounds(0, 23, "The hour is a whole number from 0 to 23.")


def looks_like_number(text: str) -> bool:
    """Whether ``text`` is meant as a number: ASCII digits, perhaps with a sign or ``#`` before them."""
    return bool(_DIGITS.fullmatch(text.strip().lstrip("+-#")))


def parse_number(text: str | int, bounds: Bounds) -> int:
    """``text`` as a whole number within ``bounds``; NumberError with the bounds' sentence otherwise.

    An ``int`` (a Discord integer option) is checked against the same bounds.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        raw = str(text).strip()
        if len(raw) > _MAX_DIGITS or not _DIGITS.fullmatch(raw):
            raise NumberError(bounds.sentence)
        value = int(raw)
    if not bounds.low <= value <= bounds.high:
        raise NumberError(bounds.sentence)
    return value
