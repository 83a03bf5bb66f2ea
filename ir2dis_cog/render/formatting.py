"""How the picture writes numbers: pure, shared by the layout and its tests."""

from __future__ import annotations

from ir2dis_cog.core.cards import (
    MISSING,
    format_gain,
    format_gap,
    format_incidents,
    format_lap,
    format_laps,
    format_number,
    format_position,
    format_signed,
)
from ir2dis_cog.iracing.models import license_class, safety_rating

# The picture writes positions, changes and laps as the embed does.
__all__ = [
    "MISSING",
    "gain",
    "gap",
    "incidents",
    "lap_time",
    "laps",
    "licence",
    "number",
    "position",
    "safety",
    "signed",
    "signed_rating",
]
position = format_position
number = format_number
incidents = format_incidents
laps = format_laps
signed = format_signed
lap_time = format_lap
gap = format_gap  # behind the (class) winner


def signed_rating(delta: float) -> str:
    """A safety-rating change: ``+0.07``, ``-0.12``, ``±0.00``."""
    if round(delta, 2) == 0:
        return "±0.00"
    return f"+{delta:.2f}" if delta > 0 else f"-{-delta:.2f}"


def gain(start: int | None, finish: int | None) -> tuple[str, int] | None:
    """Places gained as (text, sign): ``("▲3", 1)``, ``("▼2", -1)``, ``("±0", 0)``."""
    if start is None or finish is None:
        return None
    return format_gain(start, finish), (start > finish) - (start < finish)


def licence(level: int | None) -> str | None:
    return license_class(level)


def safety(sub_level: int | None) -> str:
    rating = safety_rating(sub_level)
    return f"{rating:.2f}" if rating is not None else MISSING
