"""The result picture of one race for one server, as plain data: everything the image shows.

Built once from a parsed subsession (and the lap chart, when it could be had) and stored as JSON
beside the text card in the post outbox, so the picture can be drawn again after a crash without
asking iRacing. Pure: no I/O, no discord.py. Positions are 1-based, lap times in seconds.

The chart keeps only what the image draws: the class position on each lap of every shown car with
a tracked driver and of its class's winner (the "class leader" line to compare against), run-length
coded, so a 24-hour race stays a few kilobytes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, is_dataclass, replace
from datetime import datetime
from typing import Any, Literal, get_args

from ir2dis_cog.core.cards import (
    DAY_NAMES,
    MONTH_NAMES,
    DriverLine,
    FieldLine,
    cars_raced,
    driver_line,
    field_lines,
    in_zone,
    is_disqualified,
    laps_behind,
)
from ir2dis_cog.core.stored import plain_fields, versioned_json, versioned_object
from ir2dis_cog.iracing.lap_chart import LapChart
from ir2dis_cog.iracing.models import DriverResult, Subsession, TeamResult

IMAGE_CARD_VERSION = 1
Kind = Literal["official", "hosted", "league"]
KINDS: tuple[str, ...] = get_args(Kind)
# A phone screen holds about this much; the rest of the tracked cars is counted, not drawn.
MAX_ENTRIES = 4
MAX_DRIVERS = 5
PODIUM_SIZE = 3
# An unofficial race's top of the order in the picture: a few cars, or the field of a league the
# server follows up to what still reads on a phone (the rest is counted).
FIELD_TOP = 5
MAX_FIELD = 12


class ImageCardFormatError(ValueError):
    """A stored image card that cannot be read back (corrupt, or an unknown format version)."""


# One tracked driver's own numbers (in a team race, their stint): the same as on the embed's card.
DriverRow = DriverLine
# One car of an unofficial race's top of the order: the same as on the embed's card.
FieldRow = FieldLine


@dataclass(frozen=True, slots=True)
class EntryRow:
    """One car with at least one tracked driver; ``group_id`` ties it to its chart line."""

    group_id: int  # the cust_id in a solo race, the (negative) team id in a team race
    class_id: int | None  # None: the results did not say (the race's cars are one class then)
    class_name: str | None
    car_name: str | None
    finish_position: int | None
    finish_position_in_class: int | None
    start_position: int | None
    start_position_in_class: int | None
    laps_complete: int | None
    laps_led: int | None
    incidents: int | None
    best_lap_time: float | None
    champ_points: int | None
    reason_out: str | None
    team_name: str | None
    drivers: tuple[DriverRow, ...]

    @property
    def disqualified(self) -> bool:
        return is_disqualified(self.reason_out)


@dataclass(frozen=True, slots=True)
class PodiumRow:
    position: int
    name: str  # the team in a team race
    laps_complete: int | None
    gap: float | None  # seconds behind the class winner; None when lapped or unknown
    laps_down: int  # 0 when either lap count is unknown
    reason_out: str | None
    tracked: bool


@dataclass(frozen=True, slots=True)
class ClassBlock:
    """A class with a tracked driver: its podium."""

    class_id: int | None
    name: str | None
    sof: int | None
    size: int
    podium: tuple[PodiumRow, ...]


@dataclass(frozen=True, slots=True)
class ChartLine:
    group_id: int
    label: str
    class_id: int | None
    leader: bool  # the class winner's car, drawn to compare against
    runs: tuple[tuple[int, int], ...]  # (first lap, class position), one per change
    last_lap: int
    pit_laps: tuple[int, ...]

    def points(self) -> list[tuple[int, int]]:
        """(lap, position) at each lap where the line bends, ending at ``last_lap``."""
        out: list[tuple[int, int]] = []
        for i, (lap, position) in enumerate(self.runs):
            if out and out[-1][1] != position and out[-1][0] < lap - 1:
                out.append((lap - 1, out[-1][1]))  # hold the old place until the lap before
            out.append((lap, position))
            end = self.runs[i + 1][0] - 1 if i + 1 < len(self.runs) else self.last_lap
            if i + 1 == len(self.runs) and end > lap:
                out.append((end, position))
        return out

    def position_at(self, lap: int) -> int | None:
        if lap > self.last_lap or not self.runs or lap < self.runs[0][0]:
            return None
        current = self.runs[0][1]
        for first, position in self.runs:
            if first > lap:
                break
            current = position
        return current


@dataclass(frozen=True, slots=True)
class ChartData:
    laps: int  # the x axis: 0 (the grid) .. laps
    max_position: int  # the y axis: 1 .. max_position
    lines: tuple[ChartLine, ...]  # leaders first, so tracked lines are drawn over them


@dataclass(frozen=True, slots=True)
class ImageCard:
    subsession_id: int
    series_name: str | None
    track_name: str | None
    track_config: str | None
    start_local: str  # e.g. "Sun 28 Dec 2025 21:30 CET", in the server's zone
    kind: str  # one of KINDS
    event_sof: int | None
    split_number: int | None
    num_splits: int
    field_size: int
    num_classes: int
    team_event: bool
    entries: tuple[EntryRow, ...]
    classes: tuple[ClassBlock, ...]
    chart: ChartData | None = None
    more_entries: int = 0  # cars with tracked drivers beyond those kept
    more_drivers: int = 0  # tracked drivers beyond those kept
    # Unofficial races: what the race is (absent on official ones and on older stored cards).
    official: bool = True  # the race's own flag (``kind`` is what the chip says)
    league_name: str | None = None
    league_season_name: str | None = None
    session_name: str | None = None
    host_name: str | None = None
    cars: tuple[str, ...] = ()
    field: tuple[FieldRow, ...] = ()  # the top of the order, drawn instead of the podiums
    more_field: int = 0

    @property
    def multiclass(self) -> bool:
        return self.num_classes > 1

    @property
    def unofficial(self) -> bool:
        return not self.official

    def to_json(self) -> str:
        """Compact ASCII JSON (safe in any database charset); ``None`` values are left out."""
        return versioned_json(_encode(self), IMAGE_CARD_VERSION)

    @classmethod
    def from_json(cls, text: str) -> ImageCard:
        raw = versioned_object(text, IMAGE_CARD_VERSION, "stored image card", ImageCardFormatError)
        try:
            card = _decode_card(raw)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise ImageCardFormatError(f"stored image card is malformed ({type(exc).__name__})") from None
        if card.kind not in KINDS:
            raise ImageCardFormatError(f"stored image card has an unknown kind {card.kind!r}")
        return card


def race_kind(subsession: Subsession) -> Kind:
    """What the picture calls the race: official, a league's race, or another hosted one."""
    kind = subsession.kind
    return "league" if kind == "league" else ("hosted" if kind == "hosted" else "official")


# The outbox column is TEXT, 64 KiB on MariaDB; cards are a few KiB, a long chart is the only
# thing that could grow past it.
STORED_JSON_LIMIT = 60_000


def fit_for_storage(card: ImageCard, limit: int = STORED_JSON_LIMIT) -> tuple[ImageCard, str]:
    """The card the outbox can keep, with its JSON: without its chart when that is too long."""
    text = card.to_json()
    if len(text) <= limit or card.chart is None:
        return card, text
    bare = replace(card, chart=None)
    return bare, bare.to_json()


# --- building ---------------------------------------------------------------------------------


def build_image_card(
    subsession: Subsession,
    tracked: Mapping[int, str],
    timezone: str,
    chart: LapChart | None,
    kind: Kind,
    *,
    whole_field: bool = False,
) -> ImageCard:
    """The picture's data for one server: the cars that carry a driver it tracks (by finish),
    their classes' podiums and, with ``chart``, their class positions lap by lap.

    ``tracked`` maps cust_id -> the name the server stored (iRacing's is used when blank);
    ``timezone`` is an IANA name (an unknown one falls back to UTC rather than block the post).
    An unofficial race shows its top of the order instead of podiums: ``FIELD_TOP`` cars, or
    with ``whole_field`` (the server follows the league) up to ``MAX_FIELD``.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    entries: list[EntryRow] = []
    more_entries = more_drivers = kept_drivers = 0
    for row in subsession.results:  # already in finishing order
        members = row.drivers if isinstance(row, TeamResult) else (row,)
        drivers = tuple(driver_line(d, tracked) for d in members if d.cust_id in tracked)
        if not drivers:
            continue
        # Once one car is left out every later one is too: the kept ones stay the top of the order.
        if more_entries or len(entries) >= MAX_ENTRIES or kept_drivers + len(drivers) > MAX_DRIVERS:
            more_entries += 1
            more_drivers += len(drivers)
            continue
        entries.append(_entry_row(subsession, row, drivers))
        kept_drivers += len(drivers)

    class_ids = list(dict.fromkeys(e.class_id for e in entries))
    classes = tuple(_class_block(subsession, cid, tracked) for cid in class_ids)
    unofficial = subsession.kind != "official"
    field = field_lines(subsession, tracked, MAX_FIELD if whole_field else FIELD_TOP) if unofficial else ()
    return ImageCard(
        subsession_id=subsession.subsession_id,
        series_name=subsession.series_name,
        track_name=subsession.track_name,
        track_config=subsession.track_config,
        start_local=format_start(subsession.start_time, timezone),
        kind=kind,
        event_sof=subsession.event_strength_of_field,
        split_number=subsession.split_number,
        num_splits=subsession.num_splits,
        field_size=subsession.field_size,
        num_classes=max(len(subsession.car_classes), len({r.car_class_id for r in subsession.results} - {None})),
        team_event=subsession.team_event,
        entries=tuple(entries),
        classes=classes,
        chart=_chart_data(subsession, entries, classes, chart) if chart is not None else None,
        more_entries=more_entries,
        more_drivers=more_drivers,
        official=not unofficial,
        league_name=subsession.league_name if unofficial else None,
        league_season_name=subsession.league_season_name if unofficial else None,
        session_name=subsession.session_name if unofficial else None,
        host_name=subsession.host_name if unofficial else None,
        cars=cars_raced(subsession) if unofficial else (),
        field=field,
        more_field=max(0, len(subsession.results) - len(field)) if unofficial else 0,
    )


def format_start(moment: datetime, timezone: str) -> str:
    """``Sun 28 Dec 2025 21:30 CET`` in ``timezone`` (UTC when the zone is unknown). English names
    on purpose: strftime's would follow the process locale."""
    local, label = in_zone(moment, timezone)
    day = DAY_NAMES[local.weekday()]
    return f"{day} {local.day} {MONTH_NAMES[local.month - 1]} {local.year} {local:%H:%M} {label}"


def _group_id(row: DriverResult | TeamResult) -> int:
    return row.team_id if isinstance(row, TeamResult) else row.cust_id


def _entry_row(subsession: Subsession, row: DriverResult | TeamResult, drivers: tuple[DriverRow, ...]) -> EntryRow:
    return EntryRow(
        group_id=_group_id(row),
        class_id=row.car_class_id,
        class_name=_class_name(subsession, row.car_class_id, row.class_label),
        car_name=row.car_name,
        finish_position=row.finish_position,
        finish_position_in_class=row.finish_position_in_class,
        start_position=row.starting_position,
        start_position_in_class=row.starting_position_in_class,
        laps_complete=row.laps_complete,
        laps_led=row.laps_led,
        incidents=row.incidents,
        best_lap_time=row.best_lap_time,
        champ_points=row.champ_points,
        reason_out=row.reason_out,
        team_name=row.display_name if isinstance(row, TeamResult) else None,
        drivers=drivers,
    )


def _class_name(subsession: Subsession, class_id: int | None, fallback: str | None) -> str | None:
    car_class = subsession.car_class(class_id)
    return (car_class.label if car_class is not None else None) or fallback


def _class_rows(subsession: Subsession, class_id: int | None) -> list[DriverResult | TeamResult]:
    rows = [r for r in subsession.results if r.car_class_id == class_id]
    return sorted(rows, key=lambda r: r.finish_position_in_class or 1_000_000)


def _row_name(row: DriverResult | TeamResult, tracked: Mapping[int, str]) -> str:
    if isinstance(row, DriverResult):
        return (tracked.get(row.cust_id) or "").strip() or row.display_name
    return row.display_name


def _is_tracked(row: DriverResult | TeamResult, tracked: Mapping[int, str]) -> bool:
    members = row.drivers if isinstance(row, TeamResult) else (row,)
    return any(d.cust_id in tracked for d in members)


def _class_block(subsession: Subsession, class_id: int | None, tracked: Mapping[int, str]) -> ClassBlock:
    rows = _class_rows(subsession, class_id)
    car_class = subsession.car_class(class_id)
    winner_laps = rows[0].laps_complete if rows else None
    podium = tuple(
        PodiumRow(
            position=row.finish_position_in_class or i + 1,
            name=_row_name(row, tracked),
            laps_complete=row.laps_complete,
            gap=row.class_interval,
            laps_down=laps_behind(winner_laps, row.laps_complete),
            reason_out=row.reason_out,
            tracked=_is_tracked(row, tracked),
        )
        for i, row in enumerate(rows[:PODIUM_SIZE])
    )
    name = rows[0].class_label if rows else None
    return ClassBlock(
        class_id=class_id,
        name=_class_name(subsession, class_id, name),
        sof=car_class.strength_of_field if car_class is not None else None,
        size=(car_class.num_entries if car_class is not None else None) or len(rows),
        podium=podium,
    )


# --- the chart ----------------------------------------------------------------------------------


def _class_of_groups(subsession: Subsession) -> dict[int, int | None]:
    """group_id -> class id (None: not said, one class then). A team is known by its id with
    either sign: the sign iRacing uses for a team's group_id in lap_chart_data is assumed, not seen."""
    out: dict[int, int | None] = {}
    for row in subsession.results:
        gid = _group_id(row)
        out[gid] = row.car_class_id
        if isinstance(row, TeamResult):
            out.setdefault(-gid, row.car_class_id)
    return out


def _class_positions(
    chart: LapChart, class_of: Mapping[int, int | None], wanted: set[int]
) -> dict[int, dict[int, int]]:
    """For the ``wanted`` cars: lap -> class position, ranking each lap's cars of one class by the
    position iRacing gives them on that lap."""
    on_lap: dict[tuple[int | None, int], list[tuple[int, int]]] = defaultdict(list)  # (class, lap) -> [(pos, car)]
    wanted_classes = {class_of[g] for g in wanted if g in class_of}
    for car in chart.cars:
        if car.group_id not in class_of or class_of[car.group_id] not in wanted_classes:
            continue
        class_id = class_of[car.group_id]
        for lap in car.laps:
            if lap.position is not None:
                on_lap[(class_id, lap.lap)].append((lap.position, car.group_id))
    out: dict[int, dict[int, int]] = {g: {} for g in wanted}
    for (_, lap_number), cars in on_lap.items():
        cars.sort()
        for rank, (_, gid) in enumerate(cars, start=1):
            if gid in out:
                out[gid][lap_number] = rank
    return out


def _runs(positions: Mapping[int, int]) -> tuple[tuple[int, int], ...]:
    runs: list[tuple[int, int]] = []
    for lap in sorted(positions):
        if not runs or runs[-1][1] != positions[lap]:
            runs.append((lap, positions[lap]))
    return tuple(runs)


def _chart_group(chart: LapChart, group_id: int) -> int | None:
    """The chart's id for a car: as results/get gives it, or (team) with the other sign."""
    for candidate in (group_id, -group_id):
        if chart.car(candidate) is not None:
            return candidate
    return None


def _chart_data(
    subsession: Subsession, entries: Iterable[EntryRow], classes: Iterable[ClassBlock], chart: LapChart
) -> ChartData | None:
    class_of = _class_of_groups(subsession)
    # (result group id, label, class, leader?) of each line to draw, tracked cars last (on top).
    wanted: list[tuple[int, str, int | None, bool]] = []
    tracked_groups = {e.group_id for e in entries}
    for block in classes:
        rows = _class_rows(subsession, block.class_id)
        if rows and _group_id(rows[0]) not in tracked_groups:
            wanted.append(
                (_group_id(rows[0]), f"{block.name} winner" if block.name else "Winner", block.class_id, True)
            )
    for entry in entries:
        label = entry.team_name or (entry.drivers[0].name if entry.drivers else str(entry.group_id))
        wanted.append((entry.group_id, label, entry.class_id, False))

    chart_ids = {gid: _chart_group(chart, gid) for gid, _, _, _ in wanted}
    # Every car of a drawn class takes part in the ranking, not only the drawn ones.
    chart_class = {car.group_id: class_of[car.group_id] for car in chart.cars if car.group_id in class_of}
    positions = _class_positions(chart, chart_class, {c for c in chart_ids.values() if c is not None})

    lines: list[ChartLine] = []
    for gid, label, class_id, leader in wanted:
        cid = chart_ids[gid]
        car = chart.car(cid) if cid is not None else None
        if car is None or cid is None or not positions.get(cid):
            continue
        lines.append(
            ChartLine(
                group_id=gid,
                label=label,
                class_id=class_id,
                leader=leader,
                runs=_runs(positions[cid]),
                last_lap=max(positions[cid]),
                pit_laps=car.pit_laps,
            )
        )
    if not any(not line.leader for line in lines):
        return None  # no tracked car in the chart: nothing worth a chart
    max_position = max(p for line in lines for _, p in line.runs)
    # The x axis is the race's length (the overall leader's laps), not only the drawn cars'.
    laps = max(chart.max_lap, *(line.last_lap for line in lines))
    return ChartData(laps=laps, max_position=max_position, lines=tuple(lines))


# --- JSON codec (explicit per class: the format is stored, so it must not drift silently) -----


def _encode(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(obj):
        value = _encode_value(getattr(obj, f.name))
        if value is not None:
            out[f.name] = value
    return out


def _encode_value(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _encode(value)
    if isinstance(value, tuple):
        return [_encode_value(v) for v in value]
    return value


def _decode_entry(raw: Mapping[str, Any]) -> EntryRow:
    values = plain_fields(EntryRow, raw)
    values["drivers"] = tuple(DriverRow(**plain_fields(DriverRow, d)) for d in raw["drivers"])
    return EntryRow(**values)


def _decode_class(raw: Mapping[str, Any]) -> ClassBlock:
    values = plain_fields(ClassBlock, raw)
    values["podium"] = tuple(PodiumRow(**plain_fields(PodiumRow, p)) for p in raw["podium"])
    return ClassBlock(**values)


def _decode_line(raw: Mapping[str, Any]) -> ChartLine:
    values = plain_fields(ChartLine, raw)
    values["runs"] = tuple((int(lap), int(pos)) for lap, pos in raw["runs"])
    values["pit_laps"] = tuple(int(lap) for lap in raw.get("pit_laps", ()))
    return ChartLine(**values)


def _decode_chart(raw: Mapping[str, Any]) -> ChartData:
    values = plain_fields(ChartData, raw)
    values["lines"] = tuple(_decode_line(line) for line in raw["lines"])
    return ChartData(**values)


def _decode_card(raw: Mapping[str, Any]) -> ImageCard:
    values = plain_fields(ImageCard, raw)
    values["entries"] = tuple(_decode_entry(e) for e in raw["entries"])
    values["classes"] = tuple(_decode_class(c) for c in raw["classes"])
    values["chart"] = _decode_chart(raw["chart"]) if raw.get("chart") is not None else None
    values["cars"] = tuple(str(c) for c in raw.get("cars", ()))
    values["field"] = tuple(FieldRow(**plain_fields(FieldRow, f)) for f in raw.get("field", ()))
    return ImageCard(**values)
