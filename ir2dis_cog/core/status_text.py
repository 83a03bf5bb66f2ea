"""`/iracing status` as plain text: pure, from plain data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class LiveWatchView:
    """The live watcher as ``/iracing status`` and ``/health`` show it."""

    state: str  # "off", "healthy" or "degraded"
    reason: str | None = None
    last_list_at: float | None = None
    races_live: int = 0
    races_watched: int = 0
    misses_last_day: int = 0
    caught_up_last_day: int = 0  # races its catch-up found after a start or a degraded spell
    catching_up: bool = False  # a catch-up's searches are still running


@dataclass(frozen=True)
class AccountLine:
    """One iRacing account: its login and who spent its last window (running big)."""

    number: int
    auth: str
    by_lane: tuple[tuple[str, int], ...]
    limit: int | None = None
    set_aside: bool = False


@dataclass(frozen=True)
class ProcessLine:
    """One bot process sharing the work on this database."""

    name: str
    this_one: bool
    drivers: int
    beat_ago: float
    watcher: str | None = None  # its live watcher's state, when it runs it


@dataclass(frozen=True)
class WorkLines:
    processes: tuple[ProcessLine, ...] = ()
    split: bool = True
    tracked: int = 0


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
    live: LiveWatchView | None = None
    # Requests of the last rate-limit window by who spent them (poller, watcher, interactive).
    requests_by_lane: tuple[tuple[str, int], ...] = ()
    interactive_cap: int | None = None
    interactive_share: float | None = None
    accounts: tuple[AccountLine, ...] = ()  # shown when there is more than one
    work: WorkLines | None = None  # shown when more than one process uses the database
    pending_all: int | None = None  # posts waiting in every server (shown when more than here)
    races_owed: int = 0  # races found whose results iRacing has not given yet (asked again)
    # Races given up in the last 7 days: (subsession id, why in words), newest first.
    given_up: tuple[tuple[int, str], ...] = ()


SHOWN_GIVEN_UP = 5  # races named in the status line; the rest are counted


def store_outage_text(since: float | None, *, now: float) -> str:
    """``/iracing status`` while the database does not answer: one plain sentence."""
    if since is None:
        when = "right now"
    else:
        at = datetime.fromtimestamp(since, UTC)
        when = f"since {at:%H:%M} UTC ({_ago(now - since)})"
    return f"The database is unreachable {when}; race results wait and will be posted once it answers again."


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 90:
        return f"{seconds} s ago"
    if seconds < 90 * 60:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min ago"


_LANE_NAMES = {"poller": "poller", "watcher": "live watcher", "interactive": "commands"}


def _spent_by(view: StatusView) -> str:
    parts = []
    for lane, count in view.requests_by_lane:
        part = f"{_LANE_NAMES.get(lane, lane)} {count}"
        if lane == "interactive" and view.interactive_cap is not None:
            part += f" of {view.interactive_cap}"
            if view.interactive_share is not None:
                part += f" ({view.interactive_share:.0%} share)"
        parts.append(part)
    return "Requests in the last minute: " + ", ".join(parts)


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
    if view.requests_by_lane:
        lines.append(_spent_by(view))
    if len(view.accounts) > 1:
        lines.extend(account_lines(view.accounts))
    if view.work is not None and len(view.work.processes) > 1:
        lines.extend(work_lines(view.work))
    if view.live is not None:
        lines.append(live_line(view.live, now=now))
    pending = f"Posts pending for this server: {view.pending_posts}"
    if view.pending_all is not None and view.pending_all > view.pending_posts:
        pending += f" ({view.pending_all} in all servers)"
    lines.append(pending)
    if view.races_owed:
        lines.append(f"Races found and waiting for iRacing's results (asked again): {view.races_owed}")
    if view.given_up:
        lines.append(given_up_line(view.given_up))
    if view.not_posted:
        lines.append(f"Races not posted in the last 7 days: {view.not_posted}")
    if view.last_failure:
        lines.append(f"Last post failure: {view.last_failure}")
    return "\n".join(lines)


def given_up_line(given_up: tuple[tuple[int, str], ...]) -> str:
    """Races found but never posted because iRacing could not give them, last 7 days."""
    named = ", ".join(f"{sid} ({why})" for sid, why in given_up[:SHOWN_GIVEN_UP])
    more = len(given_up) - SHOWN_GIVEN_UP
    rest = f" and {more} more" if more > 0 else ""
    return f"Races iRacing could not give us in the last 7 days: {len(given_up)}: {named}{rest}"


def live_line(live: LiveWatchView, *, now: float) -> str:
    """One line on the live watcher: its state (and why), its last list, what it watches, its misses."""
    if live.state == "off":
        return "Live watcher: off (LIVE_WATCH); every driver is polled"
    state = "healthy" if live.state == "healthy" else f"degraded ({live.reason}); every driver is polled as usual"
    listed = _ago(now - live.last_list_at) if live.last_list_at else "none yet"
    line = (
        f"Live watcher: {state}; last live list {listed}, {live.races_live} races live, "
        f"{live.races_watched} watched now, {live.misses_last_day} missed in the last day"
    )
    if live.catching_up:
        line += "; catching up on races that ended while it was not watching"
    if live.caught_up_last_day:
        line += f"; {live.caught_up_last_day} found by its catch-up in the last day"
    return line


def account_lines(accounts: tuple[AccountLine, ...]) -> list[str]:
    """Per account: its login and the last minute's requests by poller, watcher and commands."""
    lines = [f"iRacing accounts: {len(accounts)}"]
    for a in accounts:
        spent = ", ".join(f"{_LANE_NAMES.get(lane, lane)} {n}" for lane, n in a.by_lane)
        of = f" of {a.limit}" if a.limit is not None else ""
        aside = "; set aside, its work goes to the others" if a.set_aside else ""
        lines.append(f"- account {a.number}: {a.auth}{aside}; last minute{of}: {spent or 'nothing'}")
    return lines


def work_lines(work: WorkLines) -> list[str]:
    """Which processes share the work, and how much each polls."""
    if not work.split:
        return [
            f"**{len(work.processes)} processes use this SQLite database.** SQLite is for one process: "
            "each polls every driver (posts stay once). Use PostgreSQL or MariaDB to share the work."
        ]
    lines = [f"Processes sharing the work: {len(work.processes)} ({work.tracked} drivers tracked)"]
    for p in work.processes:
        me = " (this one)" if p.this_one else ""
        watcher = f", runs the live watcher ({p.watcher})" if p.watcher else ""
        lines.append(f"- {p.name}{me}: {p.drivers} drivers, last heartbeat {_ago(p.beat_ago)}{watcher}")
    return lines
