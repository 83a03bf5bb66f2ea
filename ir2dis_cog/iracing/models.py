"""Typed, immutable results parsed from iRacing's JSON: pure functions, no I/O.

Conventions, fixed here once so no caller has to remember them:
- positions are **1-based** everywhere (``results/get`` sends 0-based ones; we add 1 at parse time,
  ``member_recent_races`` already sends 1-based ones);
- lap times are seconds as float (iRacing sends 1/10000 s);
- iRacing's ``-1`` ("none", e.g. no lap set, a team row's rating) becomes ``None``;
- times are aware ``datetime`` in UTC.

A payload that breaks the promise of its endpoint (missing key, wrong type) raises one
``ParseError`` naming the endpoint and the place, never a ``KeyError`` from deep inside.

A ``results/get`` answer promises little: iRacing leaves fields out of older, hosted and league
results and changes its payloads without notice. Only what a card cannot be drawn without is
required (``REQUIRED_RESULT_KEYS``); every other field is ``None`` when absent, never a made-up
``0`` or ``""``, and the cards show "—" for it or leave the line out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from .errors import ParseError

T = TypeVar("T")

RECENT_RACES = "stats/member_recent_races"
RESULTS_GET = "results/get"
MEMBER_GET = "member/get"
LOOKUP_DRIVERS = "lookup/drivers"
SEARCH_HOSTED = "results/search_hosted"

_LICENSE_CLASSES = ((4, "R"), (8, "D"), (12, "C"), (16, "B"), (20, "A"))


class _Bad(Exception):
    """Internal: where a payload broke its shape; turned into ParseError at the parser's edge."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where}: {what}")


# --- small typed readers (the path names the place for the error message) -------------------


def _obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _Bad(where, "expected an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _Bad(where, "expected a list")
    return value


def _get(d: Mapping[str, Any], key: str, where: str) -> Any:
    try:
        return d[key]
    except KeyError:
        raise _Bad(f"{where}.{key}", "missing") from None


def _int(d: Mapping[str, Any], key: str, where: str) -> int:
    value = _get(d, key, where)
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Bad(f"{where}.{key}", "expected a whole number")
    return value


def _opt_int(d: Mapping[str, Any], key: str, where: str) -> int | None:
    """A number where -1 (or an absent key) means "none"."""
    if d.get(key) is None:
        return None
    value = _int(d, key, where)
    return None if value == -1 else value


def _str(d: Mapping[str, Any], key: str, where: str) -> str:
    value = _get(d, key, where)
    if not isinstance(value, str):
        raise _Bad(f"{where}.{key}", "expected text")
    return value


def _opt_str(d: Mapping[str, Any], key: str, where: str) -> str | None:
    if d.get(key) is None:
        return None
    return _str(d, key, where)


def _bool(d: Mapping[str, Any], key: str, where: str, default: bool = False) -> bool:
    value = d.get(key, default)
    if not isinstance(value, bool):
        raise _Bad(f"{where}.{key}", "expected true or false")
    return value


def _time(d: Mapping[str, Any], key: str, where: str) -> datetime:
    text = _str(d, key, where)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise _Bad(f"{where}.{key}", "expected an ISO time") from None
    # iRacing writes UTC ("...Z"); a naive value is UTC too.
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _opt_time(d: Mapping[str, Any], key: str, where: str) -> datetime | None:
    return None if d.get(key) is None else _time(d, key, where)


def _pos0(d: Mapping[str, Any], key: str, where: str) -> int | None:
    """A 0-based position from results/get, as 1-based; -1 means none."""
    value = _int(d, key, where)
    return None if value < 0 else value + 1


def _opt_pos0(d: Mapping[str, Any], key: str, where: str) -> int | None:
    return None if d.get(key) is None else _pos0(d, key, where)


def _pos1(d: Mapping[str, Any], key: str, where: str) -> int | None:
    """A position that iRacing already sends 1-based (member_recent_races)."""
    value = _int(d, key, where)
    return None if value <= 0 else value


def _lap(d: Mapping[str, Any], key: str, where: str) -> float | None:
    """A lap time in 1/10000 s, as seconds; -1 (none) and 0 (no lap run) give None."""
    if d.get(key) is None:
        return None
    value = _int(d, key, where)
    return None if value <= 0 else value / 10_000


def _parse(endpoint: str, payload: Any, build: Callable[[Any], T]) -> T:
    """Run a builder; any shape error becomes one ParseError naming the endpoint."""
    try:
        return build(payload)
    except _Bad as exc:
        raise ParseError(endpoint, str(exc)) from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        # A builder bug or an unforeseen shape: still one error that names the endpoint.
        raise ParseError(endpoint, type(exc).__name__) from None


# --- license helpers -------------------------------------------------------------------------


def license_class(level: int | None) -> str | None:
    """License level (1..20+) -> class letter: 1-4 R, 5-8 D, 9-12 C, 13-16 B, 17-20 A, above Pro."""
    if level is None or level <= 0:
        return None
    for top, letter in _LICENSE_CLASSES:
        if level <= top:
            return letter
    return "Pro"


def safety_rating(sub_level: int | None) -> float | None:
    """Safety rating as shown in the sim: sub_level / 100 (``284`` -> ``2.84``)."""
    return None if sub_level is None or sub_level < 0 else sub_level / 100


# --- member_recent_races ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecentRace:
    subsession_id: int
    start_time: datetime
    series_name: str
    track_name: str
    finish_position: int | None
    start_position: int | None
    laps: int
    laps_led: int
    incidents: int
    points: int | None
    strength_of_field: int | None
    old_irating: int | None
    new_irating: int | None
    old_sub_level: int | None
    new_sub_level: int | None
    license_level: int | None
    series_id: int | None = None
    season_id: int | None = None
    car_id: int | None = None
    car_class_id: int | None = None
    winner_name: str | None = None


def _recent_race(raw: Any, where: str) -> RecentRace:
    r = _obj(raw, where)
    track = _obj(_get(r, "track", where), f"{where}.track")
    return RecentRace(
        subsession_id=_int(r, "subsession_id", where),
        start_time=_time(r, "session_start_time", where),
        series_name=_str(r, "series_name", where),
        track_name=_str(track, "track_name", f"{where}.track").strip(),
        finish_position=_pos1(r, "finish_position", where),
        start_position=_pos1(r, "start_position", where),
        laps=_int(r, "laps", where),
        laps_led=_int(r, "laps_led", where),
        incidents=_int(r, "incidents", where),
        points=_opt_int(r, "points", where),
        strength_of_field=_opt_int(r, "strength_of_field", where),
        old_irating=_opt_int(r, "oldi_rating", where),
        new_irating=_opt_int(r, "newi_rating", where),
        old_sub_level=_opt_int(r, "old_sub_level", where),
        new_sub_level=_opt_int(r, "new_sub_level", where),
        license_level=_opt_int(r, "license_level", where),
        series_id=_opt_int(r, "series_id", where),
        season_id=_opt_int(r, "season_id", where),
        car_id=_opt_int(r, "car_id", where),
        car_class_id=_opt_int(r, "car_class_id", where),
        winner_name=_opt_str(r, "winner_name", where),
    )


def parse_recent_races(payload: Any) -> list[RecentRace]:
    """``{cust_id, races: [...]}`` -> races, newest first as iRacing sends them."""

    def build(p: Any) -> list[RecentRace]:
        races = _list(_get(_obj(p, "body"), "races", "body"), "body.races")
        return [_recent_race(r, f"races[{i}]") for i, r in enumerate(races)]

    return _parse(RECENT_RACES, payload, build)


# --- results/get ------------------------------------------------------------------------------

# The keys a results/get answer cannot do without, wherever they appear: the race's id and the
# race session's rows, each with its position and who drove (a driver's id and name; a team's id,
# name and drivers). ``start_time`` too: the poller ages and orders races by it.
REQUIRED_RESULT_KEYS = frozenset(
    {
        "subsession_id",
        "start_time",
        "session_results",
        "simsession_number",
        "results",
        "finish_position",
        "cust_id",
        "display_name",
        "team_id",
        "driver_results",
    }
)


@dataclass(frozen=True, slots=True)
class DriverResult:
    cust_id: int
    display_name: str
    finish_position: int | None
    finish_position_in_class: int | None
    starting_position: int | None
    starting_position_in_class: int | None
    car_name: str | None
    car_class_id: int | None
    car_class_name: str | None
    car_class_short_name: str | None
    laps_complete: int | None
    laps_led: int | None
    incidents: int | None
    best_lap_time: float | None
    average_lap: float | None
    old_irating: int | None
    new_irating: int | None
    old_sub_level: int | None
    new_sub_level: int | None
    old_license_level: int | None
    new_license_level: int | None
    champ_points: int | None
    reason_out: str | None
    team_id: int | None = None
    car_id: int | None = None
    interval: float | None = None
    class_interval: float | None = None
    qual_lap_time: float | None = None
    country_code: str | None = None

    @property
    def old_license_class(self) -> str | None:
        return license_class(self.old_license_level)

    @property
    def new_license_class(self) -> str | None:
        return license_class(self.new_license_level)

    @property
    def old_safety_rating(self) -> float | None:
        return safety_rating(self.old_sub_level)

    @property
    def new_safety_rating(self) -> float | None:
        return safety_rating(self.new_sub_level)

    @property
    def class_label(self) -> str | None:
        return self.car_class_short_name or self.car_class_name


@dataclass(frozen=True, slots=True)
class TeamResult:
    team_id: int  # negative, as iRacing sends it
    display_name: str
    finish_position: int | None
    finish_position_in_class: int | None
    starting_position: int | None
    starting_position_in_class: int | None
    car_name: str | None
    car_class_id: int | None
    car_class_name: str | None
    car_class_short_name: str | None
    laps_complete: int | None
    laps_led: int | None
    incidents: int | None
    best_lap_time: float | None
    champ_points: int | None
    reason_out: str | None
    drivers: tuple[DriverResult, ...]
    average_lap: float | None = None
    car_id: int | None = None
    interval: float | None = None
    class_interval: float | None = None

    @property
    def class_label(self) -> str | None:
        return self.car_class_short_name or self.car_class_name


@dataclass(frozen=True, slots=True)
class CarClass:
    car_class_id: int
    name: str | None
    short_name: str | None
    strength_of_field: int | None
    num_entries: int | None

    @property
    def label(self) -> str | None:
        return self.short_name or self.name


def _interval(d: Mapping[str, Any], key: str, where: str) -> float | None:
    """Gap to the leader in seconds; -1 (lapped or none) gives None, 0 stays 0.0."""
    if d.get(key) is None:
        return None
    value = _int(d, key, where)
    return None if value < 0 else value / 10_000


def _text(d: Mapping[str, Any], key: str, where: str) -> str | None:
    """Optional text, trimmed; blank is None (iRacing writes "" for a track without a config)."""
    return (_opt_str(d, key, where) or "").strip() or None


def _count(d: Mapping[str, Any], key: str, where: str) -> int | None:
    """A count that may be absent (laps, incidents): None then, never 0."""
    return None if d.get(key) is None else _int(d, key, where)


def _driver_result(r: Mapping[str, Any], where: str) -> DriverResult:
    return DriverResult(
        cust_id=_int(r, "cust_id", where),
        display_name=_str(r, "display_name", where),
        finish_position=_pos0(r, "finish_position", where),
        finish_position_in_class=_opt_pos0(r, "finish_position_in_class", where),
        starting_position=_opt_pos0(r, "starting_position", where),
        starting_position_in_class=_opt_pos0(r, "starting_position_in_class", where),
        car_name=_text(r, "car_name", where),
        car_class_id=_opt_int(r, "car_class_id", where),
        car_class_name=_text(r, "car_class_name", where),
        car_class_short_name=_text(r, "car_class_short_name", where),
        laps_complete=_count(r, "laps_complete", where),
        laps_led=_count(r, "laps_lead", where),  # iRacing's spelling
        incidents=_count(r, "incidents", where),
        best_lap_time=_lap(r, "best_lap_time", where),
        average_lap=_lap(r, "average_lap", where),
        old_irating=_opt_int(r, "oldi_rating", where),
        new_irating=_opt_int(r, "newi_rating", where),
        old_sub_level=_opt_int(r, "old_sub_level", where),
        new_sub_level=_opt_int(r, "new_sub_level", where),
        old_license_level=_opt_int(r, "old_license_level", where),
        new_license_level=_opt_int(r, "new_license_level", where),
        champ_points=_opt_int(r, "champ_points", where),
        reason_out=_text(r, "reason_out", where),
        team_id=_opt_int(r, "team_id", where),
        car_id=_opt_int(r, "car_id", where),
        interval=_interval(r, "interval", where),
        class_interval=_interval(r, "class_interval", where),
        qual_lap_time=_lap(r, "qual_lap_time", where),
        country_code=_opt_str(r, "country_code", where),
    )


def _team_result(r: Mapping[str, Any], where: str) -> TeamResult:
    members = _list(_get(r, "driver_results", where), f"{where}.driver_results")
    drivers = tuple(
        _driver_result(_obj(d, f"{where}.driver_results[{i}]"), f"{where}.driver_results[{i}]")
        for i, d in enumerate(members)
    )
    return TeamResult(
        team_id=_int(r, "team_id", where),
        display_name=_str(r, "display_name", where),
        finish_position=_pos0(r, "finish_position", where),
        finish_position_in_class=_opt_pos0(r, "finish_position_in_class", where),
        starting_position=_opt_pos0(r, "starting_position", where),
        starting_position_in_class=_opt_pos0(r, "starting_position_in_class", where),
        car_name=_text(r, "car_name", where),
        car_class_id=_opt_int(r, "car_class_id", where),
        car_class_name=_text(r, "car_class_name", where),
        car_class_short_name=_text(r, "car_class_short_name", where),
        laps_complete=_count(r, "laps_complete", where),
        laps_led=_count(r, "laps_lead", where),
        incidents=_count(r, "incidents", where),
        best_lap_time=_lap(r, "best_lap_time", where),
        champ_points=_opt_int(r, "champ_points", where),
        reason_out=_text(r, "reason_out", where),
        drivers=drivers,
        average_lap=_lap(r, "average_lap", where),
        car_id=_opt_int(r, "car_id", where),
        interval=_interval(r, "interval", where),
        class_interval=_interval(r, "class_interval", where),
    )


def _result_row(raw: Any, where: str) -> DriverResult | TeamResult:
    r = _obj(raw, where)
    # A team row has driver_results (and no cust_id); a solo row has a cust_id.
    if "driver_results" in r:
        return _team_result(r, where)
    return _driver_result(r, where)


def _sort_key(row: DriverResult | TeamResult) -> tuple[int, int]:
    # Rows without a finishing position go last, in the order iRacing sent them.
    return (0, row.finish_position) if row.finish_position is not None else (1, 0)


@dataclass(frozen=True, slots=True)
class Subsession:
    subsession_id: int
    series_name: str | None
    series_short_name: str | None
    season_name: str | None
    start_time: datetime
    end_time: datetime | None
    official: bool | None  # None: the answer did not say (``kind`` then goes by what it shows)
    event_type_name: str | None
    event_strength_of_field: int | None
    track_name: str | None
    track_config: str | None
    car_classes: tuple[CarClass, ...]
    split_number: int | None
    num_splits: int
    field_size: int
    team_event: bool
    results: tuple[DriverResult | TeamResult, ...]
    series_id: int | None = None
    season_id: int | None = None
    session_id: int | None = None
    race_week_num: int | None = None
    event_best_lap_time: float | None = None
    event_average_lap: float | None = None
    num_cautions: int | None = None
    num_lead_changes: int | None = None
    license_category: str | None = None
    # 1 oval, 2 road (before 2024), 3 dirt oval, 4 dirt road, 5 sports car, 6 formula car
    license_category_id: int | None = None
    # Hosted and league races (``official_session`` false). ``league_name``, ``league_season_name``
    # and ``session_name`` are documented for results/get; ``league_id``, ``league_season_id`` and
    # ``host`` are assumed there (they are in search_hosted's rows): each is optional, 0 is "none".
    league_id: int | None = None
    league_name: str | None = None
    league_season_id: int | None = None
    league_season_name: str | None = None
    session_name: str | None = None
    host_name: str | None = None

    @property
    def kind(self) -> str:
        """ "official", "league" (a league's session) or "hosted" (any other unofficial race). An
        answer without ``official_session`` is a league's or a hosted race when it names its
        league, session or host, else official."""
        if self.official:
            return "official"
        if self.league_id or self.league_name:
            return "league"
        if self.official is False or self.session_name or self.host_name:
            return "hosted"
        return "official"

    def driver_rows(self) -> Iterator[tuple[TeamResult | None, DriverResult]]:
        """Every driver of the race with the team they drove for (None in a solo event)."""
        for row in self.results:
            if isinstance(row, TeamResult):
                for driver in row.drivers:
                    yield row, driver
            else:
                yield None, row

    def cust_ids(self) -> frozenset[int]:
        return frozenset(driver.cust_id for _, driver in self.driver_rows())

    def car_class(self, car_class_id: int | None) -> CarClass | None:
        return next((c for c in self.car_classes if c.car_class_id == car_class_id), None)

    @property
    def multiclass(self) -> bool:
        return len(self.car_classes) > 1


def _car_class(raw: Any, where: str) -> CarClass | None:
    """A class of the race; one without its id cannot be matched to a car and is left out."""
    c = _obj(raw, where)
    if c.get("car_class_id") is None:
        return None
    return CarClass(
        car_class_id=_int(c, "car_class_id", where),
        name=_text(c, "name", where),
        short_name=_text(c, "short_name", where),
        strength_of_field=_opt_int(c, "strength_of_field", where),
        num_entries=_opt_int(c, "num_entries", where),
    )


def _main_session(sessions: list[Any]) -> tuple[Mapping[str, Any], str]:
    """The main event: ``simsession_number == 0`` (practice and qualifying are negative)."""
    for i, raw in enumerate(sessions):
        where = f"session_results[{i}]"
        s = _obj(raw, where)
        if _int(s, "simsession_number", where) == 0:
            return s, where
    raise _Bad("session_results", "no main session (simsession_number 0)")


def _split(subsession_id: int, raw_splits: Any) -> tuple[int | None, int]:
    """(1-based split number, number of splits) from ``session_splits``; a split without its id
    still counts, it only cannot be ours."""
    if raw_splits is None:
        return None, 0
    splits = _list(raw_splits, "session_splits")
    ids = [
        _opt_int(_obj(s, f"session_splits[{i}]"), "subsession_id", f"session_splits[{i}]") for i, s in enumerate(splits)
    ]
    number = ids.index(subsession_id) + 1 if subsession_id in ids else None
    return number, len(ids)


def _subsession(raw: Any) -> Subsession:
    p = _obj(raw, "body")
    w = "body"
    subsession_id = _int(p, "subsession_id", w)
    track = _obj(p.get("track") or {}, "track")
    main, main_where = _main_session(_list(_get(p, "session_results", w), "session_results"))
    rows = _list(_get(main, "results", main_where), f"{main_where}.results")
    results = tuple(sorted((_result_row(r, f"{main_where}.results[{i}]") for i, r in enumerate(rows)), key=_sort_key))
    split_number, num_splits = _split(subsession_id, p.get("session_splits"))
    raw_classes = _list(p.get("car_classes") or [], "car_classes")
    classes = tuple(c for i, raw_c in enumerate(raw_classes) if (c := _car_class(raw_c, f"car_classes[{i}]")))
    official = p.get("official_session")
    series_name = _text(p, "series_name", w)
    return Subsession(
        subsession_id=subsession_id,
        series_name=series_name,
        series_short_name=_text(p, "series_short_name", w) or series_name,
        season_name=_text(p, "season_name", w),
        start_time=_time(p, "start_time", w),
        end_time=_opt_time(p, "end_time", w),
        official=None if official is None else _bool(p, "official_session", w),
        event_type_name=_text(p, "event_type_name", w),
        event_strength_of_field=_opt_int(p, "event_strength_of_field", w),
        track_name=_text(track, "track_name", "track"),
        track_config=_text(track, "config_name", "track"),
        car_classes=classes,
        split_number=split_number,
        num_splits=num_splits,
        field_size=len(results),
        team_event=any(isinstance(r, TeamResult) for r in results),
        results=results,
        series_id=_opt_int(p, "series_id", w),
        season_id=_opt_int(p, "season_id", w),
        session_id=_opt_int(p, "session_id", w),
        race_week_num=_opt_int(p, "race_week_num", w),
        event_best_lap_time=_lap(p, "event_best_lap_time", w),
        event_average_lap=_lap(p, "event_average_lap", w),
        num_cautions=_opt_int(p, "num_cautions", w),
        num_lead_changes=_opt_int(p, "num_lead_changes", w),
        license_category=_opt_str(p, "license_category", w),
        license_category_id=_opt_int(p, "license_category_id", w),
        league_id=_opt_id(p, "league_id", w),
        league_name=_text(p, "league_name", w),
        league_season_id=_opt_id(p, "league_season_id", w),
        league_season_name=_text(p, "league_season_name", w),
        session_name=_text(p, "session_name", w),
        host_name=_host_name(p.get("host"), w),
    )


def _opt_id(d: Mapping[str, Any], key: str, where: str) -> int | None:
    """An id where iRacing writes 0 (or -1) for "none" (league_id of a hosted session)."""
    value = _opt_int(d, key, where)
    return value if value is not None and value > 0 else None


def _host_name(host: Any, where: str) -> str | None:
    if not host:
        return None
    return _opt_str(_obj(host, f"{where}.host"), "display_name", f"{where}.host") or None


def parse_subsession(payload: Any) -> Subsession:
    """The body of ``results/get`` -> the main race session's results, 1-based."""
    return _parse(RESULTS_GET, payload, _subsession)


# --- members, lookup, hosted -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Member:
    cust_id: int
    display_name: str


@dataclass(frozen=True, slots=True)
class DriverLookup:
    cust_id: int
    display_name: str
    profile_disabled: bool


@dataclass(frozen=True, slots=True)
class HostedSession:
    subsession_id: int
    session_id: int | None
    session_name: str
    start_time: datetime
    end_time: datetime | None
    track_name: str
    track_config: str | None
    num_drivers: int | None
    winner_name: str | None
    host_display_name: str | None
    league_id: int | None = None
    league_season_id: int | None = None
    league_name: str | None = None
    league_season_name: str | None = None
    race_laps: int = 0
    race_length: int = 0  # minutes

    @property
    def has_race(self) -> bool:
        """A session without a race (practice or qualifying only) has neither race laps nor length."""
        return self.race_laps > 0 or self.race_length > 0


def parse_members(payload: Any) -> list[Member]:
    """``{success, cust_ids, members: [...]}`` -> members."""

    def build(p: Any) -> list[Member]:
        rows = _list(_get(_obj(p, "body"), "members", "body"), "body.members")
        out = []
        for i, raw in enumerate(rows):
            m = _obj(raw, f"members[{i}]")
            out.append(Member(_int(m, "cust_id", f"members[{i}]"), _str(m, "display_name", f"members[{i}]")))
        return out

    return _parse(MEMBER_GET, payload, build)


def parse_driver_lookup(payload: Any) -> list[DriverLookup]:
    """``[{cust_id, display_name, profile_disabled}]`` -> lookups."""

    def build(p: Any) -> list[DriverLookup]:
        out = []
        for i, raw in enumerate(_list(p, "body")):
            d = _obj(raw, f"[{i}]")
            out.append(
                DriverLookup(
                    cust_id=_int(d, "cust_id", f"[{i}]"),
                    display_name=_str(d, "display_name", f"[{i}]"),
                    profile_disabled=_bool(d, "profile_disabled", f"[{i}]"),
                )
            )
        return out

    return _parse(LOOKUP_DRIVERS, payload, build)


def _hosted(raw: Any, where: str) -> HostedSession:
    h = _obj(raw, where)
    track = _obj(h.get("track") or {}, f"{where}.track")
    return HostedSession(
        subsession_id=_int(h, "subsession_id", where),
        session_id=_opt_int(h, "session_id", where),
        session_name=_opt_str(h, "session_name", where) or "",
        start_time=_time(h, "start_time", where),
        end_time=_opt_time(h, "end_time", where),
        track_name=(_opt_str(track, "track_name", f"{where}.track") or "").strip(),
        track_config=(_opt_str(track, "config_name", f"{where}.track") or "").strip() or None,
        num_drivers=_opt_int(h, "num_drivers", where),
        winner_name=_opt_str(h, "winner_name", where),
        host_display_name=_host_name(h.get("host"), where),
        league_id=_opt_id(h, "league_id", where),
        league_season_id=_opt_id(h, "league_season_id", where),
        league_name=_opt_str(h, "league_name", where) or None,
        league_season_name=_opt_str(h, "league_season_name", where) or None,
        race_laps=max(0, _opt_int(h, "race_laps", where) or 0),
        race_length=max(0, _opt_int(h, "race_length", where) or 0),
    )


def parse_hosted(rows: Any) -> list[HostedSession]:
    """The rows of ``search_hosted``, merged from its chunks."""

    def build(p: Any) -> list[HostedSession]:
        return [_hosted(r, f"rows[{i}]") for i, r in enumerate(_list(p, "rows"))]

    return _parse(SEARCH_HOSTED, rows, build)
