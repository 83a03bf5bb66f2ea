"""Per-lap positions of every car from ``results/lap_chart_data``: pure, no I/O.

The input is the list of rows merged from the answer's chunks (one row per car per lap), as in
the recorded sample. What the sample shows, and what is only assumed:

- ``group_id`` names the car. In the (solo) sample it equals ``cust_id``. In a team race it is
  *assumed* to be the team's id as ``results/get`` sends it (negative), with ``cust_id`` the driver
  in the car on that lap; no team sample was recorded.
- ``lap_number`` 0 is the grid: its ``lap_position`` is the starting order. Laps 1.. are laps
  completed; a car that retired has no rows after its last lap.
- ``lap_position`` is 1-based (unlike ``results/get``); 0 on lap 0 marks a car that never took
  the start (seen), kept here as ``None``. It is *assumed* to be the overall position; a class
  position is derived by ranking the class's cars on each lap, which gives the same answer if it
  were a class position already.
- ``lap_events`` is a list of words; ``"pitted"`` (seen) marks a lap with a pit stop. Other words
  seen: "off track", "car contact", "contact", "lost control", "invalid", "black flag", "tow",
  "discontinuity", "connection meatball". A row without ``lap_events`` is taken to have none.
  ``flags`` (a bit set) is not decoded: what its bits mean is not documented.

Anything else in a row (lap_time, helmet, interval...) is not read. Malformed input raises
``ParseError("lap_chart_data", ...)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ParseError

LAP_CHART_DATA = "lap_chart_data"
PITTED = "pitted"


@dataclass(frozen=True, slots=True)
class CarLap:
    lap: int  # 0 = the grid
    position: int | None  # 1-based; None where iRacing sends 0 (no position)
    driver_id: int | None  # the cust_id in the car on this lap
    events: tuple[str, ...] = ()

    @property
    def pitted(self) -> bool:
        return PITTED in self.events


@dataclass(frozen=True, slots=True)
class CarLaps:
    group_id: int  # cust_id in a solo race; (assumed) the negative team id in a team race
    laps: tuple[CarLap, ...]  # one per lap, in lap order

    @property
    def last_lap(self) -> int:
        return self.laps[-1].lap if self.laps else 0

    @property
    def pit_laps(self) -> tuple[int, ...]:
        return tuple(lap.lap for lap in self.laps if lap.pitted)


@dataclass(frozen=True, slots=True)
class LapChart:
    cars: tuple[CarLaps, ...]  # in the order their first row came

    @property
    def max_lap(self) -> int:
        return max((car.last_lap for car in self.cars), default=0)

    def car(self, group_id: int) -> CarLaps | None:
        return next((c for c in self.cars if c.group_id == group_id), None)


class _Bad(Exception):
    pass


def _int(row: Mapping[str, Any], key: str, where: str) -> int:
    value = row.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Bad(f"{where}.{key}: expected a whole number")
    return value


def _opt_int(row: Mapping[str, Any], key: str, where: str) -> int | None:
    return None if row.get(key) is None else _int(row, key, where)


def _events(row: Mapping[str, Any], where: str) -> tuple[str, ...]:
    raw = row.get("lap_events")
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(e, str) for e in raw):
        raise _Bad(f"{where}.lap_events: expected a list of text")
    return tuple(raw)


def _lap(raw: Any, where: str) -> tuple[int, CarLap]:
    if not isinstance(raw, Mapping):
        raise _Bad(f"{where}: expected an object")
    group_id = _int(raw, "group_id", where)
    lap = _int(raw, "lap_number", where)
    position = _int(raw, "lap_position", where)
    if lap < 0 or position < 0:
        raise _Bad(f"{where}: negative lap or position")
    car_lap = CarLap(
        lap=lap,
        position=position or None,
        driver_id=_opt_int(raw, "cust_id", where),
        events=_events(raw, where),
    )
    return group_id, car_lap


def parse_lap_chart(rows: Any) -> LapChart:
    """The merged rows of ``lap_chart_data`` -> every car's laps. A lap twice for one car is an
    error (chunks merged twice, or a broken answer): which row is right cannot be told."""
    try:
        if not isinstance(rows, list):
            raise _Bad("body: expected a list of rows")
        by_car: dict[int, dict[int, CarLap]] = {}
        for i, raw in enumerate(rows):
            group_id, car_lap = _lap(raw, f"[{i}]")
            laps = by_car.setdefault(group_id, {})
            if car_lap.lap in laps:
                raise _Bad(f"[{i}]: lap {car_lap.lap} of car {group_id} twice")
            laps[car_lap.lap] = car_lap
    except _Bad as exc:
        raise ParseError(LAP_CHART_DATA, str(exc)) from None
    return LapChart(
        cars=tuple(CarLaps(group_id=gid, laps=tuple(laps[n] for n in sorted(laps))) for gid, laps in by_car.items())
    )
