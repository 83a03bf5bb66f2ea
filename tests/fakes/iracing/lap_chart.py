"""`results/lap_chart_data` made from a race's own results: every car's position on every lap.

Shaped like the recorded answer (`result_lap_chart_data.json`): one row per car per lap, lap 0
the grid, `lap_position` 1-based, `group_id` the cust_id (solo) or the team id (team race),
`lap_events` ["pitted"] on pit laps. Cars move from their start to their finish position along a
smooth path with a wobble, so lines cross as in a real race; the last lap is the finishing order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

CHUNK_ROWS = 2_000  # rows per chunk file; a 60-car 24 h race spreads over many, as iRacing's do


def _race_rows(results_body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    for session in results_body.get("session_results", []):
        if session.get("simsession_number") == 0:
            return list(session.get("results", []))
    return []


def _car(row: Mapping[str, Any]) -> tuple[int, int, Sequence[Mapping[str, Any]]]:
    """(group id, car number seed, drivers) of a result row."""
    drivers = row.get("driver_results") or [row]
    group = int(row["team_id"]) if row.get("driver_results") else int(row["cust_id"])
    return group, abs(group) % 97, drivers


def _place(start: int, finish: int, seed: int, lap: int, total: int) -> float:
    """Where a car runs on ``lap``: on its way from start to finish, wobbling most mid-race."""
    share = lap / total
    return start + (finish - start) * share + 1.6 * math.sin(lap / 7 + seed) * math.sin(math.pi * share)


def lap_chart_rows(results_body: Mapping[str, Any], *, pit_every: int = 0) -> list[dict[str, Any]]:
    rows = _race_rows(results_body)
    if not rows:
        return []
    total = max(int(r.get("laps_complete", 0)) for r in rows)
    cars = []
    for r in rows:
        group, seed, drivers = _car(r)
        start, finish = int(r["starting_position"]) + 1, int(r["finish_position"]) + 1
        cars.append((group, seed, drivers, start, finish, int(r.get("laps_complete", 0))))
    pit_every = pit_every or (max(20, total // 6) if total >= 40 else 0)
    out: list[dict[str, Any]] = []
    for lap in range(total + 1):
        running = [c for c in cars if c[5] >= lap]
        if lap == 0:
            order = sorted(running, key=lambda c: c[3])
        elif lap == total:
            order = sorted(running, key=lambda c: c[4])
        else:
            order = sorted(running, key=lambda c, k=lap: _place(c[3], c[4], c[1], k, total))
        for position, (group, _seed, drivers, _s, _f, _laps) in enumerate(order, start=1):
            driver = drivers[(lap // max(1, pit_every or total + 1)) % len(drivers)]
            pitted = bool(pit_every) and lap > 0 and lap % pit_every == 0
            out.append(
                {
                    "group_id": group,
                    "name": driver.get("display_name", ""),
                    "cust_id": int(driver["cust_id"]),
                    "display_name": driver.get("display_name", ""),
                    "lap_number": lap,
                    "flags": 0,
                    "incident": False,
                    "lap_time": -1 if lap == 0 else 900_000 + position * 1_000,
                    "lap_events": ["pitted"] if pitted else [],
                    "lap_position": position,
                    "ai": False,
                }
            )
    return out


def chunks(rows: Sequence[dict[str, Any]], size: int = CHUNK_ROWS) -> list[list[dict[str, Any]]]:
    return [list(rows[i : i + size]) for i in range(0, len(rows), size)]
