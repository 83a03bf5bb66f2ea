"""What iRacing says is live right now: the official race subsessions and who is in each. Pure.

- ``season/spectator_subsessionids_detail?event_types=5``: ``{success, season_ids, event_types,
  subsessions: [{subsession_id, session_id, season_id, start_time, race_week_num, event_type}]}``.
  Only races are kept (event_type 5), whatever else the answer holds (the recorded answer was
  asked for every type and lists practices and time trials too).
- ``session/reg_drivers_list?subsession_id=N``: ``{subscribed, subsession_id, success,
  entries: [{cust_id, display_name, car_id, car_class_id, reg_status, license: {category_id,
  irating, ...}, ...}]}``. Reported, not
  checked: the list is empty once the subsession has finished, and for an unknown id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .models import _get, _int, _list, _obj, _opt_int, _opt_str, _parse, _str, _time

LIVE_RACES = "season/spectator_subsessionids_detail"
REG_DRIVERS = "session/reg_drivers_list"
RACE_EVENT_TYPE = 5


@dataclass(frozen=True, slots=True)
class LiveRace:
    subsession_id: int
    session_id: int
    season_id: int
    start_time: datetime
    race_week_num: int | None = None


@dataclass(frozen=True, slots=True)
class RosterEntry:
    cust_id: int
    display_name: str
    car_class_id: int | None = None
    reg_status: str | None = None
    # The driver's licence in the race's category (``license``): its iRating and category id.
    irating: int | None = None
    category_id: int | None = None


def parse_live_races(payload: Any) -> list[LiveRace]:
    """The live official **race** subsessions, in the order iRacing lists them."""

    def build(p: Any) -> list[LiveRace]:
        rows = _list(_get(_obj(p, "body"), "subsessions", "body"), "body.subsessions")
        out = []
        for i, raw in enumerate(rows):
            where = f"subsessions[{i}]"
            r = _obj(raw, where)
            if _int(r, "event_type", where) != RACE_EVENT_TYPE:
                continue
            out.append(
                LiveRace(
                    subsession_id=_int(r, "subsession_id", where),
                    session_id=_int(r, "session_id", where),
                    season_id=_int(r, "season_id", where),
                    start_time=_time(r, "start_time", where),
                    race_week_num=_opt_int(r, "race_week_num", where),
                )
            )
        return out

    return _parse(LIVE_RACES, payload, build)


def parse_roster(payload: Any) -> list[RosterEntry]:
    """The drivers registered in a subsession (empty once it is over, as reported)."""

    def build(p: Any) -> list[RosterEntry]:
        rows = _list(_get(_obj(p, "body"), "entries", "body"), "body.entries")
        out = []
        for i, raw in enumerate(rows):
            where = f"entries[{i}]"
            r = _obj(raw, where)
            lic = r.get("license")
            lic = lic if isinstance(lic, dict) else {}
            out.append(
                RosterEntry(
                    cust_id=_int(r, "cust_id", where),
                    display_name=_str(r, "display_name", where),
                    car_class_id=_opt_int(r, "car_class_id", where),
                    reg_status=_opt_str(r, "reg_status", where),
                    irating=_opt_int(lic, "irating", f"{where}.license"),
                    category_id=_opt_int(lic, "category_id", f"{where}.license"),
                )
            )
        return out

    return _parse(REG_DRIVERS, payload, build)
