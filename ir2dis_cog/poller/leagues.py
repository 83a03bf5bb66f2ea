"""Pure rules for followed leagues: which seasons to read, which sessions are new for whom.

- Current seasons: the league's active, visible seasons (``league/seasons`` lists active ones by
  default; a new season appears there by itself). Leagues often leave old seasons active (the
  recorded league had five), so after a first read of each, a season is read every cycle only when
  it is the newest or had a race with results in the last ``RECENT_SECONDS``; the others are read
  again when the season list is, every ``SEASONS_REFRESH_SECONDS``.
- A session is new for a server when it has results and a subsession id above the newest one
  that had results when the server followed (``after_subsession_id``): whatever finished later.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ir2dis_cog.iracing.leagues import LeagueSeason, LeagueSession
from ir2dis_cog.store import LeagueFollow

RECENT_SECONDS = 30 * 86_400
SEASONS_REFRESH_SECONDS = 3600
MAX_LEAGUES_PER_SERVER = 10  # each followed league costs a request or two every cycle


@dataclass(frozen=True)
class SeasonState:
    season_id: int
    last_result_at: float | None  # the launch of its newest session with results, when read


def current_seasons(
    seasons: Iterable[LeagueSeason], known: Mapping[int, SeasonState], now: float, *, refresh: bool
) -> list[int]:
    live = sorted((s.season_id for s in seasons if s.active and not s.hidden), reverse=True)
    if refresh or not live:
        return live
    chosen = []
    for i, sid in enumerate(live):
        state = known.get(sid)
        recent = state is not None and state.last_result_at is not None and now - state.last_result_at <= RECENT_SECONDS
        if i == 0 or state is None or recent:
            chosen.append(sid)
    return chosen


def last_result_at(sessions: Iterable[LeagueSession]) -> float | None:
    times = [s.launch_at.timestamp() for s in sessions if s.has_results and s.launch_at is not None]
    return max(times) if times else None


def newest_with_results(sessions: Iterable[LeagueSession]) -> int:
    return max((s.subsession_id for s in sessions if s.has_results and s.subsession_id), default=0)


def new_sessions(sessions: Iterable[LeagueSession], follows: Iterable[LeagueFollow]) -> dict[int, frozenset[int]]:
    """subsession id -> the servers (following the league) for which it is new."""
    fs = list(follows)
    out: dict[int, frozenset[int]] = {}
    for s in sessions:
        if not s.has_results or s.subsession_id is None:
            continue
        guilds = frozenset(f.guild_id for f in fs if s.subsession_id > f.after_subsession_id)
        if guilds:
            out[s.subsession_id] = guilds
    return out
