"""`/iracing status` as plain text: pure, from plain data."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StatusView:
    last_cycle_at: float | None
    drivers_due: int
    auth: str
    budget_remaining: int | None
    budget_limit: int | None
    budget_reset_at: float | None
    pending_posts: int
    last_failure: str | None
    missing_credentials: tuple[str, ...] = ()
    not_posted: int = 0  # races given up on in the last week (too old when found, or never postable)


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 90:
        return f"{seconds} s ago"
    if seconds < 90 * 60:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min ago"


def format_status(view: StatusView, *, now: float) -> str:
    lines = []
    if view.missing_credentials:
        lines.append(
            "**iRacing login not set.** The bot owner runs "
            "`[p]set api iracing client_id,... client_secret,... username,... password,...` "
            f"(missing: {', '.join(view.missing_credentials)})."
        )
    lines.append(f"Last poll cycle: {_ago(now - view.last_cycle_at) if view.last_cycle_at else 'none yet'}")
    lines.append(f"Drivers due now: {view.drivers_due}")
    lines.append(f"iRacing login: {view.auth}")
    if view.budget_remaining is not None and view.budget_limit is not None:
        reset = f", resets <t:{int(view.budget_reset_at)}:R>" if view.budget_reset_at else ""
        lines.append(f"Rate-limit budget: {view.budget_remaining} of {view.budget_limit} left{reset}")
    else:
        lines.append("Rate-limit budget: not known yet")
    lines.append(f"Posts pending for this server: {view.pending_posts}")
    if view.not_posted:
        lines.append(f"Races not posted in the last 7 days: {view.not_posted}")
    if view.last_failure:
        lines.append(f"Last post failure: {view.last_failure}")
    return "\n".join(lines)
