"""The picture's one theme: its own dark panel, so it reads the same on Discord's dark and light
backgrounds (a light theme shows it as a dark card). Text colours keep at least 4.5:1 contrast
on the panels (WCAG AA); the accents are the bright tints that stay readable on dark grey."""

from __future__ import annotations

BACKGROUND = "#15171c"
PANEL = "#23262e"
PANEL_INNER = "#2d313b"
GRID = "#3a3f4b"
TEXT = "#f2f3f5"
MUTED = "#a9afbb"
GOOD = "#4ade80"
BAD = "#f87171"
WARN = "#fbbf24"

KIND_COLOURS = {"official": "#3b82f6", "hosted": "#a855f7", "league": "#f59e0b"}
KIND_LABELS = {"official": "OFFICIAL", "hosted": "HOSTED", "league": "LEAGUE"}

# iRacing's licence colours, as (chip, letter on it).
LICENCE_COLOURS = {
    "R": ("#e0403a", "#ffffff"),
    "D": ("#f97316", "#15171c"),
    "C": ("#facc15", "#15171c"),
    "B": ("#22c55e", "#15171c"),
    "A": ("#3b82f6", "#ffffff"),
    "Pro": ("#0b0c0f", "#ffffff"),
}

MEDALS = ("#f5c542", "#c9d1dc", "#d08a4b")

# One colour per tracked car, the same in its row's stripe and its chart line.
LINE_COLOURS = ("#38bdf8", "#f472b6", "#facc15", "#4ade80", "#fb923c", "#a78bfa")
LEADER_COLOUR = "#8b93a1"


def mix(colour: str, other: str, share: float) -> str:
    """``colour`` with ``share`` of ``other`` blended in (both ``#rrggbb``)."""
    a = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(other[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * share):02x}" for x, y in zip(a, b, strict=True))
