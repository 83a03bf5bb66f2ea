"""The fake's world: members and finished races, and the per-driver indexes the data API reads."""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from . import payloads
from .leagues import FakeLeague, FakeSeason
from .records import Member, Race, RaceSpec, RawEntry, as_entry, iso, to_epoch

RECENT_RACES = 10  # member_recent_races lists this many
LIVE_WEEK = 3  # the week every live race is in (the live list's race_week_num; the schedule's too)


@dataclass
class World:
    """Members and races; mutable, since tests add to it while the client runs."""

    members: dict[int, Member] = field(default_factory=dict)
    races: dict[int, Race] = field(default_factory=dict)
    recent: dict[int, list[tuple[float, int]]] = field(default_factory=dict)  # cust_id -> [(-start, sid)]
    recent_cache: dict[int, tuple[tuple[int, ...], bytes]] = field(default_factory=dict)  # cust_id -> (ids, body)
    live_index: list[int] = field(default_factory=list)  # listed races not over yet, in id order
    live_noise: list[dict[str, Any]] = field(default_factory=list)  # other live subsessions (practice...)
    hosted: dict[int, list[int]] = field(default_factory=dict)  # cust_id -> hosted subsession ids
    leagues: dict[int, FakeLeague] = field(default_factory=dict)
    # season_id -> race_week_num -> its `season_schedule` row: the first official race of a season
    # names its series and its week's track (one track a week, as in iRacing).
    schedules: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)
    next_subsession: int = 90_000_001
    next_team: int = 500_001

    def add_member(
        self,
        cust_id: int,
        display_name: str | None = None,
        *,
        irating: int | None = None,
        license_level: int | None = None,
        sub_level: int | None = None,
    ) -> None:
        # Defaults vary with the id so that drivers differ without a test saying how.
        self.members[cust_id] = Member(
            cust_id=cust_id,
            display_name=display_name or f"Driver {cust_id}",
            irating=irating if irating is not None else 1200 + cust_id % 3000,
            license_level=license_level if license_level is not None else 9 + cust_id % 12,
            sub_level=sub_level if sub_level is not None else 100 + cust_id % 399,
        )
        self.recent_cache.pop(cust_id, None)

    def member(self, cust_id: int) -> Member:
        """The member, made up with defaults if no test added them."""
        if cust_id not in self.members:
            self.add_member(cust_id)
        return self.members[cust_id]

    def claim_subsession(self, subsession_id: int | None) -> int:
        """The id for a new race: the one asked for, or the next free one."""
        if subsession_id is None:
            subsession_id = self.next_subsession
        self.next_subsession = max(self.next_subsession, subsession_id) + 1
        return subsession_id

    def add_race(self, spec: RaceSpec) -> Race:
        """Builds the race's answers once, stores it, and lists it for its drivers."""
        members = {c: self.member(c) for car in spec.cars for c in car.cust_ids}
        placings = payloads.place_cars(spec)
        rows = payloads.result_rows(spec, placings, members, self.next_team)
        self.next_team += payloads.team_count(spec)
        ratings = payloads.class_ratings(spec, placings, members)
        body = payloads.subsession_body(spec, rows, ratings, placings)
        summaries = payloads.recent_race_summaries(spec, rows, payloads.field_sof(ratings))
        hosted_row = None
        if spec.hosted:
            host_name = self.member(spec.host_cust_id).display_name if spec.host_cust_id else "Host"
            hosted_row = payloads.hosted_row(spec, rows, host_name)
        race = Race(
            spec.subsession_id,
            spec.start,
            spec.end,
            json.dumps(body).encode(),
            summaries,
            hosted_row,
            published_at=float("-inf") if spec.results_delay is None else spec.end + spec.results_delay,
            listed=spec.official and not spec.hosted and spec.live_listed,
            session_id=spec.subsession_id + 200_000_000,
            season_id=spec.season_id,
            roster=payloads.roster_entries(spec, members),
            series_row=payloads.series_row(spec, rows) if spec.official and not spec.hosted else None,
        )
        self.races[spec.subsession_id] = race
        if spec.official and not spec.hosted:
            weeks = self.schedules.setdefault(spec.season_id, {})
            weeks.setdefault(LIVE_WEEK, payloads.schedule_week(spec, LIVE_WEEK))
        if spec.league_id:
            self.leagues[spec.league_id].seasons[spec.league_season_id].sessions.append(spec.subsession_id)
        if race.listed:
            self.live_index.append(spec.subsession_id)
        for cust_id in summaries:
            if spec.hosted:
                self.hosted.setdefault(cust_id, []).append(spec.subsession_id)
            elif spec.official:
                bisect.insort(self.recent.setdefault(cust_id, []), (-spec.start, spec.subsession_id))
                self.recent_cache.pop(cust_id, None)
        return race

    def strip_results(self, subsession_id: int, keys: Iterable[str]) -> None:
        """The race's ``results/get`` answer from now on without ``keys``, wherever they appear."""
        race = self.races[subsession_id]
        body = payloads.without_keys(json.loads(race.body), frozenset(keys))
        self.races[subsession_id] = replace(race, body=json.dumps(body).encode())

    def recent_race_ids(self, cust_id: int, now: float = float("inf")) -> list[int]:
        """The driver's latest races whose results are out at ``now`` (by default: all)."""
        listed = (sid for _, sid in self.recent.get(cust_id, []) if self.races[sid].published(now))
        return [sid for sid, _ in zip(listed, range(RECENT_RACES), strict=False)]

    def recent_body(self, cust_id: int, now: float = float("inf")) -> bytes:
        """`member_recent_races`, encoded once per change (the poller asks for it most)."""
        ids = tuple(self.recent_race_ids(cust_id, now))
        cached = self.recent_cache.get(cust_id)
        if cached is None or cached[0] != ids:
            races = [self.races[sid].summaries[cust_id] for sid in ids]
            cached = (ids, json.dumps(payloads.recent_races_body(cust_id, races)).encode())
            self.recent_cache[cust_id] = cached
        return cached[1]

    def live_body(self, now: float) -> dict[str, Any]:
        """The spectator list at ``now``: listed races between start and end, then the noise."""
        self.live_index = [sid for sid in self.live_index if self.races[sid].end > now]
        rows = [
            {
                "subsession_id": race.subsession_id,
                "session_id": race.session_id,
                "season_id": race.season_id,
                "start_time": iso(race.start),
                "race_week_num": LIVE_WEEK,
                "event_type": 5,
            }
            for race in (self.races[sid] for sid in self.live_index)
            if race.live_at(now)
        ]
        return payloads.live_races_body(rows, self.live_noise)

    def season_schedule(self, season_id: int) -> dict[str, Any]:
        return payloads.season_schedule_body(season_id, self.schedules.get(season_id, {}))

    def roster(self, subsession_id: int, now: float) -> tuple[dict[str, Any], ...]:
        """Who is in a subsession: its drivers while it is live, nobody before or after (or unknown)."""
        race = self.races.get(subsession_id)
        return race.roster if race is not None and race.live_at(now) else ()

    def hosted_rows(self, cust_id: int, finished_after: float, now: float = float("inf")) -> list[dict[str, Any]]:
        rows = []
        for sid in self.hosted.get(cust_id, []):
            race = self.races[sid]
            over = race.end <= now and race.published(now)
            if race.end >= finished_after and race.hosted_row is not None and over:
                rows.append(race.hosted_row)
        return rows

    def series_rows(self, begin: float, end: float, now: float) -> list[dict[str, Any]]:
        """`search_series`: official races that finished in [begin, end] and whose results are out."""
        races = (r for r in self.races.values() if r.series_row is not None and begin <= r.end <= end)
        return [
            r.series_row
            for r in sorted(races, key=lambda r: (r.end, r.subsession_id))
            if r.published(now) and r.end <= now
        ]

    def add_league(
        self, league_id: int, name: str, seasons: Sequence[tuple[int, str]], *, private_results: bool = False
    ) -> FakeLeague:
        league = FakeLeague(league_id, name, private_results=private_results)
        for season_id, season_name in seasons:
            league.seasons[season_id] = FakeSeason(season_id, season_name)
        self.leagues[league_id] = league
        return league

    def league_rows(self, season: FakeSeason, now: float) -> dict[int, dict[str, Any]]:
        """The season's races whose results are out, with their search_hosted rows."""
        out = {}
        for sid in season.sessions:
            race = self.races[sid]
            if race.published(now) and race.end <= now and race.hosted_row is not None:
                out[sid] = race.hosted_row
        return out


def race_spec(
    subsession_id: int,
    entries: Sequence[RawEntry],
    *,
    now: float,
    session_start_time: datetime | float | str | None,
    race_minutes: float,
    car_classes: Sequence[tuple[int, str]] | None,
    **settings: Any,
) -> RaceSpec:
    """A `RaceSpec` from `add_race`'s arguments: by default the race started `race_minutes` ago."""
    start = to_epoch(session_start_time, now - race_minutes * 60)
    return RaceSpec(
        subsession_id=subsession_id,
        start=start,
        end=start + race_minutes * 60,
        cars=tuple(as_entry(e) for e in entries),
        classes=tuple(car_classes or [(74, "Fake Class")]),
        **settings,
    )
