"""The kinds of race a server gets for its tracked drivers: official, hosted, league. Pure.

A server chooses any of them (all three by default); the leagues it follows are posted whatever
it chose. Stored as a comma list in ``guild.race_kinds`` (NULL: all). The filters of issue 15 use
``wanted`` too, so there is one rule for it.
"""

from __future__ import annotations

from collections.abc import Iterable

KINDS = ("official", "hosted", "league")
ALL_KINDS = frozenset(KINDS)


class KindsError(ValueError):
    """Text that names no kind of race, or one we do not know."""


def wanted(kind: str, kinds: frozenset[str] | None) -> bool:
    """Whether a server that chose ``kinds`` (None: never chose, so all) gets a race of ``kind``."""
    return kind in (ALL_KINDS if kinds is None else kinds)


def parse_kinds(text: str) -> frozenset[str]:
    """``"official, league"`` or ``"all"`` -> the kinds; raises KindsError with the unknown words."""
    words = [w for w in text.replace(",", " ").replace("+", " ").casefold().split() if w]
    if words == ["all"]:
        return ALL_KINDS
    unknown = [w for w in words if w not in ALL_KINDS]
    if unknown or not words:
        raise KindsError(", ".join(unknown) or "nothing")
    return frozenset(words)


def encode_kinds(kinds: Iterable[str]) -> str | None:
    """The stored form: None for all three (the default), else the kinds in their fixed order."""
    chosen = frozenset(kinds)
    if not chosen <= ALL_KINDS or not chosen:
        raise KindsError(", ".join(sorted(chosen - ALL_KINDS)) or "nothing")
    return None if chosen == ALL_KINDS else ",".join(k for k in KINDS if k in chosen)


def decode_kinds(stored: str | None) -> frozenset[str] | None:
    """What ``encode_kinds`` wrote; unknown words (a newer version's) are left out, never fatal."""
    if stored is None:
        return None
    chosen = frozenset(w for w in stored.split(",") if w in ALL_KINDS)
    return chosen or None


def describe(kinds: frozenset[str] | None) -> str:
    chosen = ALL_KINDS if kinds is None else kinds
    return ", ".join(k for k in KINDS if k in chosen)
