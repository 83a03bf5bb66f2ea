"""The JSON shapes the fake answers with, after iRacing's recorded answers; pure functions only.

A race's `results/get` body is built in steps: where each car placed, the row every car shares,
a row per driver, a team row around its drivers, class SOF, then the subsession around the rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .records import Member, RaceEntry, RaceSpec, iso

INTERVAL_STEP = 21_337  # gap to the car ahead, 1/10000 s


@dataclass(frozen=True)
class Placing:
    """Where one car finished: overall and in its class (both 0-based, as iRacing counts)."""

    index: int
    class_id: int
    class_pos: int


def place_cars(spec: RaceSpec) -> list[Placing]:
    """The placing of each car, in finishing order; a car without a class runs in the first one."""
    counts: Counter[int] = Counter()
    placings = []
    for index, car in enumerate(spec.cars):
        class_id = car.car_class_id if car.car_class_id is not None else spec.classes[0][0]
        placings.append(Placing(index, class_id, counts[class_id]))
        counts[class_id] += 1
    return placings


def car_row(spec: RaceSpec, car: RaceEntry, placing: Placing) -> dict[str, Any]:
    """The fields a car's team row and its drivers' rows share."""
    index, class_pos = placing.index, placing.class_pos
    class_name = spec.class_names.get(placing.class_id, f"Class {placing.class_id}")
    base_lap = spec.base_lap
    return {
        "finish_position": index,
        "finish_position_in_class": class_pos,
        "starting_position": (car.start_position - 1) if car.start_position else index,
        "starting_position_in_class": (car.start_position - 1) if car.start_position else class_pos,
        "position": index,
        "car_id": 67,
        "car_name": car.car_name,
        "car_class_id": placing.class_id,
        "car_class_name": class_name,
        "car_class_short_name": class_name,
        "laps_complete": car.laps_complete if car.laps_complete is not None else spec.laps,
        "laps_lead": car.laps_led,
        "incidents": car.incidents,
        "best_lap_time": (round(car.best_lap_time * 10_000) if car.best_lap_time else base_lap + index * 1_234),
        "average_lap": base_lap + 20_000 + index * 2_345,
        "interval": 0 if index == 0 else index * INTERVAL_STEP,
        "class_interval": 0 if class_pos == 0 else class_pos * INTERVAL_STEP,
        "qual_lap_time": -1,
        "champ_points": max(0, 180 - index * 7),
        "reason_out": car.reason_out,
        "reason_out_id": 0 if car.reason_out == "Running" else 32,
        "ai": False,
        "division": 0,
        "drop_race": False,
        "weight_penalty_kg": -1,
    }


def driver_rows(
    spec: RaceSpec, car: RaceEntry, placing: Placing, common: Mapping[str, Any], members: Mapping[int, Member]
) -> list[dict[str, Any]]:
    """A row per driver of the car; the top half of the field gains iRating, the rest loses it."""
    rated = spec.official and not spec.hosted  # hosted and league races change no rating
    gain = (len(spec.cars) // 2 - placing.index) * 4 if rated else 0
    rows = []
    for cust_id in car.cust_ids:
        member = members[cust_id]
        rows.append(
            {
                **common,
                "cust_id": cust_id,
                "display_name": member.display_name,
                "oldi_rating": member.irating,
                "newi_rating": member.irating + gain,
                "old_sub_level": member.sub_level,
                "new_sub_level": member.sub_level + ((5 if car.incidents < 4 else -10) if rated else 0),
                "old_license_level": member.license_level,
                "new_license_level": member.license_level,
                "country_code": "DE",
                "laps_complete": common["laps_complete"] // max(1, len(car.cust_ids)),
            }
        )
    return rows


def team_row(
    car: RaceEntry, common: Mapping[str, Any], team_id: int, drivers: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """A team's row, its drivers' rows (marked with the team id) inside; a team has no ratings."""
    return {
        **common,
        "team_id": team_id,
        "display_name": car.team_name,
        "oldi_rating": -1,
        "newi_rating": -1,
        "old_sub_level": -1,
        "new_sub_level": -1,
        "old_license_level": -1,
        "new_license_level": -1,
        "country_code": "GO",
        "driver_results": [{**d, "team_id": team_id} for d in drivers],
    }


def team_count(spec: RaceSpec) -> int:
    return sum(1 for car in spec.cars if car.team_name)


def result_rows(
    spec: RaceSpec, placings: Sequence[Placing], members: Mapping[int, Member], first_team: int
) -> list[dict[str, Any]]:
    """The race's result rows in finishing order: a team row per team, a driver row per solo driver.

    Teams without a `team_id` get negative ids counting on from `first_team`; every team uses a number up.
    """
    rows: list[dict[str, Any]] = []
    team_number = first_team
    for car, placing in zip(spec.cars, placings, strict=True):
        common = car_row(spec, car, placing)
        drivers = driver_rows(spec, car, placing, common, members)
        if car.team_name:
            team_id = car.team_id if car.team_id is not None else -team_number
            team_number += 1
            rows.append(team_row(car, common, team_id, drivers))
        else:
            rows.extend(drivers)
    return rows


def class_ratings(spec: RaceSpec, placings: Sequence[Placing], members: Mapping[int, Member]) -> dict[int, list[int]]:
    """The old iRatings of the drivers in each class (a class no car ran in has none)."""
    ratings: dict[int, list[int]] = {cid: [] for cid, _ in spec.classes}
    for car, placing in zip(spec.cars, placings, strict=True):
        for cust_id in car.cust_ids:
            ratings.setdefault(placing.class_id, []).append(members[cust_id].irating)
    return ratings


def sof(ratings: Sequence[int]) -> int:
    """A strength of field: the mean iRating, or -1 for an empty field."""
    return round(sum(ratings) / len(ratings)) if ratings else -1


def field_sof(ratings: Mapping[int, Sequence[int]]) -> int:
    """The whole field's strength, every class together."""
    return sof([r for rs in ratings.values() for r in rs])


def qualifying_row(row: Mapping[str, Any]) -> dict[str, Any]:
    # The qualifying session lists the same cars in another order; only the race counts.
    return {
        **{k: v for k, v in row.items() if k != "driver_results"},
        "finish_position": -1,
        "starting_position": -1,
        "best_lap_time": -1,
    }


def subsession_body(
    spec: RaceSpec, rows: Sequence[dict[str, Any]], ratings: Mapping[int, Sequence[int]], placings: Sequence[Placing]
) -> dict[str, Any]:
    """The `results/get` answer: the race around its result rows, with a qualifying session before it."""
    sid, base_lap = spec.subsession_id, spec.base_lap
    event_sof = field_sof(ratings)
    class_counts = Counter(p.class_id for p in placings)
    split_ids = [sid + (i - spec.split_number + 1) for i in range(spec.num_splits)]
    return {
        "subsession_id": sid,
        "session_id": sid * 3,
        "series_id": spec.series_id,
        "series_name": spec.series_name,
        "series_short_name": spec.series_short_name or spec.series_name,
        "season_id": spec.season_id,
        "season_name": spec.season_name,
        "season_short_name": "2026 Season 1",
        "season_year": 2026,
        "season_quarter": 1,
        "race_week_num": 1,
        "start_time": iso(spec.start),
        "end_time": iso(spec.end),
        "official_session": spec.official,
        **unofficial_fields(spec),
        "event_type": 5,
        "event_type_name": spec.event_type_name,
        "event_strength_of_field": event_sof,
        "event_best_lap_time": base_lap,
        "event_average_lap": base_lap + 20_000,
        "event_laps_complete": spec.laps,
        "num_drivers": num_drivers(spec),
        "num_cautions": 0,
        "num_lead_changes": 0,
        "driver_changes": any(c.team_name for c in spec.cars),
        "max_team_drivers": max((len(c.cust_ids) for c in spec.cars), default=1),
        "min_team_drivers": 1,
        "license_category": "Sports_Car",
        "license_category_id": 5,
        "track": {
            "track_id": spec.track_id,
            "track_name": spec.track_name,
            "config_name": spec.track_config or "",
            "category": "Road",
            "category_id": 2,
        },
        "car_classes": [
            {
                "car_class_id": cid,
                "name": name,
                "short_name": name,
                "strength_of_field": sof(ratings.get(cid, [])),
                "num_entries": class_counts[cid],
                "cars_in_class": [{"car_id": 67}],
            }
            for cid, name in spec.classes
        ],
        "session_splits": [{"subsession_id": s, "event_strength_of_field": event_sof} for s in split_ids],
        "session_results": [
            {
                "simsession_number": -1,
                "simsession_name": "QUALIFY",
                "simsession_type": 4,
                "simsession_type_name": "Lone Qualifying",
                "simsession_subtype": 0,
                "results": [qualifying_row(r) for r in rows],
            },
            {
                "simsession_number": 0,
                "simsession_name": "RACE",
                "simsession_type": 6,
                "simsession_type_name": "Race",
                "simsession_subtype": 0,
                "results": list(rows),
            },
        ],
    }


def without_keys(value: Any, keys: frozenset[str]) -> Any:
    """An answer with every occurrence of ``keys`` left out, at every level: iRacing leaves
    fields out of older, hosted and league results."""
    if isinstance(value, Mapping):
        return {k: without_keys(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [without_keys(v, keys) for v in value]
    return value


def num_drivers(spec: RaceSpec) -> int:
    return sum(len(c.cust_ids) for c in spec.cars)


def winner_of(rows: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    return rows[0] if rows else None


def recent_race_summaries(
    spec: RaceSpec, rows: Sequence[Mapping[str, Any]], event_sof: int
) -> dict[int, dict[str, Any]]:
    """Each driver's `member_recent_races` row for this race, by cust id."""
    winner = winner_of(rows)
    summaries: dict[int, dict[str, Any]] = {}
    for row in rows:
        for d in row.get("driver_results", [row]):
            summaries[d["cust_id"]] = {
                "season_id": spec.season_id,
                "series_id": spec.series_id,
                "series_name": spec.series_name,
                "car_id": d["car_id"],
                "car_class_id": d["car_class_id"],
                "license_level": d["new_license_level"],
                "session_start_time": iso(spec.start),
                "winner_group_id": (winner.get("team_id") or winner.get("cust_id")) if winner else -1,
                "winner_name": winner["display_name"] if winner else "",
                "start_position": d["starting_position"] + 1,
                "finish_position": d["finish_position"] + 1,
                "qualifying_time": 0,
                "laps": d["laps_complete"],
                "laps_led": d["laps_lead"],
                "incidents": d["incidents"],
                "points": d["champ_points"],
                "strength_of_field": event_sof,
                "subsession_id": spec.subsession_id,
                "old_sub_level": d["old_sub_level"],
                "new_sub_level": d["new_sub_level"],
                "oldi_rating": d["oldi_rating"],
                "newi_rating": d["newi_rating"],
                "track": {"track_id": spec.track_id, "track_name": spec.track_name},
                "drop_race": False,
                "season_year": 2026,
                "season_quarter": 1,
                "race_week_num": 1,
            }
    return summaries


def hosted_row(spec: RaceSpec, rows: Sequence[Mapping[str, Any]], host_name: str) -> dict[str, Any]:
    """The race's row in `search_hosted`; the host defaults to the winner's first driver."""
    winner = winner_of(rows)
    return {
        "subsession_id": spec.subsession_id,
        "session_id": spec.subsession_id * 3,
        "session_name": spec.session_name or f"{spec.series_name} league night",
        "start_time": iso(spec.start),
        "end_time": iso(spec.end),
        "track": {"track_id": spec.track_id, "track_name": spec.track_name, "config_name": spec.track_config or ""},
        "num_drivers": num_drivers(spec),
        "winner_name": winner["display_name"] if winner else "",
        "host": {
            "cust_id": spec.host_cust_id or (spec.cars[0].cust_ids[0] if spec.cars else 0),
            "display_name": host_name,
        },
        "official_session": False,
        "event_type_name": spec.event_type_name,
        "league_id": spec.league_id,
        "league_season_id": spec.league_season_id,
        **({"league_name": spec.league_name, "league_season_name": spec.league_season_name} if spec.league_id else {}),
        "race_laps": spec.laps,
        "race_length": 0,
        "cars": [
            {"car_id": 67, "car_name": "Fake Car GT4", "car_class_id": cid, "car_class_name": name}
            for cid, name in spec.classes
        ],
    }


def series_row(spec: RaceSpec, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The race's row in `results/search_series`, with the recorded answer's keys the bot reads."""
    winner = winner_of(rows)
    return {
        "session_id": spec.subsession_id + 200_000_000,
        "subsession_id": spec.subsession_id,
        "start_time": iso(spec.start),
        "end_time": iso(spec.end),
        "num_drivers": num_drivers(spec),
        "winner_name": winner["display_name"] if winner else "",
        "track": {"track_id": spec.track_id, "track_name": spec.track_name, "config_name": spec.track_config or ""},
        "official_session": True,
        "season_id": spec.season_id,
        "event_type": 5 if spec.event_type_name == "Race" else 2,
        "event_type_name": spec.event_type_name,
        "series_id": spec.series_id,
        "series_name": spec.series_name,
        "series_short_name": spec.series_short_name or spec.series_name,
        "race_week_num": 1,
    }


def unofficial_fields(spec: RaceSpec) -> dict[str, Any]:
    """What results/get adds for a hosted or league race: its session name, host and league."""
    if spec.official and not spec.hosted:
        return {}
    fields: dict[str, Any] = {
        "session_name": spec.session_name or f"{spec.series_name} league night",
        "private_session_id": spec.subsession_id + 7,
    }
    if spec.host_cust_id:
        fields["host"] = {"cust_id": spec.host_cust_id, "display_name": f"Host {spec.host_cust_id}"}
    if spec.league_id:
        fields.update(
            league_id=spec.league_id,
            league_name=spec.league_name,
            league_season_id=spec.league_season_id,
            league_season_name=spec.league_season_name,
        )
    return fields


# --- the other data endpoints ------------------------------------------------------------------


def recent_races_body(cust_id: int, races: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"cust_id": cust_id, "races": list(races)}


def member_get_body(ids: Sequence[int], members: Mapping[int, Member]) -> dict[str, Any]:
    """`member/get`: the known members among `ids`; unknown ids are left out, as iRacing does."""
    found = [
        {"cust_id": m.cust_id, "display_name": m.display_name, "member_since": "2020-04-10", "ai": False}
        for m in (members.get(c) for c in ids)
        if m is not None
    ]
    return {"success": True, "cust_ids": list(ids), "members": found}


def lookup_rows(term: str, members: Iterable[Member]) -> list[dict[str, Any]]:
    """`lookup/drivers`: up to 25 members whose name contains the term, or whose id it is."""
    needle = term.strip().lower()
    return [
        {
            "cust_id": m.cust_id,
            "display_name": m.display_name,
            "profile_disabled": False,
            "helmet": {
                "pattern": 1,
                "color1": "ffffff",
                "color2": "000000",
                "color3": "ff0000",
                "face_type": 0,
                "helmet_type": 0,
            },
        }
        for m in members
        if needle and (needle in m.display_name.lower() or needle == str(m.cust_id))
    ][:25]


def search_hosted_body(size: int, rows: int, base_download_url: str, chunk_names: Sequence[str]) -> dict[str, Any]:
    """`results/search_hosted`: answered inline, its rows in chunk files on S3."""
    return {
        "type": "search_hosted",
        "data": {
            "success": True,
            "chunk_info": {
                "chunk_size": size,
                "num_chunks": len(chunk_names),
                "rows": rows,
                "base_download_url": base_download_url,
                "chunk_file_names": list(chunk_names),
            },
        },
    }


def link_body(link: str, expires: float) -> dict[str, Any]:
    """The first step of a data request: where to fetch the answer, and until when."""
    return {"link": link, "expires": iso(expires)}


def roster_entries(spec: RaceSpec, members: Mapping[int, Member]) -> tuple[dict[str, Any], ...]:
    """`reg_drivers_list` entries of a live race: one per driver, with the recorded answer's keys we read."""
    out = []
    for car in spec.cars:
        class_id = car.car_class_id if car.car_class_id is not None else spec.classes[0][0]
        for cust_id in car.cust_ids:
            out.append(
                {
                    "cust_id": cust_id,
                    "display_name": members[cust_id].display_name,
                    "car_id": 67,
                    "car_name": car.car_name,
                    "car_class_id": class_id,
                    "car_class_name": spec.class_names.get(class_id, "Fake Class"),
                    "reg_status": "reg_joined",
                    # The recorded answer's licence: the driver's in the race's category.
                    "license": {"category_id": 5, "category": "sports_car", "irating": members[cust_id].irating},
                    "session_id": spec.subsession_id + 200_000_000,
                    "subsession_id": spec.subsession_id,
                    "event_type": 5,
                    "event_type_name": "Race",
                }
            )
    return tuple(out)


def live_races_body(races: Sequence[Mapping[str, Any]], noise: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """`spectator_subsessionids_detail`: the live races (event_type 5), then any other live subsessions."""
    rows = [*races, *noise]
    return {
        "success": True,
        "season_ids": sorted({int(r["season_id"]) for r in rows}),
        "event_types": [5],
        "subsessions": rows,
    }


def reg_drivers_body(subsession_id: int, entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"subscribed": False, "subsession_id": subsession_id, "entries": list(entries), "success": True}


def schedule_week(spec: RaceSpec, race_week_num: int) -> dict[str, Any]:
    """One week of `series/season_schedule`: the race's series and track (the fields the bot reads,
    and a few of the recorded answer's others)."""
    return {
        "season_id": spec.season_id,
        "race_week_num": race_week_num,
        "series_id": spec.series_id,
        "series_name": spec.series_name,
        "season_name": spec.season_name,
        "schedule_name": f"{spec.series_name} - fake schedule",
        "category_id": 5,
        "track": {
            "track_id": spec.track_id,
            "track_name": spec.track_name,
            "config_name": spec.track_config or "",
            "category_id": 2,
        },
    }


def season_schedule_body(season_id: int, weeks: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    """`series/season_schedule`: the season's weeks in week order (none for a season nobody races)."""
    return {"success": True, "season_id": season_id, "schedules": [dict(weeks[w]) for w in sorted(weeks)]}
