"""Shared test data: the recorded samples' known drivers and hand-made models for edge cases."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ir2dis_cog.iracing.models import CarClass, DriverResult, Subsession, TeamResult, parse_subsession
from tests.samples import load_sample, samples_dir

SOLO_ID = 82263872
TEAM_ID = 82799850
WINNER = 473030  # Lukas Schwenk, P1 of the solo sample
DNF_NO_LAP = 1180318  # Cedric Fuchs: disconnected before a lap, best lap -1
CRAYOLA = (1070827, 580584)  # two drivers of the team that won the team sample


def load_subsession(name: str) -> Subsession:
    """A recorded results/get answer, parsed."""
    path = samples_dir() / name
    assert path.is_file(), f"recorded iRacing sample missing: {path} (set IR2DIS_SAMPLES)"
    return parse_subsession(load_sample(name))


def make_driver(cust_id: int, name: str = "Driver", **changes: Any) -> DriverResult:
    base = DriverResult(
        cust_id=cust_id,
        display_name=name,
        finish_position=1,
        finish_position_in_class=1,
        starting_position=1,
        starting_position_in_class=1,
        car_name="Ford Mustang GT4",
        car_class_id=1,
        car_class_name="GT4 Class",
        car_class_short_name="GT4",
        laps_complete=10,
        laps_led=0,
        incidents=0,
        best_lap_time=131.7601,
        average_lap=132.0,
        old_irating=2000,
        new_irating=2010,
        old_sub_level=330,
        new_sub_level=337,
        old_license_level=15,
        new_license_level=15,
        champ_points=50,
        reason_out="Running",
    )
    return replace(base, **changes)


def make_team(team_id: int, name: str, drivers: tuple[DriverResult, ...], **changes: Any) -> TeamResult:
    base = TeamResult(
        team_id=team_id,
        display_name=name,
        finish_position=1,
        finish_position_in_class=1,
        starting_position=1,
        starting_position_in_class=1,
        car_name="Porsche 963 GTP",
        car_class_id=1,
        car_class_name="GTP",
        car_class_short_name="GTP",
        laps_complete=100,
        laps_led=10,
        incidents=4,
        best_lap_time=93.4669,
        champ_points=100,
        reason_out="Running",
        drivers=drivers,
    )
    return replace(base, **changes)


def make_subsession(
    results: tuple[DriverResult | TeamResult, ...],
    *,
    start: datetime = datetime(2025, 11, 22, 7, 0, tzinfo=UTC),
    classes: tuple[CarClass, ...] = (CarClass(1, "GT4 Class", "GT4", 1500, None),),
    **changes: Any,
) -> Subsession:
    base = Subsession(
        subsession_id=81425604,
        series_name="Test Series",
        series_short_name="Test",
        season_name="S1",
        start_time=start,
        end_time=None,
        official=True,
        event_type_name="Race",
        event_strength_of_field=1500,
        track_name="Spa",
        track_config="Grand Prix",
        car_classes=classes,
        split_number=2,
        num_splits=3,
        field_size=len(results),
        team_event=any(isinstance(r, TeamResult) for r in results),
        results=results,
    )
    return replace(base, **changes)
