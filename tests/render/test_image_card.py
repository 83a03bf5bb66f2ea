"""build_image_card: what the picture shows, from the recorded results, and its stored JSON."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from ir2dis_cog.iracing.lap_chart import CarLaps, LapChart
from ir2dis_cog.render.image_card import (
    MAX_ENTRIES,
    ChartLine,
    ImageCard,
    ImageCardFormatError,
    build_image_card,
    format_start,
)
from tests.render.cases import SOLO_TRACKED, TEAM_DQ_NAME, all_cards, solo, solo_chart, team
from tests.render.extremes import endurance_900, field_60


def test_solo_card_header_and_rows() -> None:
    card = all_cards()["solo_chart"]
    assert (card.series_name, card.track_name, card.track_config) == (
        "GT4 Challenge by Falken Tyre",
        "Nürburgring Grand-Prix-Strecke",
        "BES/WEC",
    )
    assert card.start_local == "Sun 28 Dec 2025 21:30 CET"
    assert (card.kind, card.event_sof, card.split_number, card.num_splits, card.field_size) == (
        "official",
        2965,
        1,
        10,
        30,
    )
    assert [e.finish_position for e in card.entries] == [3, 23, 29]
    diego = card.entries[0]
    assert (diego.start_position, diego.laps_complete, diego.incidents, diego.best_lap_time) == (3, 10, 4, 132.2543)
    assert diego.drivers[0].name == "Diego Fernández5"  # blank stored name: iRacing's
    assert card.entries[1].drivers[0].name == "Seb"  # the stored name wins
    d = diego.drivers[0]
    assert (d.old_irating, d.new_irating, d.old_license_level, d.new_sub_level, d.champ_points) == (
        7070,
        7084,
        20,
        416,
        171,
    )


def test_podium_of_a_tracked_class() -> None:
    (block,) = all_cards()["solo_chart"].classes
    assert [(r.position, r.name, r.tracked) for r in block.podium] == [
        (1, "Lukas Schwenk", False),
        (2, "Valentin Kluss", False),
        (3, "Diego Fernández5", True),
    ]
    assert block.podium[1].gap == pytest.approx(3.756)
    assert (block.sof, block.size) == (2961, 30)


def test_chart_keeps_tracked_cars_and_the_class_winner() -> None:
    chart = all_cards()["solo_chart"].chart
    assert chart is not None and chart.laps == 10
    leaders = [line for line in chart.lines if line.leader]
    assert [line.group_id for line in leaders] == [473030]
    assert chart.lines[0].leader  # drawn first, under the tracked lines
    tracked = {line.group_id: line for line in chart.lines if not line.leader}
    assert set(tracked) == {1009174, 1258349}  # the non-starter has no laps to draw
    assert tracked[1258349].pit_laps == (2, 3)
    assert tracked[1009174].position_at(0) == 3  # the grid
    assert tracked[1009174].position_at(10) == 3  # the result
    assert tracked[1258349].position_at(10) == 23
    assert chart.max_position == max(p for line in chart.lines for _, p in line.runs)


def test_chart_points_follow_the_runs() -> None:
    line = ChartLine(1, "x", 1, False, runs=((0, 5), (1, 4), (6, 2)), last_lap=9, pit_laps=())
    assert line.points() == [(0, 5), (1, 4), (5, 4), (6, 2), (9, 2)]
    assert [line.position_at(n) for n in (0, 1, 5, 6, 9, 10)] == [5, 4, 4, 2, 2, None]


def test_no_chart_data_gives_a_card_without_chart() -> None:
    assert all_cards()["solo_no_chart"].chart is None
    assert all_cards()["team_no_chart"].chart is None


def test_chart_without_a_tracked_car_is_dropped() -> None:
    only_winner = LapChart(cars=tuple(c for c in solo_chart().cars if c.group_id == 473030))
    card = build_image_card(solo(), SOLO_TRACKED, "UTC", only_winner, "official")
    assert card.chart is None


def test_team_card_has_team_and_each_tracked_drivers_stint() -> None:
    card = all_cards()["team_no_chart"]
    assert card.team_event and card.multiclass and card.num_classes == 3
    names = [e.team_name for e in card.entries]
    assert names == ["Crayola Advanced Engineering", "EHR Blue", TEAM_DQ_NAME]
    ehr = card.entries[1]
    assert [d.name for d in ehr.drivers] == ["Greyson Oppermann", "Aaron Knight2"]
    assert [d.laps_complete for d in ehr.drivers] == [335, 84]
    assert ehr.laps_complete == 878 and ehr.group_id < 0
    assert card.entries[0].drivers[0].name == "Alex W"
    assert card.entries[2].disqualified
    assert [b.name for b in card.classes] == ["GTP", "IMSA23"]


def test_team_chart_matches_team_ids_of_either_sign() -> None:
    ext = endurance_900()
    assert ext.chart is not None
    flipped = LapChart(cars=tuple(CarLaps(-c.group_id, c.laps) for c in ext.chart.cars))
    a = build_image_card(ext.subsession, ext.tracked, "UTC", ext.chart, "official")
    b = build_image_card(ext.subsession, ext.tracked, "UTC", flipped, "official")
    assert a.chart is not None and a.chart == b.chart
    assert a.chart.laps == 900 and all(line.pit_laps for line in a.chart.lines)


def test_many_tracked_cars_are_counted_beyond_the_kept() -> None:
    ext = field_60()
    tracked = {d.cust_id: "" for _, d in ext.subsession.driver_rows()}
    card = build_image_card(ext.subsession, tracked, "UTC", ext.chart, "official")
    assert len(card.entries) == MAX_ENTRIES
    assert card.more_entries == card.more_drivers == 60 - MAX_ENTRIES
    assert [e.finish_position for e in card.entries] == [1, 2, 3, 4]


def test_unknown_time_zone_falls_back_to_utc() -> None:
    assert format_start(solo().start_time, "Mars/Olympus") == "Sun 28 Dec 2025 20:30 UTC"
    assert format_start(solo().start_time, "Asia/Tokyo") == "Mon 29 Dec 2025 05:30 JST"


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        build_image_card(solo(), SOLO_TRACKED, "UTC", None, "practice")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(all_cards()))
def test_json_round_trip_and_size(name: str) -> None:
    card = all_cards()[name]
    text = card.to_json()
    assert text.isascii()
    assert ImageCard.from_json(text) == card
    # Stored in the outbox beside the text card: far below a MySQL TEXT column (64 KiB).
    assert len(text) < 16_000


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        json.dumps({"v": 99}),
        json.dumps({**json.loads(all_cards()["solo_chart"].to_json()), "entries": "x"}),
        json.dumps({k: v for k, v in json.loads(all_cards()["solo_chart"].to_json()).items() if k != "field_size"}),
        json.dumps({**json.loads(all_cards()["solo_chart"].to_json()), "kind": "practice"}),
        json.dumps({**json.loads(all_cards()["solo_chart"].to_json()), "chart": {"laps": 3}}),
    ],
)
def test_bad_stored_card_is_a_format_error(text: str) -> None:
    with pytest.raises(ImageCardFormatError):
        ImageCard.from_json(text)


def test_blank_track_config_is_left_out() -> None:
    card = build_image_card(replace(solo(), track_config=None), SOLO_TRACKED, "UTC", None, "official")
    assert card.track_config is None and "track_config" not in card.to_json()


def test_team_sample_classes_and_podium() -> None:
    card = all_cards()["team_no_chart"]
    gtp = card.classes[0]
    assert [r.name for r in gtp.podium] == ["Crayola Advanced Engineering", "Granateapfel RT", "EHR Blue"]
    assert [r.laps_down for r in gtp.podium] == [0, 4, 5]
    assert team().field_size == card.field_size == 59
