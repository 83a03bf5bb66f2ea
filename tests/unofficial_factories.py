"""Hosted and league races as results/get parses them: unofficial, league and season names,
the session's name and host, a real field of GT3 cars, ratings unchanged, league points."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ir2dis_cog.iracing.models import CarClass, DriverResult, Subsession
from tests.factories import make_driver, make_subsession

GT3_CARS = (
    "BMW M4 GT3",
    "Porsche 911 GT3 R (992)",
    "Ferrari 296 GT3",
    "Mercedes-AMG GT3 2020",
    "Audi R8 LMS EVO II GT3",
    "McLaren 720S GT3 EVO",
)
LEAGUE_ID = 4534
LEAGUE_SEASON_ID = 118823
LEAGUE_NAME = "Sunday Night Endurance League"
SEASON_NAME = "2026 Season 1 - GT3 Sprint"
SESSION_NAME = "SNEL Round 4 - Road Atlanta"
HOST = "Mara Lindqvist"


def field_driver(
    index: int, *, cars: int = 18, cust_id: int | None = None, name: str | None = None, **changes: Any
) -> DriverResult:
    """The car finishing ``index + 1``th: 0.8 to 1.6 s a place behind the winner, the last two
    a lap down, the ratings as they were (an unofficial race moves none)."""
    position = index + 1
    lapped = index >= cars - 2
    return make_driver(
        cust_id if cust_id is not None else 500_000 + index,
        name or f"League Driver {position}",
        finish_position=position,
        finish_position_in_class=position,
        starting_position=(index * 7) % cars + 1,
        starting_position_in_class=(index * 7) % cars + 1,
        car_name=GT3_CARS[index % len(GT3_CARS)],
        car_class_id=2708,
        car_class_name="GT3 Class",
        car_class_short_name="GT3",
        laps_complete=24 - (1 if lapped else 0),
        laps_led=12 if index == 0 else (8 if index == 1 else 0),
        incidents=(index * 3) % 9,
        best_lap_time=79.8123 + index * 0.1371,
        interval=None if index == 0 or lapped else round(index * 1.27 + 0.113, 4),
        class_interval=None if index == 0 or lapped else round(index * 1.27 + 0.113, 4),
        old_irating=2400 + index * 31,
        new_irating=2400 + index * 31,
        old_sub_level=351,
        new_sub_level=351,
        old_license_level=17,
        new_license_level=17,
        champ_points=max(0, 40 - index * 2),
        **changes,
    )


def league_race(
    tracked: dict[int, int] | None = None,
    *,
    cars: int = 18,
    league: bool = True,
    subsession_id: int = 82_001_234,
    start: datetime = datetime(2026, 1, 11, 19, 0, tzinfo=UTC),
    **changes: Any,
) -> Subsession:
    """A league race (or with ``league=False`` a hosted one) of ``cars`` cars; ``tracked`` maps
    finishing index -> cust_id for the drivers a server tracks."""
    tracked = tracked or {}
    rows = tuple(
        field_driver(i, cars=cars, cust_id=tracked.get(i), name=f"Tracked {tracked[i]}" if i in tracked else None)
        for i in range(cars)
    )
    base = make_subsession(
        rows,
        start=start,
        classes=(CarClass(2708, "GT3 Class", "GT3", None, cars),),
        subsession_id=subsession_id,
        official=False,
        series_name="Hosted iRacing",
        track_name="Michelin Raceway Road Atlanta",
        track_config="Full Course",
        event_strength_of_field=None,
        split_number=None,
        num_splits=0,
        session_name=SESSION_NAME if league else "Friday GT3 open lobby",
        host_name=HOST,
        league_id=LEAGUE_ID if league else None,
        league_name=LEAGUE_NAME if league else None,
        league_season_id=LEAGUE_SEASON_ID if league else None,
        league_season_name=SEASON_NAME if league else None,
    )
    return replace(base, **changes)
