"""The fake's data: members, the cars of a race, a race's settings, its stored answers, the request log."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Member:
    cust_id: int
    display_name: str
    irating: int
    license_level: int
    sub_level: int


@dataclass(frozen=True)
class RaceEntry:
    """One car in a race: a solo driver, or a team when ``team_name`` is set."""

    cust_ids: tuple[int, ...]
    team_name: str | None = None
    team_id: int | None = None
    car_class_id: int | None = None
    car_name: str = "Fake Car GT4"
    incidents: int = 0
    laps_complete: int | None = None
    laps_led: int = 0
    reason_out: str = "Running"
    best_lap_time: float | None = None  # seconds
    start_position: int | None = None  # 1-based; default: the finishing order


RawEntry = int | Sequence[int] | RaceEntry | Mapping[str, Any]


def as_entry(raw: RawEntry) -> RaceEntry:
    """A car from what tests write: a cust id, a list of them (a team), a dict or a `RaceEntry`."""
    if isinstance(raw, RaceEntry):
        return raw
    if isinstance(raw, int):
        return RaceEntry((raw,))
    if isinstance(raw, Mapping):
        data = dict(raw)
        data["cust_ids"] = tuple(data.get("cust_ids") or [data.pop("cust_id")])
        data.pop("cust_id", None)
        return RaceEntry(**data)
    ids = tuple(int(c) for c in raw)
    return RaceEntry(ids, team_name=f"Team {ids[0]}")


@dataclass(frozen=True)
class RaceSpec:
    """Everything `FakeIRacing.add_race` was told about one race, ids and times resolved."""

    subsession_id: int
    start: float
    end: float
    cars: tuple[RaceEntry, ...]
    classes: tuple[tuple[int, str], ...]  # (car_class_id, name); the first is the default class
    series_name: str
    series_short_name: str | None
    series_id: int
    season_name: str
    season_id: int
    track_name: str
    track_config: str | None
    track_id: int
    laps: int
    split_number: int
    num_splits: int
    official: bool
    hosted: bool
    session_name: str | None
    host_cust_id: int | None
    event_type_name: str
    results_delay: float | None = None  # seconds after the end until results appear; None: at once
    live_listed: bool = True  # in the spectator list while live (False: a race the list leaves out)
    # A league's race (hosted, unofficial): its league and season, with their names.
    league_id: int = 0
    league_season_id: int = 0
    league_name: str | None = None
    league_season_name: str | None = None

    @property
    def base_lap(self) -> int:
        """Lap times in 1/10000 s; varied a little per race so races differ."""
        return 900_000 + (self.subsession_id % 7) * 10_000

    @property
    def class_names(self) -> dict[int, str]:
        return dict(self.classes)


@dataclass(frozen=True)
class Race:
    """A finished race as the fake serves it; the result body is encoded once, when it is added."""

    subsession_id: int
    start: float
    end: float
    body: bytes
    summaries: dict[int, dict[str, Any]] = field(default_factory=dict)  # cust_id -> recent-race row
    hosted_row: dict[str, Any] | None = None
    # The live side: while start <= now < end the race is in the spectator list (when ``listed``)
    # and its roster is readable; its results appear at ``published_at`` (-inf: at once).
    published_at: float = float("-inf")
    listed: bool = False
    session_id: int = 0
    season_id: int = 0
    roster: tuple[dict[str, Any], ...] = ()
    series_row: dict[str, Any] | None = None  # its row in results/search_series (official races only)

    def live_at(self, now: float) -> bool:
        return self.start <= now < self.end

    def published(self, now: float) -> bool:
        return now >= self.published_at


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_epoch(value: datetime | float | int | str | None, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, str):
        return to_epoch(datetime.fromisoformat(value), default)
    return float(value)


@dataclass(slots=True)
class RequestRecord:
    """One request the fake received; mutable because its status is known only once it is answered."""

    at: float
    kind: str  # "data", "s3", "oauth", "legacy_auth"
    path: str
    query: str
    authorization: bool  # an Authorization header was sent
    status: int = 0
    grant_type: str | None = None
    fault: str | None = None  # the armed fault that shaped the answer, if one did


def recent_start(minutes_ago: float, now: float | None = None) -> datetime:
    """A session start ``minutes_ago`` before now, for ``add_race(session_start_time=...)``."""
    return datetime.fromtimestamp(now if now is not None else time.time(), UTC) - timedelta(minutes=minutes_ago)
