"""The race card: what one server's result message says about one race, as plain data.

A card is built once from a parsed subsession and stored as JSON in the post outbox, so a
retry can post it again without asking iRacing. Pure: no I/O, no discord.py; the embed is
drawn from a card by ``embeds.card_to_embed``. The small formatters used by the embed live
here too, so that the numbers can be tested without discord.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING as NO_DEFAULT
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ir2dis_cog.core.stored import plain_fields, versioned_json, versioned_object
from ir2dis_cog.iracing.models import DriverResult, Subsession, TeamResult, license_class, safety_rating

CARD_VERSION = 1
MISSING = "—"
RESULTS_URL = "https://members-ng.iracing.com/racing/results-stats/results?subsessionid={id}"
# A league's page on the members' site, which holds its seasons' standings. Reported, not
# documented: other projects link to it in this form; neither the data API nor the recorded
# answers name a page of one season's standings, so the card links the league's page.
LEAGUE_URL = "https://members.iracing.com/membersite/member/LeagueView.do?league={id}"
# An embed shows at most 25 fields and 6,000 characters, so a card keeps no more cars or
# drivers than that could ever show, and only counts the rest: the stored JSON stays small
# (well under the 64 KiB of a MySQL TEXT column) however many drivers a server tracks.
MAX_ENTRIES = 25
MAX_DRIVERS = 60
# The top of the order on an unofficial race's card: a few cars, or for a league the server
# follows the whole field up to as many cars as an embed could show (the rest is counted).
FIELD_TOP = 5
MAX_FIELD = 25

# English names on purpose: strftime's %a/%b follow the process locale.
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class CardFormatError(ValueError):
    """A stored card that cannot be read back (corrupt, or from an unknown format version)."""


# --- the card --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DriverLine:
    """One tracked driver's own numbers (in a team race: their stints, not the car's)."""

    cust_id: int
    name: str
    laps_complete: int | None
    laps_led: int | None
    incidents: int | None
    best_lap_time: float | None
    old_irating: int | None
    new_irating: int | None
    old_sub_level: int | None
    new_sub_level: int | None
    old_license_level: int | None
    new_license_level: int | None
    champ_points: int | None


@dataclass(frozen=True, slots=True)
class TeamLine:
    """The team car's own totals in a team event."""

    team_id: int
    name: str
    laps_complete: int | None
    laps_led: int | None
    incidents: int | None
    best_lap_time: float | None


@dataclass(frozen=True, slots=True)
class EntryLine:
    """One car in the race that carries at least one tracked driver."""

    car_name: str | None
    class_name: str | None
    class_sof: int | None
    class_size: int | None
    finish_position: int | None
    finish_position_in_class: int | None
    start_position: int | None
    start_position_in_class: int | None
    reason_out: str | None
    team: TeamLine | None
    drivers: tuple[DriverLine, ...]

    @property
    def finished_running(self) -> bool:
        """Unless iRacing says why the car stopped, it is taken as running (no "out:" line)."""
        return not dropped_out(self.reason_out)


@dataclass(frozen=True, slots=True)
class FieldLine:
    """One car of the top of the order (unofficial races): whoever drove it, tracked or not."""

    finish_position: int | None
    name: str  # the driver, or the team in a team race
    car_name: str | None
    class_name: str | None
    laps_complete: int | None
    interval: float | None  # seconds behind the winner; None for the winner, lapped or unknown
    laps_down: int  # 0 when either lap count is unknown
    reason_out: str | None
    champ_points: int | None
    tracked: bool


@dataclass(frozen=True, slots=True)
class RaceCard:
    subsession_id: int
    series_name: str | None
    track_name: str | None
    track_config: str | None
    start_epoch: int
    start_local: str  # the start in the server's zone, e.g. "Sat 22 Nov 08:00 CET"
    official: bool | None  # None: the results did not say
    event_sof: int | None
    split_number: int | None
    num_splits: int
    field_size: int
    multiclass: bool
    team_event: bool
    entries: tuple[EntryLine, ...]
    more_drivers: int = 0  # tracked drivers in this race beyond the entries kept
    # Unofficial races (all absent on an official one, and on cards stored before they existed).
    kind: str = "official"  # official, hosted or league (Subsession.kind)
    league_id: int | None = None
    league_name: str | None = None
    league_season_id: int | None = None
    league_season_name: str | None = None
    session_name: str | None = None
    host_name: str | None = None
    cars: tuple[str, ...] = ()  # the cars raced, in order of their best finish
    field: tuple[FieldLine, ...] = ()  # the top of the order
    more_field: int = 0  # cars beyond the top of the order kept

    @property
    def unofficial(self) -> bool:
        return self.kind != "official"

    @property
    def driver_count(self) -> int:
        """Every tracked driver of the race, kept or only counted."""
        return sum(len(e.drivers) for e in self.entries) + self.more_drivers

    def to_json(self) -> str:
        """Compact JSON: ``None`` values are left out, ASCII only (safe in any database charset)."""
        return versioned_json(_encode(self), CARD_VERSION)

    @classmethod
    def from_json(cls, text: str) -> RaceCard:
        raw = versioned_object(text, CARD_VERSION, "stored card", CardFormatError)
        try:
            return _decode_card(raw)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CardFormatError(f"stored card is malformed ({type(exc).__name__})") from None


def card_marker(subsession_id: int) -> str:
    """The footer text of a card: the publisher looks for it to find a card already sent."""
    return f"Subsession {subsession_id}"


def results_url(subsession_id: int) -> str:
    return RESULTS_URL.format(id=int(subsession_id))


def league_url(league_id: int) -> str:
    return LEAGUE_URL.format(id=int(league_id))


def dropped_out(reason_out: str | None) -> bool:
    """Whether iRacing says the car stopped before the flag ("Disconnected", "DQ"...)."""
    return reason_out is not None and reason_out.strip().lower() != "running"


def is_disqualified(reason_out: str | None) -> bool:
    return reason_out is not None and reason_out.strip().upper().startswith("DQ")


def race_title(kind: str, series_name: str | None, session_name: str | None) -> str:
    """What a card is called: an unofficial race by its session's name, an official one by its
    series; without either, what kind of race it is."""
    if kind != "official" and session_name:
        return session_name
    if series_name:
        return series_name
    return {"league": "League race", "hosted": "Hosted race"}.get(kind, "Official race")


def laps_behind(winner_laps: int | None, laps: int | None) -> int:
    """Laps down on the winner; 0 when either count is unknown (the gap then says what it can)."""
    if winner_laps is None or laps is None:
        return 0
    return max(0, winner_laps - laps)


def ratings_changed(driver: DriverLine) -> bool:
    """Whether the payload says this race moved the driver's iRating or safety rating (an
    unofficial race changes neither, so its card shows them only when it did)."""
    pairs = (
        (driver.old_irating, driver.new_irating),
        (driver.old_sub_level, driver.new_sub_level),
        (driver.old_license_level, driver.new_license_level),
    )
    return any(old is not None and new is not None and old != new for old, new in pairs)


# --- JSON codec (explicit per class: the format is stored, so it must not drift silently) -----


def _encode(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(obj):
        value = getattr(obj, f.name)
        if value is None or (f.default is not NO_DEFAULT and value == f.default):
            continue  # a default reads back as itself: an official card is stored as before
        if isinstance(value, tuple):
            value = [_encode(item) if isinstance(item, (EntryLine, DriverLine, FieldLine)) else item for item in value]
        elif isinstance(value, TeamLine):
            value = _encode(value)
        out[f.name] = value
    return out


def _decode_driver(raw: Mapping[str, Any]) -> DriverLine:
    return DriverLine(**plain_fields(DriverLine, raw))


def _decode_entry(raw: Mapping[str, Any]) -> EntryLine:
    values = plain_fields(EntryLine, raw)
    team = raw.get("team")
    values["team"] = TeamLine(**plain_fields(TeamLine, team)) if team is not None else None
    values["drivers"] = tuple(_decode_driver(d) for d in raw["drivers"])
    return EntryLine(**values)


def _decode_card(raw: Mapping[str, Any]) -> RaceCard:
    values = plain_fields(RaceCard, raw)
    values["entries"] = tuple(_decode_entry(e) for e in raw["entries"])
    values["cars"] = tuple(str(c) for c in raw.get("cars", ()))
    values["field"] = tuple(FieldLine(**plain_fields(FieldLine, f)) for f in raw.get("field", ()))
    return RaceCard(**values)


# --- building ---------------------------------------------------------------------------------


def build_card(
    subsession: Subsession, tracked: Mapping[int, str], timezone: str, *, whole_field: bool = False
) -> RaceCard:
    """The card for one server: every car of this race that carries a driver the server tracks.

    ``tracked`` maps cust_id -> the display name the server stored (iRacing's name is the
    fallback when that is blank). ``timezone`` is an IANA name; an unknown one falls back to UTC
    rather than keeping a finished race from being posted. An unofficial race's card also keeps
    the top of the order: ``FIELD_TOP`` cars, or with ``whole_field`` (the server follows the
    league) up to ``MAX_FIELD``.
    """
    entries: list[EntryLine] = []
    kept_drivers = more_drivers = 0
    for row in subsession.results:  # already in finishing order
        if isinstance(row, TeamResult):
            drivers = tuple(driver_line(d, tracked) for d in row.drivers if d.cust_id in tracked)
            team: TeamLine | None = TeamLine(
                team_id=row.team_id,
                name=row.display_name,
                laps_complete=row.laps_complete,
                laps_led=row.laps_led,
                incidents=row.incidents,
                best_lap_time=row.best_lap_time,
            )
        else:
            drivers = (driver_line(row, tracked),) if row.cust_id in tracked else ()
            team = None
        if not drivers:
            continue
        # Once one car is left out, every later one is too: the kept ones stay the top of the order.
        if more_drivers or len(entries) >= MAX_ENTRIES or kept_drivers + len(drivers) > MAX_DRIVERS:
            more_drivers += len(drivers)
        else:
            entries.append(_entry_line(subsession, row, team, drivers))
            kept_drivers += len(drivers)
    start = subsession.start_time
    unofficial = subsession.kind != "official"
    field = field_lines(subsession, tracked, MAX_FIELD if whole_field else FIELD_TOP) if unofficial else ()
    return RaceCard(
        subsession_id=subsession.subsession_id,
        series_name=subsession.series_name,
        track_name=subsession.track_name,
        track_config=subsession.track_config,
        start_epoch=int(start.timestamp()),
        start_local=format_local_time(start, timezone),
        official=subsession.official,
        event_sof=subsession.event_strength_of_field,
        split_number=subsession.split_number,
        num_splits=subsession.num_splits,
        field_size=subsession.field_size,
        multiclass=subsession.multiclass,
        team_event=subsession.team_event,
        entries=tuple(entries),
        more_drivers=more_drivers,
        kind=subsession.kind,
        league_id=subsession.league_id,
        league_name=subsession.league_name,
        league_season_id=subsession.league_season_id,
        league_season_name=subsession.league_season_name,
        session_name=subsession.session_name,
        host_name=subsession.host_name,
        cars=cars_raced(subsession) if unofficial else (),
        field=field,
        more_field=max(0, len(subsession.results) - len(field)) if unofficial else 0,
    )


def cars_raced(subsession: Subsession) -> tuple[str, ...]:
    """The cars of the race, in order of their best finish (a row without its car adds none)."""
    return tuple(dict.fromkeys(r.car_name for r in subsession.results if r.car_name))


def field_lines(subsession: Subsession, tracked: Mapping[int, str], limit: int) -> tuple[FieldLine, ...]:
    """The first ``limit`` cars of the race in finishing order, tracked or not."""
    rows = subsession.results[: max(0, limit)]
    winner_laps = subsession.results[0].laps_complete if subsession.results else None
    out: list[FieldLine] = []
    for row in rows:
        members = row.drivers if isinstance(row, TeamResult) else (row,)
        is_tracked = any(d.cust_id in tracked for d in members)
        if isinstance(row, TeamResult):
            name = row.display_name
        else:
            name = (tracked.get(row.cust_id) or "").strip() or row.display_name
        out.append(
            FieldLine(
                finish_position=row.finish_position,
                name=name,
                car_name=row.car_name,
                class_name=row.class_label,
                laps_complete=row.laps_complete,
                interval=row.interval,
                laps_down=laps_behind(winner_laps, row.laps_complete),
                reason_out=row.reason_out,
                champ_points=row.champ_points,
                tracked=is_tracked,
            )
        )
    return tuple(out)


def driver_line(d: DriverResult, tracked: Mapping[int, str]) -> DriverLine:
    """A tracked driver's own numbers, named as the server stored them (else as iRacing shows them)."""
    stored = (tracked.get(d.cust_id) or "").strip()
    return DriverLine(
        cust_id=d.cust_id,
        name=stored or d.display_name,
        laps_complete=d.laps_complete,
        laps_led=d.laps_led,
        incidents=d.incidents,
        best_lap_time=d.best_lap_time,
        old_irating=d.old_irating,
        new_irating=d.new_irating,
        old_sub_level=d.old_sub_level,
        new_sub_level=d.new_sub_level,
        old_license_level=d.old_license_level,
        new_license_level=d.new_license_level,
        champ_points=d.champ_points,
    )


def _entry_line(
    subsession: Subsession,
    row: DriverResult | TeamResult,
    team: TeamLine | None,
    drivers: tuple[DriverLine, ...],
) -> EntryLine:
    car_class = subsession.car_class(row.car_class_id)
    class_size = car_class.num_entries if car_class is not None else None
    if class_size is None and row.car_class_id is not None:
        # Not announced in car_classes: count the class's cars in the race.
        class_size = sum(1 for r in subsession.results if r.car_class_id == row.car_class_id)
    return EntryLine(
        car_name=row.car_name,
        class_name=row.class_label or (car_class.label if car_class is not None else None),
        class_sof=car_class.strength_of_field if car_class is not None else None,
        class_size=class_size,
        finish_position=row.finish_position,
        finish_position_in_class=row.finish_position_in_class,
        start_position=row.starting_position,
        start_position_in_class=row.starting_position_in_class,
        reason_out=row.reason_out,
        team=team,
        drivers=drivers,
    )


# --- formatters (pure; shared with the embed) -------------------------------------------------


def in_zone(moment: datetime, timezone: str) -> tuple[datetime, str]:
    """``moment`` in ``timezone`` (UTC when the zone is unknown) and the zone's short name."""
    try:
        zone: Any = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    local = aware.astimezone(zone)
    return local, local.tzname() or "UTC"


def format_local_time(moment: datetime, timezone: str) -> str:
    """``Sat 22 Nov 08:00 CET`` in ``timezone`` (UTC when the zone is unknown)."""
    local, label = in_zone(moment, timezone)
    return f"{DAY_NAMES[local.weekday()]} {local.day:02d} {MONTH_NAMES[local.month - 1]} {local:%H:%M} {label}"


def format_position(position: int | None) -> str:
    return f"P{position}" if position is not None else MISSING


def format_gain(start: int | None, finish: int | None) -> str:
    """Places gained (``▲3``), lost (``▼2``) or kept (``±0``) from start to finish."""
    if start is None or finish is None:
        return MISSING
    gained = start - finish
    if gained > 0:
        return f"▲{gained}"
    if gained < 0:
        return f"▼{-gained}"
    return "±0"


def format_laps(count: int | None) -> str:
    """``1 lap``, ``12 laps``; ``—`` when unknown."""
    if count is None:
        return MISSING
    return f"{count} lap" if count == 1 else f"{count} laps"


def format_incidents(count: int | None) -> str:
    """``4x`` as the sim writes incidents; ``—`` when unknown."""
    return MISSING if count is None else f"{count}x"


def format_signed(delta: int) -> str:
    return f"+{delta}" if delta > 0 else ("±0" if delta == 0 else f"-{-delta}")


def format_lap(seconds: float | None) -> str:
    """A lap as ``m:ss.fff`` (``h:mm:ss.fff`` past an hour); thousandths are cut, not rounded,
    as the sim shows them."""
    if seconds is None or seconds <= 0:
        return MISSING
    millis = round(seconds * 10_000) // 10  # iRacing's unit is 1/10000 s
    minutes, ms = divmod(millis, 60_000)
    hours, minutes = divmod(minutes, 60)
    secs = f"{ms // 1000:02d}.{ms % 1000:03d}"
    return f"{hours}:{minutes:02d}:{secs}" if hours else f"{minutes}:{secs}"


def format_irating(old: int | None, new: int | None) -> str:
    """``6223 → 6260 (+37)``; a missing side shows ``—`` and no delta."""
    if old is None and new is None:
        return MISSING
    text = f"{_num(old)} → {_num(new)}"
    if old is not None and new is not None:
        text += f" ({format_signed(new - old)})"
    return text


def format_license(level: int | None, sub_level: int | None) -> str:
    """``B 3.30``: the class letter and the safety rating."""
    letter = license_class(level)
    rating = safety_rating(sub_level)
    if letter is None and rating is None:
        return MISSING
    parts = [letter or MISSING, f"{rating:.2f}" if rating is not None else MISSING]
    return " ".join(parts)


def format_safety(old_level: int | None, old_sub: int | None, new_level: int | None, new_sub: int | None) -> str:
    """``B 3.30 → B 3.37``."""
    old, new = format_license(old_level, old_sub), format_license(new_level, new_sub)
    if old == MISSING and new == MISSING:
        return MISSING
    return f"{old} → {new}"


def track_label(name: str | None, config: str | None) -> str | None:
    """A track as the cards show it: "Spa · Grand Prix", or the name alone without a config;
    None when iRacing named no track (the card leaves the line out)."""
    if not name:
        return None
    return name + (f" · {config}" if config else "")


def format_number(value: int | None) -> str:
    return _num(value)


def format_gap(seconds: float | None, laps_down: int) -> str:
    """Behind the winner: ``+3.756s``, ``+1:02.345``, ``+2 laps``."""
    if laps_down > 0:
        return f"+{laps_down} lap" if laps_down == 1 else f"+{laps_down} laps"
    if seconds is None:
        return MISSING
    if seconds < 60:
        millis = round(seconds * 10_000) // 10
        return f"+{millis // 1000}.{millis % 1000:03d}s"
    return f"+{format_lap(seconds)}"


def _num(value: int | None) -> str:
    return MISSING if value is None else str(value)
