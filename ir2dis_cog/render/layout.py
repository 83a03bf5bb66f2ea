"""Where everything goes in the picture: pure, testable without pixels.

``layout_card`` turns an ImageCard into boxes (``Shape``), text runs (``TextBox``, each with its
font, size, colour and the box it must stay inside) and the chart's frame. It measures text
through a ``Measure`` (the bundled fonts in production, the same fonts in tests), so a test can
ask "is the driver's name there, whole, inside its row?" without looking at a pixel.

Phone first: 900 px wide (a phone shows it about 360 pt wide, so the smallest text, 18 px, is
about 7 pt there and the body, 28-30 px, about 10 pt); every line is one column of facts, and a
text that does not fit is made smaller down to a floor, then cut with "…".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ir2dis_cog.core.cards import dropped_out, is_disqualified, race_title, ratings_changed, track_label

from . import formatting as fmt
from . import theme
from .fonts import FontSpec
from .image_card import ChartData, ChartLine, ClassBlock, DriverRow, EntryRow, FieldRow, ImageCard

WIDTH = 900
PAD = 28
INNER = WIDTH - 2 * PAD
CARD_PAD = 20
GAP = 16
ELLIPSIS = "…"

H1 = FontSpec("bold", 40)
TRACK = FontSpec("regular", 29)
META = FontSpec("regular", 24)
CHIP = FontSpec("bold", 20)
TITLE = FontSpec("bold", 32)
SUBTITLE = FontSpec("regular", 24)
LABEL = FontSpec("bold", 18)
VALUE = FontSpec("regular", 27)
BIG = FontSpec("bold", 50)
SMALL = FontSpec("regular", 20)
DRIVER = FontSpec("bold", 27)
PODIUM = FontSpec("regular", 25)
PODIUM_TRACKED = FontSpec("bold", 25)
LEGEND = FontSpec("regular", 22)
TICK = FontSpec("regular", 18)
FOOTER = FontSpec("regular", 18)

CHART_HEIGHT = 340
MIN_SIZE = 18  # text is never made smaller than this to fit


class Measure(Protocol):
    def width(self, text: str, spec: FontSpec) -> float: ...

    def line_height(self, spec: FontSpec) -> int: ...


@dataclass(frozen=True, slots=True)
class Rect:
    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    def contains(self, other: Rect, slack: float = 0.5) -> bool:
        return (
            other.x >= self.x - slack
            and other.y >= self.y - slack
            and other.right <= self.right + slack
            and other.bottom <= self.bottom + slack
        )

    def overlaps(self, other: Rect) -> bool:
        return not (other.x >= self.right or other.right <= self.x or other.y >= self.bottom or other.bottom <= self.y)


@dataclass(frozen=True, slots=True)
class TextBox:
    text: str
    font: FontSpec
    x: float  # top-left of the line box
    y: float
    width: float  # measured
    height: float  # the font's line height
    color: str
    role: str  # what it is, for tests: "series", "driver-name", "podium-name", ...
    limit: Rect  # the box it must stay inside

    @property
    def rect(self) -> Rect:
        return Rect(self.x, self.y, self.width, self.height)


@dataclass(frozen=True, slots=True)
class Shape:
    kind: str  # "rect", "circle", "line"
    rect: Rect  # for a line: from (x, y) to (right, bottom)
    fill: str
    radius: float = 0
    width: float = 0  # line width


@dataclass(frozen=True, slots=True)
class ChartFrame:
    """The chart's plot area and scales; chart.py draws the lines in it."""

    plot: Rect
    chart: ChartData
    colours: tuple[str, ...]  # one per chart line
    x_ticks: tuple[int, ...]
    y_ticks: tuple[int, ...]

    def x(self, lap: float) -> float:
        return self.plot.x + (lap / max(1, self.chart.laps)) * self.plot.w

    def y(self, position: float) -> float:
        span = max(1, self.chart.max_position - 1)
        return self.plot.y + ((position - 1) / span) * self.plot.h


@dataclass(frozen=True, slots=True)
class Layout:
    width: int
    height: int
    background: str
    shapes: tuple[Shape, ...]
    texts: tuple[TextBox, ...]
    chart: ChartFrame | None

    def find(self, role: str) -> list[TextBox]:
        return [t for t in self.texts if t.role == role]


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of one line of text, in its own colour."""

    text: str
    color: str = theme.TEXT
    bold: bool = False


@dataclass
class _Builder:
    measure: Measure
    shapes: list[Shape] = field(default_factory=list)
    texts: list[TextBox] = field(default_factory=list)

    def fit(self, text: str, spec: FontSpec, max_width: float, min_size: int = MIN_SIZE) -> tuple[str, FontSpec]:
        """Shrink down to ``min_size``, then cut with an ellipsis, until ``text`` fits."""
        size = spec.size
        while size > min_size and self.measure.width(text, FontSpec(spec.weight, size)) > max_width:
            size -= 2
        spec = FontSpec(spec.weight, max(size, min_size))
        if self.measure.width(text, spec) <= max_width:
            return text, spec
        lo, hi = 0, len(text)
        while lo < hi:  # the longest prefix that fits with the ellipsis
            mid = (lo + hi + 1) // 2
            if self.measure.width(text[:mid].rstrip() + ELLIPSIS, spec) <= max_width:
                lo = mid
            else:
                hi = mid - 1
        return text[:lo].rstrip() + ELLIPSIS, spec

    def text(
        self,
        x: float,
        y: float,
        text: str,
        spec: FontSpec,
        color: str,
        role: str,
        max_width: float,
        align: str = "left",
        min_size: int = MIN_SIZE,
    ) -> TextBox:
        shown, used = self.fit(text, spec, max_width, min_size)
        width = self.measure.width(shown, used)
        height = self.measure.line_height(used)
        left = x if align == "left" else (x + max_width - width if align == "right" else x + (max_width - width) / 2)
        # Keep the line's middle where the asked size would have had it.
        top = y + (self.measure.line_height(spec) - height) / 2
        box = TextBox(shown, used, left, top, width, height, color, role, Rect(x, top - 1, max_width, height + 2))
        self.texts.append(box)
        return box

    def segments(self, x: float, y: float, parts: list[Segment], size: int, role: str, max_width: float) -> float:
        """One line of differently coloured pieces, made smaller together until it fits."""

        def total(s: int) -> float:
            return sum(self.measure.width(p.text, FontSpec("bold" if p.bold else "regular", s)) for p in parts)

        used = size
        while used > MIN_SIZE and total(used) > max_width:
            used -= 2
        base = self.measure.line_height(FontSpec("regular", size))
        cursor = x
        for i, part in enumerate(parts):
            spec = FontSpec("bold" if part.bold else "regular", used)
            remaining = x + max_width - cursor
            box = self.text(
                cursor,
                y + (base - self.measure.line_height(spec)) / 2,
                part.text,
                spec,
                part.color,
                f"{role}" if i == 0 else f"{role}+",
                remaining,
                min_size=used,
            )
            cursor = box.x + box.width
        return base

    def rect(self, rect: Rect, fill: str, radius: float = 0) -> None:
        self.shapes.append(Shape("rect", rect, fill, radius))

    def circle(self, cx: float, cy: float, r: float, fill: str) -> None:
        self.shapes.append(Shape("circle", Rect(cx - r, cy - r, 2 * r, 2 * r), fill))

    def line(self, x1: float, y1: float, x2: float, y2: float, fill: str, width: float) -> None:
        self.shapes.append(Shape("line", Rect(x1, y1, x2 - x1, y2 - y1), fill, width=width))


def nice_ticks(top: int, most: int, first: int = 0) -> tuple[int, ...]:
    """Round tick values from ``first`` to ``top``: steps of 1, 2, 5, 10, 20, 50... so that at
    most ``most`` ticks are drawn. Position axes start at 1 and also show 1."""
    span = max(1, top - first)
    step = 1
    for candidate in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000):
        step = candidate
        if span / candidate <= most - 1:
            break
    ticks = [t for t in range(0, top + 1, step) if t >= first]
    if first == 1 and (not ticks or ticks[0] != 1):
        ticks = [1, *[t for t in ticks if t - 1 >= step / 2]]
    return tuple(ticks)


# --- the picture -------------------------------------------------------------------------------


def layout_card(card: ImageCard, measure: Measure) -> Layout:
    b = _Builder(measure)
    y = _header(b, card, PAD)
    colours = _line_colours(card)
    for entry in card.entries:
        y = _entry(b, card, entry, colours.get(entry.group_id, theme.LINE_COLOURS[0]), y + GAP)
    if card.more_entries:
        more = f"+{card.more_drivers} more tracked driver{'s' if card.more_drivers != 1 else ''} in this race"
        box = b.text(PAD, y + GAP, more, SMALL, theme.MUTED, "more", INNER)
        y = box.y + box.height
    if card.field:  # an unofficial race: its top of the order says more than the podiums
        y = _field(b, card, y + GAP)
    elif card.classes:
        y = _podiums(b, card, y + GAP)
    frame = None
    if card.chart is not None:
        y, frame = _chart(b, card.chart, colours, y + GAP)
    y += GAP
    b.text(PAD, y, f"iRacing subsession {card.subsession_id}", FOOTER, theme.MUTED, "footer", INNER)
    y += measure.line_height(FOOTER) + PAD
    return Layout(WIDTH, round(y), theme.BACKGROUND, tuple(b.shapes), tuple(b.texts), frame)


def _line_colours(card: ImageCard) -> dict[int, str]:
    """Each shown car's colour (stripe and chart line), in finishing order."""
    return {e.group_id: theme.LINE_COLOURS[i % len(theme.LINE_COLOURS)] for i, e in enumerate(card.entries)}


def _header(b: _Builder, card: ImageCard, y: float) -> float:
    # The date on the left, the kind on the right, as a chip.
    label = theme.KIND_LABELS.get(card.kind, card.kind.upper())
    chip_w = b.measure.width(label, CHIP) + 28
    chip_h = b.measure.line_height(CHIP) + 8
    meta_h = b.measure.line_height(META)
    chip_y = y + (meta_h - chip_h) / 2
    b.rect(Rect(PAD + INNER - chip_w, chip_y, chip_w, chip_h), theme.KIND_COLOURS.get(card.kind, theme.MUTED), 8)
    b.text(PAD + INNER - chip_w, chip_y + 4, label, CHIP, "#ffffff", "kind", chip_w, align="center")
    b.text(PAD, y, card.start_local, META, theme.MUTED, "date", INNER - chip_w - GAP)
    y += meta_h + 6
    title = race_title(card.kind, card.series_name, card.session_name if card.unofficial else None)
    box = b.text(PAD, y, title, H1, theme.TEXT, "series", INNER, min_size=30)
    y = box.y + box.height + 2
    for text, role in _what_it_is(card):
        box = b.text(PAD, y, text, META, theme.MUTED, role, INNER)
        y = box.y + box.height + 2
    track = track_label(card.track_name, card.track_config)
    if track:  # without the track's name the line is left out
        box = b.text(PAD, y, track, TRACK, theme.TEXT, "track", INNER, min_size=24)
        y = box.y + box.height
    return _facts(b, card, y + 12)


def _what_it_is(card: ImageCard) -> list[tuple[str, str]]:
    """An unofficial race's league and season (or "Hosted session"), host and cars."""
    if not card.unofficial:
        return []
    if card.league_name or card.kind == "league":
        league = card.league_name or "League race"
        lines = [(league + (f" · {card.league_season_name}" if card.league_season_name else ""), "league")]
    else:
        lines = [("Hosted session", "league")]
    if card.host_name:
        lines[0] = (f"{lines[0][0]} · host {card.host_name}", "league")
    if card.cars:
        lines.append((", ".join(card.cars), "cars"))
    return lines


def _facts(b: _Builder, card: ImageCard, y: float) -> float:
    """SOF, split, field: small chips in a row, wrapping when they do not fit."""
    facts: list[str] = []
    if card.event_sof is not None:
        facts.append(f"SOF {card.event_sof}")
    if card.split_number is not None and card.num_splits:
        facts.append(f"Split {card.split_number} of {card.num_splits}")
    facts.append(f"{card.field_size} {'teams' if card.team_event else 'cars'}")
    if card.multiclass:
        facts.append(f"{card.num_classes} classes")
    h = b.measure.line_height(META) + 10
    x: float = PAD
    for fact in facts:
        w = b.measure.width(fact, META) + 28
        if x > PAD and x + w > PAD + INNER:
            x, y = PAD, y + h + 10
        b.rect(Rect(x, y, w, h), theme.PANEL, 10)
        b.text(x + 14, y + 5, fact, META, theme.TEXT, "fact", w - 28)
        x += w + 10
    return y + h


def _licence_parts(row: DriverRow) -> list[Segment]:
    letter = fmt.licence(row.new_license_level) or fmt.licence(row.old_license_level)
    if row.old_sub_level is None and row.new_sub_level is None:
        return ([Segment(letter, bold=True)] if letter else []) + [Segment(fmt.MISSING, theme.MUTED)]
    parts = [Segment(f"{fmt.safety(row.old_sub_level)} → {fmt.safety(row.new_sub_level)}")]
    if row.old_sub_level is not None and row.new_sub_level is not None:
        delta = (row.new_sub_level - row.old_sub_level) / 100
        parts.append(Segment(" " + fmt.signed_rating(delta), _delta_colour(delta)))
    return ([Segment(letter, bold=True)] if letter else []) + parts


def _delta_colour(delta: float) -> str:
    return theme.GOOD if delta > 0 else (theme.BAD if delta < 0 else theme.MUTED)


def _irating_parts(row: DriverRow) -> list[Segment]:
    if row.old_irating is None and row.new_irating is None:
        return [Segment(fmt.MISSING, theme.MUTED)]
    old = str(row.old_irating) if row.old_irating is not None else fmt.MISSING
    new = str(row.new_irating) if row.new_irating is not None else fmt.MISSING
    parts = [Segment(f"{old} → {new}")]
    if row.old_irating is not None and row.new_irating is not None:
        delta = row.new_irating - row.old_irating
        parts.append(Segment(" " + fmt.signed(delta), _delta_colour(delta), bold=True))
    return parts


def _start_finish_parts(start: int | None, finish: int | None, dq: bool) -> list[Segment]:
    if dq:
        return [Segment(f"{fmt.position(start)} → "), Segment("DQ", theme.BAD, bold=True)]
    parts = [Segment(f"{fmt.position(start)} → {fmt.position(finish)}")]
    gained = fmt.gain(start, finish)
    if gained is not None:
        text, sign = gained
        parts.append(Segment(f" {text}", _delta_colour(sign), bold=True))
    return parts


@dataclass(frozen=True, slots=True)
class _Cell:
    label: str
    parts: list[Segment]
    role: str
    licence: str | None = None  # a licence letter drawn as a chip in its colour


def _grid(b: _Builder, cells: list[_Cell], x: float, y: float, width: float, columns: int) -> float:
    """Label-over-value cells, ``columns`` to a row."""
    col_w = (width - (columns - 1) * 16) / columns
    label_h = b.measure.line_height(LABEL)
    value_h = b.measure.line_height(VALUE)
    for i, cell in enumerate(cells):
        cx = x + (i % columns) * (col_w + 16)
        cy = y + (i // columns) * (label_h + value_h + 14)
        b.text(cx, cy, cell.label, LABEL, theme.MUTED, "label", col_w)
        parts = cell.parts
        vx = cx
        if cell.licence is not None:
            chip, ink = theme.LICENCE_COLOURS.get(cell.licence, (theme.MUTED, theme.BACKGROUND))
            cw = b.measure.width(cell.licence, FontSpec("bold", 24)) + 16
            b.rect(Rect(vx, cy + label_h + 5, cw, value_h - 8), chip, 6)
            b.text(
                vx,
                cy + label_h + 5 + (value_h - 8 - b.measure.line_height(FontSpec("bold", 24))) / 2,
                cell.licence,
                FontSpec("bold", 24),
                ink,
                "licence",
                cw,
                align="center",
            )
            vx += cw + 10
            parts = parts[1:]
        b.segments(vx, cy + label_h + 2, parts, VALUE.size, cell.role, cx + col_w - vx)
    rows = (len(cells) + columns - 1) // columns
    return y + rows * (label_h + value_h + 14) - 14


def _driver_cells(row: DriverRow, car_laps: int | None, *, stint: bool = False, official: bool = True) -> list[_Cell]:
    laps_text = fmt.laps(row.laps_complete)
    if car_laps and row.laps_complete is not None:  # a stint: the share of the car's laps
        laps_text += f" ({round(100 * row.laps_complete / car_laps)}%)"
    letter = fmt.licence(row.new_license_level) or fmt.licence(row.old_license_level)
    cells = [
        _Cell("STINT" if stint else "LAPS", [Segment(laps_text)], "laps"),
        _Cell("LAPS LED", [Segment(fmt.number(row.laps_led))], "led"),
        _Cell("INCIDENTS", [Segment(fmt.incidents(row.incidents))], "incidents"),
        _Cell("BEST LAP", [Segment(fmt.lap_time(row.best_lap_time))], "best"),
    ]
    # An unofficial race changes no rating: its ratings only when the payload says they moved.
    if official or ratings_changed(row):
        cells += [
            _Cell("IRATING", _irating_parts(row), "irating"),
            _Cell("SAFETY", _licence_parts(row), "safety", licence=letter),
        ]
    return cells


def _entry(b: _Builder, card: ImageCard, entry: EntryRow, colour: str, y: float) -> float:
    top = y
    shapes_at = len(b.shapes)
    x = PAD + CARD_PAD + 8  # after the colour stripe
    width = INNER - 2 * CARD_PAD - 8
    y += CARD_PAD
    right_w = 170
    title = entry.team_name or (entry.drivers[0].name if entry.drivers else "")
    name_box = b.text(
        x,
        y,
        title,
        TITLE,
        theme.TEXT,
        "team-name" if entry.team_name else "driver-name",
        width - right_w - 12,
        min_size=24,
    )
    # The finish, big, on the right; under it the class place and the points.
    finish = "DQ" if entry.disqualified else fmt.position(entry.finish_position)
    big = b.text(
        x + width - right_w,
        y - 10,
        finish,
        BIG,
        theme.BAD if entry.disqualified else theme.TEXT,
        "finish",
        right_w,
        align="right",
    )
    under: list[str] = []
    if card.multiclass and not entry.disqualified:
        under.append(f"{fmt.position(entry.finish_position_in_class)} in {entry.class_name}")
    elif not entry.disqualified:
        under.append(f"of {card.field_size}")
    points = entry.champ_points if entry.team_name else (entry.drivers[0].champ_points if entry.drivers else None)
    if points is not None:
        under.append(f"{points} pts")
    uy = big.y + big.height
    for line in under:
        box = b.text(
            x + width - right_w - 40, uy, line, SMALL, theme.MUTED, "finish-detail", right_w + 40, align="right"
        )
        uy = box.y + box.height
    y = name_box.y + name_box.height
    sub = " · ".join(p for p in (entry.car_name, entry.class_name if card.multiclass else None) if p)
    if sub:  # neither car nor class named: the line is left out
        box = b.text(x, y, sub, SUBTITLE, theme.MUTED, "car", width - right_w - 12)
        y = box.y + box.height
    if entry.reason_out is not None and dropped_out(entry.reason_out):
        status = "Disqualified" if entry.disqualified else entry.reason_out
        box = b.text(
            x, y, status, SMALL, theme.BAD if entry.disqualified else theme.WARN, "status", width - right_w - 12
        )
        y = box.y + box.height
    y = max(y, uy) + 14

    start_finish = _Cell(
        "START → FINISH", _start_finish_parts(entry.start_position, entry.finish_position, entry.disqualified), "gain"
    )
    if entry.team_name is None and entry.drivers:
        driver = entry.drivers[0]
        cells = [
            start_finish,
            _Cell("LAPS · LED", [Segment(_laps_led(entry))], "laps"),
            *[c for c in _driver_cells(driver, None, official=not card.unofficial) if c.role not in ("laps", "led")],
        ]
        y = _grid(b, cells, x, y, width, 3)
    else:
        cells = [
            start_finish,
            _Cell("CAR LAPS · LED", [Segment(_laps_led(entry))], "laps"),
            _Cell("CAR INC", [Segment(fmt.incidents(entry.incidents))], "incidents"),
        ]
        y = _grid(b, cells, x, y, width, 3)
        for driver in entry.drivers:
            y = _stint(b, driver, entry.laps_complete, x, y + 16, width, official=not card.unofficial)
    y += CARD_PAD
    b.shapes.insert(shapes_at, Shape("rect", Rect(PAD, top, INNER, y - top), theme.PANEL, 16))
    b.shapes.insert(shapes_at + 1, Shape("rect", Rect(PAD, top, 8, y - top), colour, 4))
    return y


def _laps_led(entry: EntryRow) -> str:
    return f"{fmt.number(entry.laps_complete)} · {fmt.number(entry.laps_led)} led"


def _stint(
    b: _Builder, driver: DriverRow, car_laps: int | None, x: float, y: float, width: float, *, official: bool = True
) -> float:
    """A tracked driver of a team car: their own laps, incidents, best, ratings, in an inner box."""
    top = y
    shapes_at = len(b.shapes)
    pad = 16
    y += pad
    name_w = width - 2 * pad - 150
    box = b.text(x + pad, y, driver.name, DRIVER, theme.TEXT, "driver-name", name_w, min_size=22)
    if driver.champ_points is not None:
        b.text(
            x + width - pad - 150, y + 4, f"{driver.champ_points} pts", SMALL, theme.MUTED, "points", 150, align="right"
        )
    y = box.y + box.height + 8
    y = _grid(b, _driver_cells(driver, car_laps, stint=True, official=official), x + pad, y, width - 2 * pad, 3)
    y += pad
    b.shapes.insert(shapes_at, Shape("rect", Rect(x, top, width, y - top), theme.PANEL_INNER, 12))
    return y


def _field(b: _Builder, card: ImageCard, y: float) -> float:
    """One panel: the top of the order of an unofficial race, tracked cars in bold, points on
    the right where the league gives them."""
    top = y
    shapes_at = len(b.shapes)
    x = PAD + CARD_PAD
    width = INNER - 2 * CARD_PAD
    y += 18
    heading = "TOP OF THE ORDER" if card.more_field else "RESULTS"
    head = b.text(x, y, heading, LABEL, theme.MUTED, "field-heading", width)
    y = head.y + head.height + 6
    for i, row in enumerate(card.field):
        y = _field_row(b, card, row, i == 0, x, y, width)
    if card.more_field:
        box = b.text(x, y + 4, f"+{card.more_field} more in the full results", SMALL, theme.MUTED, "field-more", width)
        y = box.y + box.height
    y += 14
    b.shapes.insert(shapes_at, Shape("rect", Rect(PAD, top, INNER, y - top), theme.PANEL, 16))
    return y


def _field_row(b: _Builder, card: ImageCard, row: FieldRow, leader: bool, x: float, y: float, width: float) -> float:
    row_h = b.measure.line_height(PODIUM) + 10
    num = FontSpec("bold", 20)
    cy = y + row_h / 2
    position = row.finish_position
    medal = theme.MEDALS[position - 1] if position is not None and 1 <= position <= len(theme.MEDALS) else theme.MUTED
    b.circle(x + 17, cy, 16, medal)
    label = str(position) if position is not None else fmt.MISSING
    b.text(x + 1, cy - b.measure.line_height(num) / 2, label, num, theme.BACKGROUND, "medal", 32, align="center")
    if is_disqualified(row.reason_out):
        gap = "DQ"
    elif row.reason_out is not None and dropped_out(row.reason_out):
        gap = row.reason_out
    else:
        gap = fmt.laps(row.laps_complete) if leader else fmt.gap(row.interval, row.laps_down)
    points_w = 90 if any(r.champ_points is not None for r in card.field) else 0
    gap_w = 150
    name_w = width - 48 - gap_w - points_w - 12
    spec = PODIUM_TRACKED if row.tracked else PODIUM
    colour = theme.TEXT if row.tracked else theme.MUTED
    name_box = b.text(x + 48, y + 5, row.name, spec, colour, "field-name", name_w * 0.6)
    car = row.class_name if card.multiclass else row.car_name
    if car:
        b.text(
            name_box.x + name_box.width + 12,
            y + 9,
            car,
            SMALL,
            theme.MUTED,
            "field-car",
            x + 48 + name_w - name_box.rect.right - 12,
        )
    b.text(x + width - gap_w - points_w, y + 5, gap, PODIUM, theme.MUTED, "field-gap", gap_w, align="right")
    if points_w and row.champ_points is not None:
        b.text(
            x + width - points_w,
            y + 5,
            f"{row.champ_points} pts",
            PODIUM,
            colour,
            "field-points",
            points_w,
            align="right",
        )
    return y + row_h


def _podiums(b: _Builder, card: ImageCard, y: float) -> float:
    """One panel: the podium of each class with a tracked driver, tracked cars in bold."""
    top = y
    shapes_at = len(b.shapes)
    x = PAD + CARD_PAD
    width = INNER - 2 * CARD_PAD
    y += 18
    for i, block in enumerate(card.classes):
        if i:
            y += 14
        y = _podium(b, card, block, x, y, width)
    y += 14
    b.shapes.insert(shapes_at, Shape("rect", Rect(PAD, top, INNER, y - top), theme.PANEL, 16))
    return y


def _podium(b: _Builder, card: ImageCard, block: ClassBlock, x: float, y: float, width: float) -> float:
    heading = f"{block.name or 'Class'} podium" if card.multiclass else "Podium"
    facts = ""
    if card.multiclass:  # a single class's SOF and size are the race's, already in the header
        facts = " · ".join([*([f"SOF {block.sof}"] if block.sof is not None else []), f"{block.size} in class"])
    head = b.text(x, y, heading.upper(), LABEL, theme.MUTED, "podium-heading", width - 260)
    if facts:
        b.text(x + width - 260, y, facts, LABEL, theme.MUTED, "podium-facts", 260, align="right")
    y = head.y + head.height + 6
    row_h = b.measure.line_height(PODIUM) + 10
    num = FontSpec("bold", 20)
    gap_w = 150
    for row in block.podium:
        medal = theme.MEDALS[row.position - 1] if 1 <= row.position <= len(theme.MEDALS) else theme.MUTED
        cy = y + row_h / 2
        b.circle(x + 17, cy, 16, medal)
        b.text(
            x + 1,
            cy - b.measure.line_height(num) / 2,
            str(row.position),
            num,
            theme.BACKGROUND,
            "medal",
            32,
            align="center",
        )
        gap = fmt.laps(row.laps_complete) if row.position == 1 else fmt.gap(row.gap, row.laps_down)
        if is_disqualified(row.reason_out):
            gap = "DQ"
        spec = PODIUM_TRACKED if row.tracked else PODIUM
        b.text(
            x + 48,
            y + 5,
            row.name,
            spec,
            theme.TEXT if row.tracked else theme.MUTED,
            "podium-name",
            width - 48 - gap_w - 12,
        )
        b.text(x + width - gap_w, y + 5, gap, PODIUM, theme.MUTED, "podium-gap", gap_w, align="right")
        y += row_h
    return y


def _chart(b: _Builder, chart: ChartData, colours: dict[int, str], y: float) -> tuple[float, ChartFrame]:
    top = y
    shapes_at = len(b.shapes)
    x = PAD + CARD_PAD
    width = INNER - 2 * CARD_PAD
    y += 18
    head = b.text(x, y, "CLASS POSITION BY LAP", LABEL, theme.MUTED, "chart-heading", width)
    y = head.y + head.height + 10
    line_colours = tuple(_chart_colour(ln, chart, colours) for ln in chart.lines)
    y = _legend(b, chart.lines, line_colours, x, y, width)
    tick_h = b.measure.line_height(TICK)
    axis_w = b.measure.width(f"P{chart.max_position}", TICK) + 12
    plot = Rect(x + axis_w, y + tick_h / 2 + 4, width - axis_w - 8, CHART_HEIGHT - tick_h)
    frame = ChartFrame(
        plot=plot,
        chart=chart,
        colours=line_colours,
        x_ticks=nice_ticks(chart.laps, 7),
        y_ticks=nice_ticks(chart.max_position, 7, first=1),
    )
    for tick in frame.y_ticks:
        b.text(x, frame.y(tick) - tick_h / 2, f"P{tick}", TICK, theme.MUTED, "y-tick", axis_w - 10, align="right")
    for tick in frame.x_ticks:
        label = str(tick)
        w = b.measure.width(label, TICK)
        left = min(max(frame.x(tick) - w / 2, plot.x - 6), plot.right - w + 6)
        b.text(left, plot.bottom + 8, label, TICK, theme.MUTED, "x-tick", w + 1)
    y = plot.bottom + 8 + tick_h + 4
    lap_box = b.text(x, y, "lap", TICK, theme.MUTED, "x-label", width, align="right")
    y = lap_box.y + lap_box.height + 14
    b.shapes.insert(shapes_at, Shape("rect", Rect(PAD, top, INNER, y - top), theme.PANEL, 16))
    return y, frame


def _chart_colour(line: ChartLine, chart: ChartData, colours: dict[int, str]) -> str:
    """A tracked car's own colour; a class winner's is grey, or with several classes drawn, a dim
    shade of its class's first tracked car, so each winner line reads with its class."""
    if not line.leader:
        return colours.get(line.group_id, theme.TEXT)
    if len({ln.class_id for ln in chart.lines}) == 1:
        return theme.LEADER_COLOUR
    mate = next((ln for ln in chart.lines if not ln.leader and ln.class_id == line.class_id), None)
    return (
        theme.mix(colours.get(mate.group_id, theme.LEADER_COLOUR), theme.PANEL, 0.45) if mate else theme.LEADER_COLOUR
    )


def _legend(
    b: _Builder, lines: tuple[ChartLine, ...], colours: tuple[str, ...], x: float, y: float, width: float
) -> float:
    """Two columns of swatch + name; the tracked cars first, then the class winners, then pits."""
    order = [i for i, ln in enumerate(lines) if not ln.leader] + [i for i, ln in enumerate(lines) if ln.leader]
    items: list[tuple[str, str, str]] = [(lines[i].label, colours[i], "line") for i in order]
    if any(ln.pit_laps for ln in lines):
        items.append(("pit stop", theme.TEXT, "pit"))
    col_w = (width - 20) / 2
    row_h = b.measure.line_height(LEGEND) + 6
    for i, (label, colour, kind) in enumerate(items):
        lx = x + (i % 2) * (col_w + 20)
        ly = y + (i // 2) * row_h
        cy = ly + row_h / 2
        if kind == "pit":  # as chart.py draws a pit stop: a dot in a light ring
            b.circle(lx + 18, cy, 8, theme.TEXT)
            b.circle(lx + 18, cy, 5, theme.MUTED)
        else:
            b.line(lx, cy, lx + 36, cy, colour, 5)
        b.text(lx + 46, ly + 3, label, LEGEND, theme.TEXT, "legend", col_w - 46, min_size=LEGEND.size)
    return y + ((len(items) + 1) // 2) * row_h + 8
