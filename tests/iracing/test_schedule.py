"""Season schedules: the contract against the recorded answer (and its agreement with the recorded
live list), the parsing rules, and the client over real HTTP against the fake iRacing (a link, then
its body, as every data call)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ir2dis_cog.iracing.client import IRacingClient
from ir2dis_cog.iracing.errors import IRacingError, ParseError
from ir2dis_cog.iracing.live import parse_live_races
from ir2dis_cog.iracing.schedule import RaceWeek, SeasonSchedule, parse_season_schedule
from tests.fakes.iracing import FakeIRacing
from tests.samples import load_sample


def test_the_recorded_schedule_names_the_series_and_every_week_s_track() -> None:
    sample = load_sample("series_season_schedule.json")
    schedule = parse_season_schedule(sample)
    assert schedule.season_id == 5935
    assert [w.race_week_num for w in schedule.weeks] == list(range(12))
    assert schedule.week(3) == RaceWeek(3, "IMSA iRacing Series", "Red Bull Ring", "Grand Prix", series_id=447)
    first = schedule.week(0)
    assert first is not None and first.track_name == "Autódromo Hermanos Rodríguez"
    assert {w.series_name for w in schedule.weeks} == {"IMSA iRacing Series"}
    assert schedule.week(12) is None and schedule.week(None) is None


def test_the_live_list_and_the_schedule_number_weeks_alike() -> None:
    """The recorded live list (2026-01-06) puts season 5935 in week 3; the schedule starts week 3 on
    that day: both count weeks from 0, so the live list's week finds the right track."""
    schedule = load_sample("series_season_schedule.json")
    live = load_sample("season_spectator_subsessions_detail.json")
    weeks = {r["race_week_num"] for r in live["subsessions"] if r["season_id"] == schedule["season_id"]}
    assert weeks == {3}
    day = next(w["start_date"] for w in schedule["schedules"] if w["race_week_num"] == 3)
    starts = {r["start_time"][:10] for r in live["subsessions"] if r["season_id"] == schedule["season_id"]}
    assert starts == {day} == {"2026-01-06"}
    assert all(r.race_week_num is not None for r in parse_live_races(live))


def test_an_empty_config_is_no_config_and_an_unknown_season_has_no_weeks() -> None:
    row = {"race_week_num": 0, "series_name": " Oval Cup ", "track": {"track_name": "Oval", "config_name": ""}}
    schedule = parse_season_schedule({"success": True, "season_id": 7, "schedules": [row]})
    assert schedule == SeasonSchedule(7, (RaceWeek(0, "Oval Cup", "Oval"),))
    assert parse_season_schedule({"success": True, "season_id": 7, "schedules": []}).weeks == ()


@pytest.mark.parametrize(
    ("change", "place"),
    [
        (lambda s: s.pop("schedules"), "body.schedules"),
        (lambda s: s["schedules"][2].pop("track"), "schedules[2].track"),
        (lambda s: s["schedules"][4]["track"].update(track_name=None), "schedules[4].track.track_name"),
        (lambda s: s["schedules"][0].update(race_week_num="3"), "schedules[0].race_week_num"),
        (lambda s: s.pop("season_id"), "body.season_id"),
    ],
)
def test_a_broken_schedule_is_one_parse_error_naming_the_place(change: Any, place: str) -> None:
    sample = copy.deepcopy(load_sample("series_season_schedule.json"))
    change(sample)
    with pytest.raises(ParseError) as caught:
        parse_season_schedule(sample)
    assert "series/season_schedule" in str(caught.value) and place in str(caught.value)


async def test_the_client_reads_a_season_s_schedule_through_a_link(fake: FakeIRacing, client: IRacingClient) -> None:
    fake.add_race([101], season_id=6001, series_name="Ring Cup", track_name="Nordschleife", track_config=None)
    fake.add_race([102], season_id=6001, series_name="Ring Cup", track_name="Elsewhere")  # same week: first wins
    fake.add_race([103], season_id=6002, series_name="Other Cup", hosted=True)  # hosted: no official season

    schedule = await client.get_season_schedule(6001)
    assert schedule == SeasonSchedule(6001, (RaceWeek(3, "Ring Cup", "Nordschleife", None, series_id=139),))
    assert (await client.get_season_schedule(6002)).weeks == ()

    asked = [r for r in fake.requests if r.path == "/data/series/season_schedule"]
    assert [r.query for r in asked] == ["season_id=6001", "season_id=6002"]
    assert len([r for r in fake.requests if r.path.startswith("/_s3/")]) == 2  # each answer came by link
    with pytest.raises(ValueError, match="positive whole number"):
        await client.get_season_schedule(0)
    fake.broken_endpoints.append("series/season_schedule")
    with pytest.raises(IRacingError):
        await client.get_season_schedule(6001)
