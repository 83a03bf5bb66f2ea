"""Models: parsing rules on small payloads, and a contract against recorded iRacing answers."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ir2dis_cog.iracing.client import decode_json
from ir2dis_cog.iracing.errors import ParseError
from ir2dis_cog.iracing.leagues import parse_league, parse_league_directory, parse_league_seasons, parse_league_sessions
from ir2dis_cog.iracing.models import (
    DriverResult,
    TeamResult,
    license_class,
    parse_driver_lookup,
    parse_hosted,
    parse_members,
    parse_recent_races,
    parse_subsession,
    safety_rating,
)
from tests.samples import SHARED, samples_dir

SAMPLES = samples_dir()


def _row(cust_id: int, pos: int, **extra: Any) -> dict[str, Any]:
    return {
        "cust_id": cust_id,
        "display_name": f"D{cust_id}",
        "finish_position": pos,
        "finish_position_in_class": pos,
        "starting_position": pos,
        "starting_position_in_class": pos,
        "car_name": "Car",
        "car_class_id": 1,
        "car_class_name": "C",
        "car_class_short_name": "C",
        "laps_complete": 10,
        "laps_lead": 0,
        "incidents": 2,
        "best_lap_time": 1317601,
        "average_lap": 1319436,
        "oldi_rating": 1500,
        "newi_rating": 1510,
        "old_sub_level": 284,
        "new_sub_level": 299,
        "old_license_level": 18,
        "new_license_level": 18,
        "champ_points": 50,
        "reason_out": "Running",
        **extra,
    }


def _subsession(rows: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "subsession_id": 42,
        "series_name": "S",
        "series_short_name": "S",
        "season_name": "2026 S1",
        "start_time": "2026-01-01T20:00:00Z",
        "end_time": "2026-01-01T20:30:00Z",
        "official_session": True,
        "event_type_name": "Race",
        "event_strength_of_field": 2000,
        "track": {"track_name": "Spa ", "config_name": "GP"},
        "car_classes": [
            {"car_class_id": 1, "name": "C", "short_name": "C", "strength_of_field": 2000, "num_entries": len(rows)}
        ],
        "session_splits": [{"subsession_id": 41}, {"subsession_id": 42}, {"subsession_id": 43}],
        "session_results": [
            {"simsession_number": -1, "results": [_row(9, 0)]},
            {"simsession_number": 0, "results": rows},
        ],
        **extra,
    }


def test_results_positions_become_one_based_and_rows_sorted() -> None:
    sub = parse_subsession(_subsession([_row(2, 1), _row(1, 0), _row(3, -1, reason_out="DNS")]))
    assert [r.finish_position for r in sub.results] == [1, 2, None]
    first = sub.results[0]
    assert isinstance(first, DriverResult)
    assert (first.cust_id, first.starting_position, first.finish_position_in_class) == (1, 1, 1)


def test_main_session_is_simsession_zero_not_the_first_listed() -> None:
    sub = parse_subsession(_subsession([_row(1, 0)]))
    assert sub.cust_ids() == frozenset({1})  # cust 9 is only in qualifying


def test_lap_times_in_seconds_and_minus_one_is_none() -> None:
    sub = parse_subsession(_subsession([_row(1, 0, best_lap_time=-1, oldi_rating=-1, average_lap=0)]))
    row = sub.results[0]
    assert row.best_lap_time is None and row.average_lap is None and row.old_irating is None
    row = parse_subsession(_subsession([_row(1, 0)])).results[0]
    assert isinstance(row, DriverResult)
    assert row.best_lap_time == pytest.approx(131.7601)
    assert row.average_lap == pytest.approx(131.9436)


def test_split_number_track_and_times() -> None:
    sub = parse_subsession(_subsession([_row(1, 0)]))
    assert (sub.split_number, sub.num_splits) == (2, 3)
    assert (sub.track_name, sub.track_config) == ("Spa", "GP")
    assert sub.start_time == datetime(2026, 1, 1, 20, tzinfo=UTC)
    assert not sub.team_event and not sub.multiclass and sub.field_size == 1


def test_license_letters_and_safety_rating() -> None:
    assert [license_class(x) for x in (1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, None, -1)] == [
        "R",
        "R",
        "D",
        "D",
        "C",
        "C",
        "B",
        "B",
        "A",
        "A",
        "Pro",
        None,
        None,
    ]
    assert safety_rating(284) == pytest.approx(2.84)
    assert safety_rating(None) is None
    row = parse_subsession(_subsession([_row(1, 0)])).results[0]
    assert isinstance(row, DriverResult)
    assert (row.old_license_class, row.new_safety_rating) == ("A", pytest.approx(2.99))


def test_team_rows_carry_their_drivers() -> None:
    team = {k: v for k, v in _row(0, 0, team_id=-77, display_name="Team X").items() if k != "cust_id"}
    team["driver_results"] = [_row(5, 0, team_id=-77), _row(6, 0, team_id=-77)]
    sub = parse_subsession(_subsession([team, _row(7, 1)]))
    assert sub.team_event
    assert isinstance(sub.results[0], TeamResult)
    assert [d.cust_id for d in sub.results[0].drivers] == [5, 6]
    pairs = [(t.display_name if t else None, d.cust_id) for t, d in sub.driver_rows()]
    assert pairs == [("Team X", 5), ("Team X", 6), (None, 7)]


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda p: p.update(track="Spa"), "track"),
        (lambda p: p["session_results"][1]["results"][0].pop("cust_id"), "cust_id"),
        (lambda p: p["session_results"][1]["results"][0].update(finish_position="1"), "finish_position"),
        (lambda p: p.update(session_results=[p["session_results"][0]]), "main session"),
        (lambda p: p.update(start_time="yesterday"), "start_time"),
        (lambda p: p.update(car_classes={"x": 1}), "car_classes"),
    ],
)
def test_bad_results_payload_gives_one_parse_error_naming_the_endpoint(mutate: Any, where: str) -> None:
    payload = _subsession([_row(1, 0)])
    mutate(payload)
    with pytest.raises(ParseError) as info:
        parse_subsession(payload)
    assert info.value.endpoint == "results/get"
    assert where in str(info.value)


@pytest.mark.parametrize("payload", [None, [], "Rate limit exceeded", {"races": None}, {"races": [{}]}])
def test_bad_recent_races_payload(payload: Any) -> None:
    with pytest.raises(ParseError, match="stats/member_recent_races"):
        parse_recent_races(payload)


def test_bad_members_lookup_hosted_payloads() -> None:
    with pytest.raises(ParseError, match="member/get"):
        parse_members({"members": [{"cust_id": "x", "display_name": "A"}]})
    with pytest.raises(ParseError, match="lookup/drivers"):
        parse_driver_lookup({"cust_id": 1})
    with pytest.raises(ParseError, match="search_hosted"):
        parse_hosted([{"subsession_id": 1}])


def test_models_are_immutable() -> None:
    sub = parse_subsession(_subsession([_row(1, 0)]))
    with pytest.raises(AttributeError):
        sub.subsession_id = 1  # type: ignore[misc]


# --- contract: recorded answers of the real service ------------------------------------------------


def _sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def test_every_sample_has_a_parser_here() -> None:
    # Parsed below, or in their own modules' contract tests: the lap chart in tests/render, the
    # live list and roster in tests/iracing/test_live.py, the season schedule in test_schedule.py.
    covered = {
        "stats_member_recent_races.json",
        "result.json",
        "result_with_team.json",
        "member.json",
        "lookup_drivers.json",
        "result_search_series.json",
        "result_lap_chart_data.json",
        "league_directory_search.json",
        "league_get.json",
        "league_seasons.json",
        "league_season_sessions.json",
        "league_season_sessions_results_only.json",
        "result_search_hosted.json",
        "season_spectator_subsessions_detail.json",
        "session_reg_drivers_list.json",
        "series_season_schedule.json",
    }
    assert {p.name for p in SAMPLES.glob("*.json")} <= covered


def test_contract_recent_races() -> None:
    races = parse_recent_races(_sample("stats_member_recent_races.json"))
    assert len(races) == 10
    first = races[0]
    assert (first.subsession_id, first.finish_position, first.start_position) == (81425604, 4, 9)
    assert first.start_time == datetime(2025, 11, 22, 7, tzinfo=UTC)
    assert (first.old_sub_level, first.new_sub_level, first.license_level) == (284, 499, 18)
    assert (first.old_irating, first.new_irating, first.strength_of_field) == (4185, 4201, 4769)
    wins = [r.subsession_id for r in races if r.finish_position == 1]
    assert wins == [81220117, 81200966]  # 1-based as sent: these are the wins
    assert races[1].track_name == "Charlotte Motor Speedway"  # iRacing's trailing blank dropped
    assert [r.start_time for r in races] == sorted((r.start_time for r in races), reverse=True)


def test_contract_single_driver_result() -> None:
    sub = parse_subsession(_sample("result.json"))
    assert (sub.subsession_id, sub.split_number, sub.num_splits) == (82263872, 1, 10)
    assert sub.field_size == 30 and not sub.team_event and not sub.multiclass
    assert [r.finish_position for r in sub.results] == list(range(1, 31))
    winner = sub.results[0]
    assert isinstance(winner, DriverResult)
    assert (winner.cust_id, winner.display_name, winner.starting_position) == (473030, "Lukas Schwenk", 1)
    assert winner.best_lap_time == pytest.approx(131.7601)
    assert winner.laps_led == 10
    assert (winner.new_license_class, winner.new_safety_rating) == ("B", pytest.approx(3.37))
    second = sub.results[1]
    assert isinstance(second, DriverResult)
    assert (second.cust_id, second.new_license_class, second.old_safety_rating) == (432652, "A", pytest.approx(1.40))
    assert sub.car_class(2268) is not None and sub.car_class(2268).strength_of_field == 2961
    assert sub.track_name == "Nürburgring Grand-Prix-Strecke" and sub.track_config == "BES/WEC"
    assert sub.event_strength_of_field == 2965 and sub.official


def test_contract_team_multiclass_result() -> None:
    raw = _sample("result_with_team.json")
    sub = parse_subsession(raw)
    assert sub.team_event and sub.multiclass and len(sub.car_classes) == 3
    assert (sub.split_number, sub.num_splits) == (23, 43)
    assert sub.field_size == 59
    team = sub.results[0]
    assert isinstance(team, TeamResult)
    assert (team.team_id, team.display_name, team.finish_position) == (-370856, "Crayola Advanced Engineering", 1)
    assert team.starting_position == 13 and team.best_lap_time == pytest.approx(93.4669)
    assert team.drivers[0].cust_id == 1070827 and len(team.drivers) == 4
    assert all(d.finish_position == 1 and d.team_id == -370856 for d in team.drivers)
    dallara_winner = next(r for r in sub.results if r.car_class_id == 2523)
    assert (dallara_winner.finish_position, dallara_winner.finish_position_in_class) == (10, 1)
    assert sub.car_class(2523).strength_of_field == 2390
    main = next(s for s in raw["session_results"] if s["simsession_number"] == 0)
    expected = {d["cust_id"] for t in main["results"] for d in t["driver_results"]}
    assert sub.cust_ids() == expected
    assert sum(1 for _ in sub.driver_rows()) == sum(len(t["driver_results"]) for t in main["results"])


def test_contract_members_lookup_and_series_rows() -> None:
    assert [(m.cust_id, m.display_name) for m in parse_members(_sample("member.json"))] == [(473030, "Lukas Schwenk")]
    found = parse_driver_lookup(_sample("lookup_drivers.json"))
    assert found[0].cust_id == 168966 and found[0].display_name == "Max Verstappen"
    assert not any(d.profile_disabled for d in found[:3])
    rows = parse_hosted(_sample("result_search_series.json"))
    assert rows[1].subsession_id == 82211703 and rows[1].track_config == "Grand Prix"


def test_contract_truncated_sample_is_a_parse_error() -> None:
    body = (SAMPLES / "result.json").read_bytes()
    with pytest.raises(ParseError, match="results/get"):
        decode_json("results/get", body[: len(body) // 2])
    raw = _sample("result.json")
    broken = copy.deepcopy(raw)
    del broken["session_results"][2]["results"][5]["cust_id"]
    with pytest.raises(ParseError, match=r"results/get.*cust_id"):
        parse_subsession(broken)


_PARSERS = {
    "stats_member_recent_races.json": parse_recent_races,
    "result.json": parse_subsession,
    "result_with_team.json": parse_subsession,
    "member.json": parse_members,
    "lookup_drivers.json": parse_driver_lookup,
    "result_search_series.json": parse_hosted,
    "result_search_hosted.json": parse_hosted,
    "league_directory_search.json": parse_league_directory,
    "league_get.json": lambda body: [parse_league(body)],
    "league_seasons.json": parse_league_seasons,
    "league_season_sessions.json": parse_league_sessions,
    "league_season_sessions_results_only.json": parse_league_sessions,
}
# The kept copy always; the workspace's shared recordings too when they are beside the checkout.
_SAMPLE_FILES = sorted({p for d in (SAMPLES, SHARED) if d.is_dir() for p in d.glob("*.json") if p.name in _PARSERS})


@pytest.mark.parametrize("path", _SAMPLE_FILES, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_every_recorded_sample_parses(path: Path) -> None:
    parsed = _PARSERS[path.name](json.loads(path.read_text(encoding="utf-8")))
    assert parsed
