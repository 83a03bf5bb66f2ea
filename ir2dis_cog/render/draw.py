"""The picture as PNG bytes: the layout's boxes and text, then the chart. No I/O beyond reading
the bundled fonts (once per process)."""

from __future__ import annotations

import io
from functools import lru_cache

from PIL import Image, ImageDraw

from .chart import draw_chart
from .fonts import FontBook, default_fonts
from .image_card import ImageCard
from .layout import Layout, Rect, Shape, layout_card

AA = 4  # supersampling of the round corners and dots


def render_png(card: ImageCard) -> bytes:
    """The result picture of ``card`` as a PNG."""
    return encode_png(render_image(card))


def render_image(card: ImageCard, fonts: FontBook | None = None) -> Image.Image:
    book = fonts or default_fonts()
    return draw_layout(layout_card(card, book), book)


def encode_png(image: Image.Image) -> bytes:
    """A 256-colour PNG: the picture is a few flat colours and their anti-aliased edges, which a
    palette keeps without a visible change, at a third of the time and size of full RGB. The
    palette is chosen on a quarter-size copy (its blurred edges hold the in-between shades) and
    then applied, which costs a third of choosing it on the whole picture."""
    out = io.BytesIO()
    palette = image.reduce(4).quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    image.quantize(palette=palette, dither=Image.Dither.NONE).save(out, format="PNG", compress_level=3)
    return out.getvalue()


def draw_layout(layout: Layout, fonts: FontBook) -> Image.Image:
    image = Image.new("RGB", (layout.width, layout.height), layout.background)
    draw = ImageDraw.Draw(image)
    for shape in layout.shapes:
        _shape(image, draw, shape)
    if layout.chart is not None:
        draw_chart(image, layout.chart)
    for text in layout.texts:
        fonts.draw(draw, (text.x, text.y), text.text, text.font, text.color)
    return image


@lru_cache(maxsize=64)
def _disc(diameter: int) -> Image.Image:
    """An anti-aliased disc mask, drawn large and reduced."""
    big = Image.new("L", (diameter * AA, diameter * AA), 0)
    ImageDraw.Draw(big).ellipse([0, 0, diameter * AA - 1, diameter * AA - 1], fill=255)
    return big.reduce(AA)


def _shape(image: Image.Image, draw: ImageDraw.ImageDraw, shape: Shape) -> None:
    r = shape.rect
    if shape.kind == "line":
        draw.line([(r.x, r.y), (r.right, r.bottom)], fill=shape.fill, width=max(1, round(shape.width)))
    elif shape.kind == "circle":
        d = max(1, round(r.w))
        image.paste(shape.fill, (round(r.x), round(r.y), round(r.x) + d, round(r.y) + d), _disc(d))
    else:
        _rounded_rect(image, draw, r, shape.fill, round(shape.radius))


def _rounded_rect(image: Image.Image, draw: ImageDraw.ImageDraw, rect: Rect, fill: str, radius: int) -> None:
    """A rectangle with anti-aliased round corners: the body drawn flat, the corners from a disc."""
    x0, y0 = round(rect.x), round(rect.y)
    x1, y1 = round(rect.right), round(rect.bottom)
    radius = min(radius, (x1 - x0) // 2, (y1 - y0) // 2)
    if radius <= 0:
        draw.rectangle([x0, y0, x1 - 1, y1 - 1], fill=fill)
        return
    if x1 - x0 > 2 * radius:
        draw.rectangle([x0 + radius, y0, x1 - radius - 1, y1 - 1], fill=fill)
    if y1 - y0 > 2 * radius:
        draw.rectangle([x0, y0 + radius, x1 - 1, y1 - radius - 1], fill=fill)
    disc = _disc(2 * radius)
    quarters = (
        ((0, 0), (x0, y0)),
        ((radius, 0), (x1 - radius, y0)),
        ((0, radius), (x0, y1 - radius)),
        ((radius, radius), (x1 - radius, y1 - radius)),
    )
    for (qx, qy), (px, py) in quarters:
        mask = disc.crop((qx, qy, qx + radius, qy + radius))
        image.paste(fill, (px, py, px + radius, py + radius), mask)
