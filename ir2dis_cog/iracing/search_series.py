"""Official sessions that finished in a time range (``results/search_series``). Pure.

``results/search_series?finish_range_begin=..&finish_range_end=..&event_types=5&official_only=true``
answers inline with a ``chunk_info`` (as ``search_hosted`` does); the merged chunks are rows of
``{subsession_id, session_id, start_time, end_time, series_name, event_type, num_drivers,
official_session, ...}`` (``result_search_series.json``). A row names no driver: whether a tracked
driver raced in it takes a ``results/get``. Only races (event_type 5) are kept, whatever else the
answer holds (the recorded answer lists time trials too). Reported, not seen in a recorded answer:
a race is listed here once its results are out (minutes after its end).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .live import RACE_EVENT_TYPE
from .models import _bool, _int, _list, _obj, _opt_int, _opt_str, _parse, _time

SEARCH_SERIES = "results/search_series"


@dataclass(frozen=True, slots=True)
class SeriesRace:
    subsession_id: int
    session_id: int
    start_time: datetime
    end_time: datetime
    series_name: str | None = None
    num_drivers: int | None = None
    official: bool = True


def parse_search_series(rows: Any) -> list[SeriesRace]:
    """The race rows of ``search_series``, merged from its chunks, in the order iRacing lists them."""

    def build(p: Any) -> list[SeriesRace]:
        out = []
        for i, raw in enumerate(_list(p, "rows")):
            where = f"rows[{i}]"
            r = _obj(raw, where)
            if _int(r, "event_type", where) != RACE_EVENT_TYPE:
                continue
            out.append(
                SeriesRace(
                    subsession_id=_int(r, "subsession_id", where),
                    session_id=_int(r, "session_id", where),
                    start_time=_time(r, "start_time", where),
                    end_time=_time(r, "end_time", where),
                    series_name=_opt_str(r, "series_name", where),
                    num_drivers=_opt_int(r, "num_drivers", where),
                    official=_bool(r, "official_session", where, default=True),
                )
            )
        return out

    return _parse(SEARCH_SERIES, rows, build)
