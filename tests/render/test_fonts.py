"""The bundled fonts: they ship with their licence, cover the names seen, and a character none of
them has is drawn as a visible U+FFFD, never as nothing."""

from __future__ import annotations

from PIL import Image, ImageChops, ImageDraw

from ir2dis_cog.render.fonts import (
    CJK_REGULAR,
    FONT_DIR,
    LATIN_BOLD,
    LATIN_REGULAR,
    REPLACEMENT,
    FontSpec,
    default_fonts,
    missing_characters,
    read_cmap,
)
from tests.render.cases import solo, team
from tests.render.extremes import ACCENTED, CYRILLIC, HANGUL, JAPANESE, LONG_NAME

SPEC = FontSpec("regular", 40)


def test_fonts_ship_with_their_licence() -> None:
    for path in (LATIN_REGULAR, LATIN_BOLD, CJK_REGULAR):
        assert path.is_file() and path.stat().st_size < 1_000_000
    licence = (FONT_DIR / "OFL.txt").read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1" in licence and "Noto Sans CJK JP" in licence


def test_cmap_reader_sees_what_the_fonts_hold() -> None:
    latin = read_cmap(LATIN_REGULAR)
    cjk = read_cmap(CJK_REGULAR)
    assert {ord(c) for c in "AZaz09äßŁЖжΩ…·—\ufffd"} <= latin
    assert ord("佐") not in latin and ord("→") not in latin
    assert {ord(c) for c in "佐藤健太郎あア→▲▼"} <= cjk
    assert read_cmap(LATIN_BOLD) == latin


def test_every_name_of_the_recorded_results_is_covered() -> None:
    book = default_fonts()
    names = [d.display_name for _, d in solo().driver_rows()] + [d.display_name for _, d in team().driver_rows()]
    names += [r.display_name for r in team().results]
    assert missing_characters(book, names) == ""


def test_japanese_cyrillic_accented_use_a_real_glyph() -> None:
    book = default_fonts()
    assert missing_characters(book, [JAPANESE, CYRILLIC, ACCENTED, LONG_NAME]) == ""
    runs = book.runs("Tanaka 佐藤 Ж", "bold")
    assert [(r.text, r.path) for r in runs] == [("Tanaka ", LATIN_BOLD), ("佐藤", CJK_REGULAR), (" Ж", LATIN_BOLD)]


def test_a_character_no_font_has_becomes_a_replacement_mark() -> None:
    book = default_fonts()
    assert missing_characters(book, [HANGUL, "Ali 🏁"]) == HANGUL + "🏁"
    (run,) = book.runs(HANGUL, "regular")
    assert run.text == REPLACEMENT * 3 and run.path == LATIN_REGULAR
    assert book.width(HANGUL, SPEC) == book.width(REPLACEMENT * 3, SPEC) > 0


def _ink(text: str) -> Image.Image:
    image = Image.new("RGB", (1200, 80), "#000000")
    default_fonts().draw(ImageDraw.Draw(image), (10, 10), text, SPEC, "#ffffff")
    return image


def test_fallback_is_visible_and_real_glyphs_differ_from_it() -> None:
    blank = Image.new("RGB", (1200, 80), "#000000")
    hangul, marks, japanese = _ink(HANGUL), _ink(REPLACEMENT * 3), _ink(JAPANESE[:2])
    assert ImageChops.difference(hangul, blank).getbbox() is not None  # something is drawn
    assert ImageChops.difference(hangul, marks).getbbox() is None  # and it is the mark
    assert ImageChops.difference(japanese, _ink(REPLACEMENT * 2)).getbbox() is not None


def test_drawn_width_is_the_measured_width() -> None:
    book = default_fonts()
    for text in (LONG_NAME, JAPANESE, "P3 → P1 ▲2"):
        box = ImageChops.difference(_ink(text), Image.new("RGB", (1200, 80))).getbbox()
        assert box is not None
        measured = book.width(text, SPEC)
        assert abs((box[2] - 10) - measured) < 6, (text, box, measured)


def test_glyph_by_glyph_drawing_matches_pillows_own() -> None:
    """The glyph cache draws what Pillow's BASIC layout draws for the whole string."""
    book = default_fonts()
    for text, spec in (("Diego Fernández5 P23 2:12.254", SPEC), ("Alex W · 279 laps (32%)", FontSpec("bold", 27))):
        ours = Image.new("L", (1200, 80), 0)
        book.draw(ImageDraw.Draw(ours), (10, 10), text, spec, "#ffffff")
        pillow = Image.new("L", (1200, 80), 0)
        font = book.font(LATIN_REGULAR if spec.weight == "regular" else LATIN_BOLD, spec.size)
        ImageDraw.Draw(pillow).text((10, 10 + book.ascent(spec)), text, font=font, fill=255, anchor="ls")
        # No pixel differs by more than 8 of 255.
        assert sum(ImageChops.difference(ours, pillow).histogram()[9:]) == 0, text
