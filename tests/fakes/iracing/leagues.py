"""The fake's leagues: their seasons and the races run in them, and the four league endpoints.

Shapes follow the recorded answers (league_directory_search.json, league_get.json,
league_seasons.json, league_season_sessions_results_only.json), trimmed to the keys a client reads
and a few beside them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .records import iso


@dataclass
class FakeSeason:
    season_id: int
    name: str
    active: bool = True
    hidden: bool = False
    sessions: list[int] = field(default_factory=list)  # subsession ids, in launch order


@dataclass
class FakeLeague:
    league_id: int
    name: str
    owner_id: int = 1
    private_results: bool = False
    seasons: dict[int, FakeSeason] = field(default_factory=dict)

    def season(self, season_id: int | None) -> FakeSeason:
        """The season asked for, or the newest active one."""
        if season_id is not None:
            return self.seasons[season_id]
        return max((s for s in self.seasons.values() if s.active), key=lambda s: s.season_id)


class LeagueNotFound(Exception):
    """An unknown league or season: answered 404, as an unknown subsession is."""


def directory_body(term: str, leagues: Iterable[FakeLeague]) -> dict[str, Any]:
    needle = term.strip().casefold()
    rows = [
        {
            "league_id": lg.league_id,
            "owner_id": lg.owner_id,
            "league_name": lg.name,
            "created": "2024-01-01T00:00:00Z",
            "about": "",
            "url": "None",
            "roster_count": 40,
            "recruiting": True,
            "is_admin": False,
            "is_member": False,
            "pending_application": False,
            "pending_invitation": False,
            "owner": {"cust_id": lg.owner_id, "display_name": f"Owner {lg.owner_id}"},
        }
        for lg in sorted(leagues, key=lambda x: x.league_id)
        if needle and needle in lg.name.casefold()
    ]
    return {"results_page": rows, "success": True, "lowerbound": 1, "upperbound": len(rows), "row_count": len(rows)}


def league_body(league: FakeLeague) -> dict[str, Any]:
    return {
        "league_id": league.league_id,
        "owner_id": league.owner_id,
        "league_name": league.name,
        "created": "2024-01-01T00:00:00Z",
        "hidden": False,
        "about": "",
        "recruiting": True,
        "private_wall": False,
        "private_roster": False,
        "private_schedule": False,
        "private_results": league.private_results,
        "is_owner": False,
        "is_admin": False,
        "roster_count": 40,
        "owner": {"cust_id": league.owner_id, "display_name": f"Owner {league.owner_id}"},
        "roster": [],
    }


def seasons_body(league: FakeLeague) -> dict[str, Any]:
    rows = [
        {
            "league_id": league.league_id,
            "season_id": s.season_id,
            "points_system_id": 1,
            "season_name": s.name,
            "active": s.active,
            "hidden": s.hidden,
            "num_drops": 0,
        }
        for s in league.seasons.values()
        if s.active  # as iRacing answers without retired=true
    ]
    return {"subscribed": False, "seasons": rows, "success": True, "retired": False, "league_id": league.league_id}


def sessions_body(
    league: FakeLeague, season: FakeSeason, rows: Mapping[int, Mapping[str, Any]], results_only: bool
) -> dict[str, Any]:
    """``rows`` maps the season's published subsessions to their search_hosted row."""
    sessions = []
    for sid in season.sessions:
        row = rows.get(sid)
        if row is None and results_only:
            continue
        sessions.append(
            {
                "cars": row.get("cars", []) if row else [],
                "has_results": row is not None,
                "launch_at": row["start_time"] if row else iso(0),
                "league_id": league.league_id,
                "league_season_id": season.season_id,
                "session_id": sid * 3,
                "status": 4 if row else 1,
                "subsession_id": sid,
                "track": row["track"] if row else {},
                "winner_name": row.get("winner_name") if row else None,
            }
        )
    return {
        "success": True,
        "subscribed": False,
        "league_id": league.league_id,
        "season_id": season.season_id,
        "sessions": sessions,
    }


def league_answer(world: Any, path: str, query: Mapping[str, str], now: float) -> dict[str, Any] | None:
    """The body of one league endpoint (None: not a league endpoint the fake knows)."""
    leagues: dict[int, FakeLeague] = world.leagues
    if path == "league/directory":
        return directory_body(query.get("search", ""), leagues.values())
    if path not in ("league/get", "league/seasons", "league/season_sessions"):
        return None
    league = leagues.get(int(query["league_id"]))
    if league is None:
        raise LeagueNotFound()
    if path == "league/get":
        return league_body(league)
    if league.private_results:
        raise LeagueNotFound()  # assumed: what a league's hidden results look like from outside it
    if path == "league/seasons":
        return seasons_body(league)
    season = league.seasons.get(int(query["season_id"]))
    if season is None:
        raise LeagueNotFound()
    results_only = query.get("results_only", "false").lower() == "true"
    return sessions_body(league, season, world.league_rows(season, now), results_only)
