"""How the picture writes numbers: pure, shared by the layout and its tests."""

from __future__ import annotations

from ir2dis_cog.iracing.models import license_class, safety_rating

MISSING = "—"


def position(value: int | None) -> str:
    return f"P{value}" if value is not None else MISSING


def signed(delta: int) -> str:
    return f"+{delta}" if delta > 0 else ("±0" if delta == 0 else f"-{-delta}")


def signed_rating(delta: float) -> str:
    """A safety-rating change: ``+0.07``, ``-0.12``, ``±0.00``."""
    if round(delta, 2) == 0:
        return "±0.00"
    return f"+{delta:.2f}" if delta > 0 else f"-{-delta:.2f}"


def gain(start: int | None, finish: int | None) -> tuple[str, int] | None:
    """Places gained as (text, sign): ``("▲3", 1)``, ``("▼2", -1)``, ``("±0", 0)``."""
    if start is None or finish is None:
        return None
    gained = start - finish
    if gained > 0:
        return f"▲{gained}", 1
    if gained < 0:
        return f"▼{-gained}", -1
    return "±0", 0


def lap_time(seconds: float | None) -> str:
    """``m:ss.fff`` (``h:mm:ss.fff`` past an hour); thousandths cut, not rounded, as the sim does."""
    if seconds is None or seconds <= 0:
        return MISSING
    millis = round(seconds * 10_000) // 10  # iRacing's unit is 1/10000 s
    minutes, ms = divmod(millis, 60_000)
    hours, minutes = divmod(minutes, 60)
    secs = f"{ms // 1000:02d}.{ms % 1000:03d}"
    return f"{hours}:{minutes:02d}:{secs}" if hours else f"{minutes}:{secs}"


def gap(seconds: float | None, laps_down: int) -> str:
    """Behind the class winner: ``+3.756s``, ``+1:02.345``, ``+2 laps``."""
    if laps_down > 0:
        return f"+{laps_down} lap" if laps_down == 1 else f"+{laps_down} laps"
    if seconds is None:
        return MISSING
    if seconds < 60:
        millis = round(seconds * 10_000) // 10
        return f"+{millis // 1000}.{millis % 1000:03d}s"
    return f"+{lap_time(seconds)}"


def licence(level: int | None) -> str | None:
    return license_class(level)


def safety(sub_level: int | None) -> str:
    rating = safety_rating(sub_level)
    return f"{rating:.2f}" if rating is not None else MISSING


def laps(count: int) -> str:
    return f"{count} lap" if count == 1 else f"{count} laps"
