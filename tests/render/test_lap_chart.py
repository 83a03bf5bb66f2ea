"""lap_chart_data: the recorded sample parses, and a malformed answer is one ParseError."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ir2dis_cog.iracing.errors import ParseError
from ir2dis_cog.iracing.lap_chart import LAP_CHART_DATA, parse_lap_chart
from tests.render.cases import solo
from tests.samples import load_sample


def _rows() -> list[dict[str, Any]]:
    rows = load_sample("result_lap_chart_data.json")
    assert isinstance(rows, list)
    return rows


def test_sample_parses_every_car_and_lap() -> None:
    chart = parse_lap_chart(_rows())
    assert len(chart.cars) == 30
    assert chart.max_lap == 10
    winner = chart.car(473030)
    assert winner is not None
    assert [lap.lap for lap in winner.laps] == list(range(11))
    assert {lap.position for lap in winner.laps} == {1}
    assert winner.laps[0].driver_id == 473030


def test_pit_laps_come_from_lap_events() -> None:
    chart = parse_lap_chart(_rows())
    bignasca = chart.car(1258349)
    assert bignasca is not None and bignasca.pit_laps == (2, 3)
    assert bignasca.laps[2].pitted and "black flag" in bignasca.laps[2].events
    assert not bignasca.laps[1].pitted


def test_a_car_that_never_started_has_no_grid_position() -> None:
    chart = parse_lap_chart(_rows())
    fuchs = chart.car(1180318)
    assert fuchs is not None and fuchs.last_lap == 0 and fuchs.laps[0].position is None


def test_every_chart_car_is_a_car_of_the_result() -> None:
    chart = parse_lap_chart(_rows())
    assert {car.group_id for car in chart.cars} == {d.cust_id for _, d in solo().driver_rows()}


def test_last_lap_order_matches_the_result() -> None:
    chart = parse_lap_chart(_rows())
    finishers = [d for _, d in solo().driver_rows() if d.laps_complete == 10]
    for driver in finishers:
        car = chart.car(driver.cust_id)
        assert car is not None and car.laps[-1].position == driver.finish_position


def test_lap_events_may_be_absent() -> None:
    rows = copy.deepcopy(_rows()[:3])
    for row in rows:
        del row["lap_events"]
    chart = parse_lap_chart(rows)
    assert all(not lap.events for car in chart.cars for lap in car.laps)


def _broken(mutate: str) -> Any:
    rows: list[Any] = copy.deepcopy(_rows()[:5])
    if mutate == "not a list":
        return {"rows": rows}
    if mutate == "row not an object":
        rows[1] = 7
    elif mutate == "no group_id":
        del rows[2]["group_id"]
    elif mutate == "lap is text":
        rows[0]["lap_number"] = "3"
    elif mutate == "position is bool":
        rows[0]["lap_position"] = True
    elif mutate == "negative lap":
        rows[0]["lap_number"] = -1
    elif mutate == "events not a list":
        rows[0]["lap_events"] = "pitted"
    elif mutate == "a lap twice":
        rows.append(copy.deepcopy(rows[0]))
    elif mutate == "cust_id is text":
        rows[0]["cust_id"] = "473030"
    return rows


@pytest.mark.parametrize(
    "mutate",
    [
        "not a list",
        "row not an object",
        "no group_id",
        "lap is text",
        "position is bool",
        "negative lap",
        "events not a list",
        "a lap twice",
        "cust_id is text",
    ],
)
def test_malformed_answer_is_a_parse_error(mutate: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_lap_chart(_broken(mutate))
    assert caught.value.endpoint == LAP_CHART_DATA == "lap_chart_data"
