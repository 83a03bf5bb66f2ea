"""Leagues as iRacing describes them: the directory, one league, its seasons, a season's sessions. Pure.

- ``league/directory?search=``: ``{results_page: [{league_id, league_name, roster_count, owner,
  ...}], row_count, lowerbound, upperbound, success}``;
- ``league/get?league_id=``: ``{league_id, league_name, hidden, private_results, private_schedule,
  roster_count, owner, roster, ...}`` (an unknown id: reported as 404 or an empty body, both
  handled by the caller);
- ``league/seasons?league_id=``: ``{seasons: [{season_id, season_name, active, hidden, ...}],
  league_id, retired, success}``: active seasons unless ``retired=true`` is asked;
- ``league/season_sessions?league_id=&season_id=[&results_only=true]``: ``{sessions: [{subsession_id,
  has_results, launch_at, status, track, winner_name, ...}], league_id, season_id, success}``.
  A session not run yet has no ``subsession_id`` (seen in the recorded answer).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .models import _bool, _get, _int, _list, _obj, _opt_int, _opt_str, _parse, _str, _time

LEAGUE_DIRECTORY = "league/directory"
LEAGUE_GET = "league/get"
LEAGUE_SEASONS = "league/seasons"
LEAGUE_SEASON_SESSIONS = "league/season_sessions"


@dataclass(frozen=True, slots=True)
class LeagueSummary:
    """A row of the directory: enough to offer the league by name."""

    league_id: int
    league_name: str
    roster_count: int | None


@dataclass(frozen=True, slots=True)
class League:
    league_id: int
    league_name: str
    hidden: bool
    private_results: bool
    private_schedule: bool
    roster_count: int | None

    @property
    def readable(self) -> bool:
        """Whether a bot outside the league can follow its results."""
        return not (self.private_results or self.private_schedule)


@dataclass(frozen=True, slots=True)
class LeagueSeason:
    league_id: int
    season_id: int
    season_name: str
    active: bool
    hidden: bool


@dataclass(frozen=True, slots=True)
class LeagueSession:
    """One session of a league season; ``subsession_id`` is None until it has been launched."""

    league_id: int
    season_id: int
    subsession_id: int | None
    has_results: bool
    launch_at: datetime | None
    status: int | None
    track_name: str
    winner_name: str | None


def parse_league_directory(payload: Any) -> list[LeagueSummary]:
    def build(p: Any) -> list[LeagueSummary]:
        rows = _list(_get(_obj(p, "body"), "results_page", "body"), "body.results_page")
        out = []
        for i, raw in enumerate(rows):
            where = f"results_page[{i}]"
            r = _obj(raw, where)
            out.append(
                LeagueSummary(
                    league_id=_int(r, "league_id", where),
                    league_name=_str(r, "league_name", where).strip(),
                    roster_count=_opt_int(r, "roster_count", where),
                )
            )
        return out

    return _parse(LEAGUE_DIRECTORY, payload, build)


def parse_league(payload: Any) -> League:
    def build(p: Any) -> League:
        b = _obj(p, "body")
        return League(
            league_id=_int(b, "league_id", "body"),
            league_name=_str(b, "league_name", "body").strip(),
            hidden=_bool(b, "hidden", "body"),
            private_results=_bool(b, "private_results", "body"),
            private_schedule=_bool(b, "private_schedule", "body"),
            roster_count=_opt_int(b, "roster_count", "body"),
        )

    return _parse(LEAGUE_GET, payload, build)


def parse_league_seasons(payload: Any) -> list[LeagueSeason]:
    def build(p: Any) -> list[LeagueSeason]:
        b = _obj(p, "body")
        rows = _list(_get(b, "seasons", "body"), "body.seasons")
        out = []
        for i, raw in enumerate(rows):
            where = f"seasons[{i}]"
            s = _obj(raw, where)
            out.append(
                LeagueSeason(
                    league_id=_int(s, "league_id", where),
                    season_id=_int(s, "season_id", where),
                    season_name=_str(s, "season_name", where).strip(),
                    active=_bool(s, "active", where),
                    hidden=_bool(s, "hidden", where),
                )
            )
        return out

    return _parse(LEAGUE_SEASONS, payload, build)


def parse_league_sessions(payload: Any) -> list[LeagueSession]:
    def build(p: Any) -> list[LeagueSession]:
        b = _obj(p, "body")
        league_id = _int(b, "league_id", "body")
        season_id = _int(b, "season_id", "body")
        rows = _list(_get(b, "sessions", "body"), "body.sessions")
        out = []
        for i, raw in enumerate(rows):
            where = f"sessions[{i}]"
            s = _obj(raw, where)
            track = _obj(s.get("track") or {}, f"{where}.track")
            sid = _opt_int(s, "subsession_id", where)
            out.append(
                LeagueSession(
                    league_id=league_id,
                    season_id=season_id,
                    subsession_id=sid if sid is not None and sid > 0 else None,
                    has_results=_bool(s, "has_results", where),
                    launch_at=_time(s, "launch_at", where) if s.get("launch_at") else None,
                    status=_opt_int(s, "status", where),
                    track_name=(_opt_str(track, "track_name", f"{where}.track") or "").strip(),
                    winner_name=_opt_str(s, "winner_name", where),
                )
            )
        return out

    return _parse(LEAGUE_SEASON_SESSIONS, payload, build)
