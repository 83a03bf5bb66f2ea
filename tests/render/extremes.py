"""Synthetic races at the edges of what the picture must hold, with their lap charts.

Shared by the render tests and benchmarks/render_bench.py. Seeded, so every run draws the same.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from ir2dis_cog.iracing.lap_chart import CarLap, CarLaps, LapChart
from ir2dis_cog.iracing.models import CarClass, DriverResult, Subsession, TeamResult

LONG_NAME = "Maximilian-Alexander von Hohenberg-Weiss"  # 40 characters
JAPANESE = "佐藤 健太郎"
CYRILLIC = "Алексей Смирнов"
ACCENTED = "Łukasz Żółć-Ångström"
HANGUL = "김민준"  # not in the bundled fonts: drawn as U+FFFD
assert len(LONG_NAME) == 40


@dataclass(frozen=True, slots=True)
class Extreme:
    name: str
    subsession: Subsession
    tracked: dict[int, str]
    chart: LapChart | None


def _driver(
    cust_id: int,
    name: str,
    car_class: CarClass,
    pos: int,
    cls_pos: int,
    start: int,
    laps: int,
    rnd: random.Random,
    reason: str = "Running",
    team_id: int | None = None,
) -> DriverResult:
    old = rnd.randint(900, 5200)
    level = rnd.randint(1, 20)
    sub = rnd.randint(100, 499)
    return DriverResult(
        cust_id=cust_id,
        display_name=name,
        finish_position=pos,
        finish_position_in_class=cls_pos,
        starting_position=start,
        starting_position_in_class=start,
        car_name=f"{car_class.name} Racer {cust_id % 7}",
        car_class_id=car_class.car_class_id,
        car_class_name=car_class.name,
        car_class_short_name=car_class.short_name,
        laps_complete=laps,
        laps_led=rnd.randint(0, laps // 5),
        incidents=rnd.randint(0, 24),
        best_lap_time=round(rnd.uniform(88, 140), 4) if laps else None,
        average_lap=None,
        old_irating=old,
        new_irating=old + rnd.randint(-90, 90),
        old_sub_level=sub,
        new_sub_level=min(499, max(1, sub + rnd.randint(-40, 40))),
        old_license_level=level,
        new_license_level=level,
        champ_points=rnd.randint(0, 180),
        reason_out=reason,
        team_id=team_id,
        interval=None,
        class_interval=round((cls_pos - 1) * 4.25 + rnd.uniform(0, 2), 4),
    )


def _subsession(
    subsession_id: int,
    classes: tuple[CarClass, ...],
    rows: tuple[DriverResult | TeamResult, ...],
    name: str,
    team: bool,
) -> Subsession:
    return Subsession(
        subsession_id=subsession_id,
        series_name=name,
        series_short_name=name,
        season_name="2026 Season 1",
        start_time=datetime(2026, 3, 14, 18, 0, tzinfo=UTC),
        end_time=None,
        official=True,
        event_type_name="Race",
        event_strength_of_field=2450,
        track_name="Autodromo Internazionale Enzo e Dino Ferrari",
        track_config="Grand Prix",
        car_classes=classes,
        split_number=3,
        num_splits=12,
        field_size=len(rows),
        team_event=team,
        results=rows,
    )


def _chart(groups: list[tuple[int, int, int, int]], laps: int, rnd: random.Random, pit_every: int) -> LapChart:
    """``groups``: (group_id, start position, finish position, laps done). Each lap's order goes
    from the grid to the result, with some noise, so the lines end where the results say."""
    noise = {g: rnd.uniform(0, 6.28) for g, _, _, _ in groups}
    laps_of: dict[int, list[CarLap]] = {g: [] for g, _, _, _ in groups}
    for lap in range(laps + 1):
        f = lap / laps
        running = [(g, s, e) for g, s, e, n in groups if n >= lap]
        # Mid-race the order wanders; at the flag it is the result.
        key = {g: s * (1 - f) + e * f + 3 * math.sin(noise[g] + 20 * f) * f * (1 - f) * 4 for g, s, e in running}
        for pos, g in enumerate(sorted(key, key=key.__getitem__), start=1):
            pitted = lap > 0 and pit_every > 0 and (lap + g) % pit_every == 0
            laps_of[g].append(CarLap(lap, pos, abs(g), ("pitted",) if pitted else ()))
    return LapChart(cars=tuple(CarLaps(g, tuple(v)) for g, v in laps_of.items()))


def _classes(count: int) -> tuple[CarClass, ...]:
    names = [("GTP", "GTP"), ("LMP2", "LMP2"), ("GT3 Class", "GT3"), ("GT4 Class", "GT4")]
    return tuple(
        CarClass(
            car_class_id=100 + i,
            name=names[i][0],
            short_name=names[i][1],
            strength_of_field=2000 + 150 * i,
            num_entries=None,
        )
        for i in range(count)
    )


def field_60() -> Extreme:
    """60 cars in one class; tracked: the 40-character name, a Cyrillic name, a disqualified driver
    and a Hangul name (which the bundled fonts lack)."""
    rnd = random.Random(60)
    (cls,) = _classes(1)
    cls = replace(cls, name="Formula Vee", short_name="FV", num_entries=60)
    names = {7: LONG_NAME, 30: CYRILLIC, 59: "Dee Q. Driver", 60: HANGUL}
    rows: list[DriverResult] = []
    for pos in range(1, 61):
        name = names.get(pos, f"Driver Number{pos}")
        reason = "DQ/Scoring Invalidated" if pos == 59 else ("Disconnected" if pos == 58 else "Running")
        laps = 0 if pos == 59 else (20 if pos == 58 else 30)
        rows.append(_driver(1000 + pos, name, cls, pos, pos, rnd.randint(1, 60), laps, rnd, reason))
    sub = _subsession(900001, (cls,), tuple(rows), "Formula Vee Super Series by a Sponsor With a Long Name", False)
    tracked = {1000 + p: "" for p in (7, 30, 59, 60)}
    chart = _chart(
        [(r.cust_id, r.starting_position or 1, r.finish_position or 60, r.laps_complete) for r in rows], 30, rnd, 0
    )
    return Extreme("field_60", sub, tracked, chart)


def classes_4() -> Extreme:
    """Four classes of 15 cars, a tracked driver in each (one Japanese, one accented)."""
    rnd = random.Random(4)
    classes = tuple(replace(c, num_entries=15) for c in _classes(4))
    rows: list[DriverResult] = []
    for pos in range(1, 61):
        cls = classes[(pos - 1) % 4]
        cls_pos = (pos - 1) // 4 + 1
        name = {3: JAPANESE, 10: ACCENTED}.get(pos, f"Class Racer {pos}")
        start = min(15, max(1, cls_pos + rnd.randint(-4, 4)))
        row = _driver(2000 + pos, name, cls, pos, cls_pos, start, 40 - (pos - 1) % 4, rnd)
        rows.append(replace(row, starting_position=(start - 1) * 4 + (pos - 1) % 4 + 1))
    sub = _subsession(900002, classes, tuple(rows), "IMSA Michelin Pilot Challenge Multiclass", False)
    tracked = {2000 + p: "" for p in (3, 10, 29, 60)}
    chart = _chart(
        [(r.cust_id, r.starting_position or 1, r.finish_position or 60, r.laps_complete) for r in rows], 40, rnd, 0
    )
    return Extreme("classes_4", sub, tracked, chart)


def endurance_900() -> Extreme:
    """A 24-hour team race: 900 laps, three classes, 40 teams; three tracked drivers in two
    teams and pit stops every 30 laps."""
    rnd = random.Random(24)
    classes = tuple(replace(c, num_entries=None) for c in _classes(3))
    teams: list[TeamResult] = []
    starts = list(range(1, 41))
    for _ in range(40):  # a grid that is not the result
        i = rnd.randrange(37)
        starts[i], starts[i + 3] = starts[i + 3], starts[i]
    for pos in range(1, 41):
        cls = classes[(pos - 1) % 3]
        cls_pos = (pos - 1) // 3 + 1
        team_id = -(5000 + pos)
        car_laps = 900 - 5 * ((pos - 1) // 3) - (pos - 1) % 3 * 40
        share = [car_laps // 3, car_laps // 3, car_laps - 2 * (car_laps // 3)]
        drivers = tuple(
            _driver(
                50000 + 10 * pos + k,
                f"Team {pos} Driver {k + 1}",
                cls,
                pos,
                cls_pos,
                cls_pos,
                share[k],
                rnd,
                team_id=team_id,
            )
            for k in range(3)
        )
        first = drivers[0]
        teams.append(
            TeamResult(
                team_id=team_id,
                display_name=f"Endurance Squad {pos} Motorsport Engineering" if pos == 2 else f"Team {pos} Racing",
                finish_position=pos,
                finish_position_in_class=cls_pos,
                starting_position=starts[pos - 1],
                starting_position_in_class=(starts[pos - 1] - 1) // 3 + 1,
                car_name=first.car_name,
                car_class_id=cls.car_class_id,
                car_class_name=cls.name,
                car_class_short_name=cls.short_name,
                laps_complete=car_laps,
                laps_led=sum(d.laps_led for d in drivers),
                incidents=sum(d.incidents for d in drivers),
                best_lap_time=min(d.best_lap_time or 999.0 for d in drivers),
                champ_points=first.champ_points,
                reason_out="Running",
                drivers=drivers,
                class_interval=first.class_interval,
            )
        )
    sub = _subsession(900003, classes, tuple(teams), "Daytona 24", True)
    tracked = {50020: "", 50021: JAPANESE, 50111: CYRILLIC}  # team 2 (two drivers) and team 11
    chart = _chart(
        [(t.team_id, t.starting_position or 1, t.finish_position or 40, t.laps_complete) for t in teams], 900, rnd, 30
    )
    return Extreme("endurance_900", sub, tracked, chart)


def all_extremes() -> list[Extreme]:
    return [field_60(), classes_4(), endurance_900()]
