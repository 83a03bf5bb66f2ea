"""The bundled fonts (``fonts/``, OFL; see its README) and text drawn with fallback between them.

Pillow draws a string with one font, and a character that font lacks comes out as an empty box
nobody can tell from a real one. So a string is cut into runs, each drawn with the first font
that has its characters (Noto Sans, then the CJK subset); a character no bundled font has becomes
U+FFFD, a visible mark. Which characters a font has is read from its ``cmap`` table with the few
lines below, so no font library beyond Pillow is needed.

Pillow's BASIC layout is used on purpose: the same pixels on every machine (raqm may be absent,
or a different version), and it is faster. Scripts that need shaping (Arabic, Indic) are not
covered by the bundled fonts anyway and fall back to U+FFFD.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path(__file__).resolve().parent / "fonts"
LATIN_REGULAR = FONT_DIR / "NotoSans-Regular.ttf"
LATIN_BOLD = FONT_DIR / "NotoSans-Bold.ttf"
CJK_REGULAR = FONT_DIR / "NotoSansCJKjp-Subset-Regular.otf"
REPLACEMENT = "\ufffd"
MAX_CACHED = 4096  # glyphs and widths kept (about a MB at most)

Weight = Literal["regular", "bold"]


@dataclass(frozen=True, slots=True)
class FontSpec:
    weight: Weight
    size: int  # pixels


@dataclass(frozen=True, slots=True)
class Run:
    text: str
    path: Path  # the font file that draws it


def read_cmap(path: Path) -> frozenset[int]:
    """The code points a TrueType/OpenType font maps to a glyph (cmap formats 4 and 12)."""
    data = path.read_bytes()
    num_tables = struct.unpack_from(">H", data, 4)[0]
    cmap_offset = None
    for i in range(num_tables):
        tag, _, offset, _ = struct.unpack_from(">4sIII", data, 12 + 16 * i)
        if tag == b"cmap":
            cmap_offset = offset
    if cmap_offset is None:
        raise ValueError(f"{path.name} has no cmap table")
    points: set[int] = set()
    count = struct.unpack_from(">H", data, cmap_offset + 2)[0]
    for i in range(count):
        platform, encoding, sub = struct.unpack_from(">HHI", data, cmap_offset + 4 + 8 * i)
        if platform not in (0, 3) or (platform == 3 and encoding not in (1, 10)):
            continue  # only Unicode subtables
        start = cmap_offset + sub
        fmt = struct.unpack_from(">H", data, start)[0]
        if fmt == 4:
            points |= _format4(data, start)
        elif fmt == 12:
            points |= _format12(data, start)
    return frozenset(points)


def _format4(data: bytes, start: int) -> set[int]:
    seg_x2 = struct.unpack_from(">H", data, start + 6)[0]
    segs = seg_x2 // 2
    ends = struct.unpack_from(f">{segs}H", data, start + 14)
    starts = struct.unpack_from(f">{segs}H", data, start + 16 + seg_x2)
    deltas = struct.unpack_from(f">{segs}h", data, start + 16 + 2 * seg_x2)
    range_at = start + 16 + 3 * seg_x2
    ranges = struct.unpack_from(f">{segs}H", data, range_at)
    out: set[int] = set()
    for k in range(segs):
        for code in range(starts[k], ends[k] + 1):
            if code == 0xFFFF:
                continue
            if ranges[k] == 0:
                glyph = (code + deltas[k]) & 0xFFFF
            else:
                at = range_at + 2 * k + ranges[k] + 2 * (code - starts[k])
                glyph = struct.unpack_from(">H", data, at)[0]
                glyph = (glyph + deltas[k]) & 0xFFFF if glyph else 0
            if glyph:
                out.add(code)
    return out


def _format12(data: bytes, start: int) -> set[int]:
    groups = struct.unpack_from(">I", data, start + 12)[0]
    out: set[int] = set()
    for g in range(groups):
        first, last, glyph = struct.unpack_from(">III", data, start + 16 + 12 * g)
        out.update(range(first + (1 if glyph == 0 else 0), last + 1))
    return out


@dataclass(frozen=True, slots=True)
class _Glyph:
    mask: Image.Image | None  # coverage, cropped to the ink; None for a blank
    dx: int  # from the pen, on the baseline, to the mask's top-left
    dy: int
    advance: float


class FontBook:
    """Fonts by size, each loaded once, and text measured and drawn with fallback.

    Measuring and drawing go through the same runs, so a width the layout measured is the width
    that is drawn.
    """

    def __init__(self, regular: Path = LATIN_REGULAR, bold: Path = LATIN_BOLD, cjk: Path = CJK_REGULAR) -> None:
        self._chains: dict[Weight, tuple[Path, ...]] = {"regular": (regular, cjk), "bold": (bold, cjk)}
        self._cover = {p: read_cmap(p) for p in (regular, bold, cjk)}
        self._fonts: dict[tuple[Path, int], ImageFont.FreeTypeFont] = {}
        self._runs: dict[tuple[str, Weight], tuple[Run, ...]] = {}
        self._widths: dict[tuple[str, Weight, int], float] = {}
        self._run_widths: dict[tuple[str, Path, int], float] = {}
        self._glyphs: dict[tuple[str, Path, int], _Glyph] = {}

    def font(self, path: Path, size: int) -> ImageFont.FreeTypeFont:
        key = (path, size)
        found = self._fonts.get(key)
        if found is None:
            found = ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.BASIC)
            self._fonts[key] = found
        return found

    def covers(self, char: str) -> bool:
        """Whether some bundled font draws ``char`` (else it is drawn as U+FFFD)."""
        return any(ord(char) in self._cover[p] for p in self._chains["regular"])

    def runs(self, text: str, weight: Weight) -> tuple[Run, ...]:
        key = (text, weight)
        cached = self._runs.get(key)
        if cached is not None:
            return cached
        chain = self._chains[weight]
        out: list[Run] = []
        for char in text:
            path = next((p for p in chain if ord(char) in self._cover[p]), None)
            if path is None:
                char, path = REPLACEMENT, chain[0]
            if out and out[-1].path == path:
                out[-1] = Run(out[-1].text + char, path)
            else:
                out.append(Run(char, path))
        result = tuple(out)
        if len(self._runs) >= MAX_CACHED:
            self._runs.clear()
        self._runs[key] = result
        return result

    def width(self, text: str, spec: FontSpec) -> float:
        key = (text, spec.weight, spec.size)
        found = self._widths.get(key)
        if found is None:
            found = sum(self._run_width(r, spec.size) for r in self.runs(text, spec.weight))
            if len(self._widths) >= MAX_CACHED:
                self._widths.clear()
            self._widths[key] = found
        return found

    def _run_width(self, run: Run, size: int) -> float:
        key = (run.text, run.path, size)
        found = self._run_widths.get(key)
        if found is None:
            found = self.font(run.path, size).getlength(run.text)
            if len(self._run_widths) >= MAX_CACHED:
                self._run_widths.clear()
            self._run_widths[key] = found
        return found

    def ascent(self, spec: FontSpec) -> int:
        return self.font(self._chains[spec.weight][0], spec.size).getmetrics()[0]

    def line_height(self, spec: FontSpec) -> int:
        ascent, descent = self.font(self._chains[spec.weight][0], spec.size).getmetrics()
        return ascent + descent

    def draw(self, draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, spec: FontSpec, fill: str) -> None:
        """Draw ``text`` with its top-left at ``xy``; every run sits on the Latin font's baseline.

        Glyph by glyph from a cache: Pillow has none and renders every glyph of every string
        again, which was most of a picture's time. The pen advances as Pillow's BASIC layout
        does (these fonts have no kern table, so a string is the sum of its glyphs' advances).
        """
        x, top = xy
        baseline = round(top + self.ascent(spec))
        for run in self.runs(text, spec.weight):
            for char in run.text:
                glyph = self._glyph(char, run.path, spec.size)
                if glyph.mask is not None:
                    draw.bitmap((round(x) + glyph.dx, baseline + glyph.dy), glyph.mask, fill=fill)
                x += glyph.advance

    def _glyph(self, char: str, path: Path, size: int) -> _Glyph:
        key = (char, path, size)
        found = self._glyphs.get(key)
        if found is not None:
            return found
        font = self.font(path, size)
        ascent, descent = font.getmetrics()
        room = size // 2 + 2  # overhangs beyond the advance and the line box
        advance = font.getlength(char)
        canvas = Image.new("L", (math.ceil(advance) + 2 * room, ascent + descent + 2 * room), 0)
        ImageDraw.Draw(canvas).text((room, room + ascent), char, font=font, fill=255, anchor="ls")
        box = canvas.getbbox()
        if box is None:  # a space
            found = _Glyph(None, 0, 0, advance)
        else:
            found = _Glyph(canvas.crop(box), box[0] - room, box[1] - room - ascent, advance)
        if len(self._glyphs) >= MAX_CACHED:
            self._glyphs.clear()
        self._glyphs[key] = found
        return found

    def clear_cache(self) -> None:
        """Forget rendered glyphs and widths (the benchmark measures a picture drawn from nothing)."""
        self._glyphs.clear()
        self._runs.clear()
        self._widths.clear()
        self._run_widths.clear()


@lru_cache(maxsize=1)
def default_fonts() -> FontBook:
    """The bundled fonts, loaded once per process."""
    return FontBook()


def missing_characters(book: FontBook, texts: Sequence[str]) -> str:
    """The characters of ``texts`` that no bundled font draws (they become U+FFFD), in order."""
    seen = dict.fromkeys(c for t in texts for c in t if not book.covers(c))
    return "".join(seen)
