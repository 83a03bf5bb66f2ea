"""League and hosted models: the recorded answers parse, and the rules the poller relies on hold."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ir2dis_cog.iracing.errors import ParseError
from ir2dis_cog.iracing.leagues import (
    parse_league,
    parse_league_directory,
    parse_league_seasons,
    parse_league_sessions,
)
from ir2dis_cog.iracing.models import parse_hosted, parse_subsession
from tests.samples import samples_dir

SAMPLES = samples_dir()


def _sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def test_contract_league_directory() -> None:
    rows = parse_league_directory(_sample("league_directory_search.json"))
    assert len(rows) == 5
    assert (rows[0].league_id, rows[0].league_name, rows[0].roster_count) == (1303, "#1 Open Wheel Racing League", 414)


def test_contract_league_get() -> None:
    league = parse_league(_sample("league_get.json"))
    assert (league.league_id, league.league_name) == (13561, "Battle Of The Leagues")
    assert league.readable and not league.hidden


def test_a_league_with_private_results_is_not_readable() -> None:
    body = {**_sample("league_get.json"), "private_results": True}
    assert not parse_league(body).readable


def test_contract_league_seasons() -> None:
    seasons = parse_league_seasons(_sample("league_seasons.json"))
    assert [s.season_id for s in seasons] == [114141, 118952, 122233, 125296, 128114]
    assert all(s.active and not s.hidden and s.league_id == 637 for s in seasons)


@pytest.mark.parametrize("name", ["league_season_sessions.json", "league_season_sessions_results_only.json"])
def test_contract_league_season_sessions(name: str) -> None:
    sessions = parse_league_sessions(_sample(name))
    with_results = [s for s in sessions if s.has_results]
    assert [s.subsession_id for s in with_results] == [82074245, 82262357]
    assert all(s.league_id == 637 and s.season_id == 128114 for s in sessions)
    assert (
        with_results[0].launch_at is not None and with_results[0].launch_at.isoformat() == "2025-12-21T19:30:00+00:00"
    )
    # A session not run yet has no subsession id at all.
    assert all(s.subsession_id is None for s in sessions if not s.has_results)


def test_contract_search_hosted_tells_races_and_leagues() -> None:
    rows = parse_hosted(_sample("result_search_hosted.json"))
    no_race = [r for r in rows if not r.has_race]
    assert (len(rows), len(no_race)) == (232, 147)  # the kept copy: 200 rows and every league row
    league = [r for r in rows if r.league_id is not None]
    assert league and all(r.league_name for r in league)
    first = rows[0]
    assert first.host_display_name == "Christopher Coy" and first.league_id is None and not first.has_race


def _league_result(**extra: Any) -> dict[str, Any]:
    body = _sample("result.json")
    return {**body, "official_session": False, **extra}


def test_a_league_result_says_what_it_is() -> None:
    sub = parse_subsession(
        _league_result(
            league_id=637,
            league_name="SFL League",
            league_season_id=128114,
            league_season_name="SFL - 2026 Season 1",
            session_name="Round 3",
            host={"cust_id": 1, "display_name": "Race Control"},
        )
    )
    assert sub.kind == "league"
    assert (sub.league_id, sub.league_name, sub.league_season_id) == (637, "SFL League", 128114)
    assert (sub.session_name, sub.host_name) == ("Round 3", "Race Control")


def test_an_unofficial_result_without_a_league_is_hosted() -> None:
    sub = parse_subsession(_league_result(league_id=0, session_name="Friday fun"))
    assert sub.kind == "hosted" and sub.league_id is None and sub.session_name == "Friday fun"
    assert parse_subsession(_sample("result.json")).kind == "official"


def test_a_malformed_league_answer_names_its_endpoint() -> None:
    broken = _sample("league_seasons.json")
    del broken["seasons"][1]["season_id"]
    with pytest.raises(ParseError, match=r"league/seasons.*season_id"):
        parse_league_seasons(broken)
    with pytest.raises(ParseError, match=r"league/season_sessions"):
        parse_league_sessions({"sessions": []})
