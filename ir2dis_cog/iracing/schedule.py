"""A season's weeks: which series it is and where each week races (``series/season_schedule``). Pure.

``series/season_schedule?season_id=N`` answers a link (the 2-step fetch: the docs make every
``/data`` call but ``constants/*`` and the ``search_*`` calls one, and this one is not said to
differ); the link's body is ``{success, season_id, schedules: [{race_week_num, series_id,
series_name, season_name, track {track_id, track_name, config_name}, start_date, week_end_time,
...}]}`` (``series_season_schedule.json``: 12 weeks, ``race_week_num`` 0 to 11).

The live list gives each race's ``season_id`` and ``race_week_num``; the two numberings agree in
the recorded answers (the live list of 2026-01-06 says week 3 of season 5935, whose schedule
starts week 3 on that day). A week the answer does not hold simply has no names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .models import _get, _int, _list, _obj, _opt_int, _opt_str, _parse, _str

SEASON_SCHEDULE = "series/season_schedule"


@dataclass(frozen=True, slots=True)
class RaceWeek:
    """One week of a season: its series and its track (the config is None when iRacing gives none)."""

    race_week_num: int
    series_name: str
    track_name: str
    track_config: str | None = None
    series_id: int | None = None


@dataclass(frozen=True, slots=True)
class SeasonSchedule:
    season_id: int
    weeks: tuple[RaceWeek, ...] = ()

    def week(self, race_week_num: int | None) -> RaceWeek | None:
        if race_week_num is None:
            return None
        return next((w for w in self.weeks if w.race_week_num == race_week_num), None)


def parse_season_schedule(payload: Any) -> SeasonSchedule:
    """The season's weeks, in the order iRacing lists them."""

    def build(p: Any) -> SeasonSchedule:
        body = _obj(p, "body")
        weeks = []
        for i, raw in enumerate(_list(_get(body, "schedules", "body"), "body.schedules")):
            where = f"schedules[{i}]"
            r = _obj(raw, where)
            track = _obj(_get(r, "track", where), f"{where}.track")
            weeks.append(
                RaceWeek(
                    race_week_num=_int(r, "race_week_num", where),
                    series_name=_str(r, "series_name", where).strip(),
                    track_name=_str(track, "track_name", f"{where}.track").strip(),
                    # An empty config is a track without layouts: shown as no config at all.
                    track_config=(_opt_str(track, "config_name", f"{where}.track") or "").strip() or None,
                    series_id=_opt_int(r, "series_id", where),
                )
            )
        return SeasonSchedule(_int(body, "season_id", "body"), tuple(weeks))

    return _parse(SEASON_SCHEDULE, payload, build)
