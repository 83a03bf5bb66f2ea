"""The layout, checked without pixels: text measured with the bundled fonts, placed in known
boxes; what must be there is there, whole, inside its box, and nothing overlaps."""

from __future__ import annotations

import pytest

from ir2dis_cog.render import formatting as fmt
from ir2dis_cog.render.fonts import FontSpec, default_fonts
from ir2dis_cog.render.image_card import ImageCard
from ir2dis_cog.render.layout import ELLIPSIS, MIN_SIZE, WIDTH, Layout, TextBox, _Builder, layout_card, nice_ticks
from tests.render.cases import TEAM_DQ_NAME, all_cards
from tests.render.extremes import CYRILLIC, HANGUL, JAPANESE, LONG_NAME

CASES = sorted(all_cards())


def _layout(name: str) -> tuple[ImageCard, Layout]:
    card = all_cards()[name]
    return card, layout_card(card, default_fonts())


def _texts(layout: Layout, role: str) -> list[str]:
    return [t.text for t in layout.find(role)]


def _line_of(layout: Layout, box: TextBox) -> str:
    """The whole line a segment starts: it and the pieces that follow it on the same line."""
    pieces = [t for t in layout.texts if abs(t.y + t.height / 2 - (box.y + box.height / 2)) < 3 and t.x >= box.x]
    return "".join(t.text for t in sorted(pieces, key=lambda t: t.x) if t.x < box.limit.right)


@pytest.mark.parametrize("name", CASES)
def test_every_text_stays_in_its_box_and_on_the_canvas(name: str) -> None:
    _, layout = _layout(name)
    assert layout.width == WIDTH and 400 < layout.height < 4000
    for t in layout.texts:
        assert t.limit.contains(t.rect), (t.role, t.text, t.rect, t.limit)
        assert t.rect.x >= 0 and t.rect.right <= layout.width and t.rect.bottom <= layout.height, t
        assert t.font.size >= MIN_SIZE, t


@pytest.mark.parametrize("name", CASES)
def test_no_two_texts_overlap(name: str) -> None:
    _, layout = _layout(name)
    texts = layout.texts
    for i, a in enumerate(texts):
        for b in texts[i + 1 :]:
            assert not a.rect.overlaps(b.rect), (a.text, a.role, b.text, b.role)


@pytest.mark.parametrize("name", CASES)
def test_the_header_says_what_race_it_was(name: str) -> None:
    card, layout = _layout(name)
    (series,) = _texts(layout, "series")
    assert series == card.series_name or (series.endswith(ELLIPSIS) and card.series_name.startswith(series[:-1]))
    (track,) = _texts(layout, "track")
    assert track.startswith(card.track_name[:20])
    assert _texts(layout, "date") == [card.start_local]
    assert _texts(layout, "kind") == [card.kind.upper()]
    facts = _texts(layout, "fact")
    if card.event_sof is not None:
        assert f"SOF {card.event_sof}" in facts
    if card.split_number is not None:
        assert f"Split {card.split_number} of {card.num_splits}" in facts
    assert any(f.startswith(str(card.field_size)) for f in facts)


@pytest.mark.parametrize("name", CASES)
def test_each_tracked_driver_has_their_row(name: str) -> None:
    card, layout = _layout(name)
    names = _texts(layout, "driver-name")
    for entry in card.entries:
        for driver in entry.drivers:
            assert driver.name in names  # whole, never cut
        finish = "DQ" if entry.disqualified else fmt.position(entry.finish_position)
        assert finish in _texts(layout, "finish")
    assert len(layout.find("irating")) == sum(len(e.drivers) for e in card.entries)
    assert len(layout.find("safety")) == sum(len(e.drivers) for e in card.entries)


def test_solo_row_numbers() -> None:
    _, layout = _layout("solo_chart")
    gains = [_line_of(layout, box) for box in layout.find("gain")]
    assert gains == ["P3 → P3 ±0", "P21 → P23 ▼2", "P29 → P29 ±0"]
    ratings = [_line_of(layout, box) for box in layout.find("irating")]
    assert ratings[0] == "7070 → 7084 +14" and ratings[1] == "2251 → 2226 -25"
    # The delta is coloured: green up, red down.
    up, down = (next(t for t in layout.texts if t.text == text) for text in (" +14", " -25"))
    assert (up.color, down.color) == ("#4ade80", "#f87171")
    assert _texts(layout, "licence") == ["A", "B", "C"]
    assert _texts(layout, "best")[:2] == ["2:12.254", "2:15.518"]
    assert "Disconnected" in _texts(layout, "status")


def test_team_rows_show_team_and_stints() -> None:
    _, layout = _layout("team_no_chart")
    assert _texts(layout, "team-name") == ["Crayola Advanced Engineering", "EHR Blue", TEAM_DQ_NAME]
    assert "335 laps (38%)" in _texts(layout, "laps") and "84 laps (10%)" in _texts(layout, "laps")
    assert "DQ" in _texts(layout, "finish") and "Disqualified" in _texts(layout, "status")
    assert _texts(layout, "podium-heading") == ["GTP PODIUM", "IMSA23 PODIUM"]
    assert "Crayola Advanced Engineering" in _texts(layout, "podium-name")
    assert "+4 laps" in _texts(layout, "podium-gap")
    assert layout.chart is None and not layout.find("chart-heading")


def test_chart_frame_and_legend() -> None:
    card, layout = _layout("solo_chart")
    assert layout.chart is not None and card.chart is not None
    frame = layout.chart
    assert _texts(layout, "legend") == ["Diego Fernández5", "Seb", "GT4 Class winner", "pit stop"]
    assert frame.y(1) == frame.plot.y and frame.y(card.chart.max_position) == frame.plot.bottom
    assert frame.x(0) == frame.plot.x and frame.x(card.chart.laps) == frame.plot.right
    assert _texts(layout, "x-tick") == ["0", "2", "4", "6", "8", "10"]
    assert _texts(layout, "y-tick")[0] == "P1"
    # Each line has its own colour; the tracked car's is its row's stripe.
    assert len(set(frame.colours)) == len(frame.colours)


def test_endurance_chart_axes_stay_readable() -> None:
    _, layout = _layout("endurance_900")
    assert layout.chart is not None
    ticks = _texts(layout, "x-tick")
    assert ticks[0] == "0" and len(ticks) <= 7 and ticks[-1] == "800"
    assert JAPANESE in _texts(layout, "driver-name") and CYRILLIC in _texts(layout, "driver-name")


def test_long_name_is_whole_and_extremes_keep_their_rows() -> None:
    _, layout = _layout("field_60")
    names = _texts(layout, "driver-name")
    assert LONG_NAME in names and HANGUL in names
    assert "DQ" in _texts(layout, "finish")
    assert _texts(layout, "more") == []  # four tracked, four shown
    _, four = _layout("classes_4")
    assert len(four.find("podium-heading")) == 4


def test_nice_ticks() -> None:
    assert nice_ticks(10, 7) == (0, 2, 4, 6, 8, 10)
    assert nice_ticks(900, 7) == (0, 200, 400, 600, 800)
    assert nice_ticks(60, 7, first=1) == (1, 10, 20, 30, 40, 50, 60)
    assert nice_ticks(4, 7, first=1) == (1, 2, 3, 4)
    assert nice_ticks(1, 7, first=1) == (1,)


def test_fit_shrinks_then_cuts() -> None:
    b = _Builder(default_fonts())
    spec = FontSpec("bold", 32)
    text, used = b.fit("Short", spec, 400)
    assert (text, used) == ("Short", spec)
    text, used = b.fit(LONG_NAME, spec, 600)
    assert text == LONG_NAME and used.size < 32 and default_fonts().width(text, used) <= 600
    text, used = b.fit(LONG_NAME * 2, spec, 300)
    assert text.endswith(ELLIPSIS) and used.size == MIN_SIZE and default_fonts().width(text, used) <= 300
