"""The PNG: every case decodes, fits Discord's limits, and a few match reference images within a
tolerance, so a layout regression fails while a different FreeType's anti-aliasing does not.

After a deliberate change of the picture: IR2DIS_UPDATE_REFERENCES=1 rewrites the references;
look at them before committing.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from ir2dis_cog.render import render_png
from ir2dis_cog.render.draw import render_image
from ir2dis_cog.render.fonts import default_fonts
from ir2dis_cog.render.layout import WIDTH, layout_card
from tests.render.cases import all_cards

REFERENCE = Path(__file__).resolve().parent / "reference"
REFERENCE_CASES = ("solo_chart", "team_no_chart", "endurance_900")
# Discord takes 10 MiB per upload without Nitro (8 MiB before 2024); keep well inside both.
MAX_BYTES = 8 * 1024 * 1024
# Mean difference per channel (0-255), and the share of pixels that differ by more than a third.
MEAN_TOLERANCE = 1.5
PIXEL_SHARE_TOLERANCE = 0.004


def _decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def _difference(a: Image.Image, b: Image.Image) -> tuple[float, float]:
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    mean = max(ImageStat.Stat(diff).mean)
    # The largest channel difference of each pixel.
    r, g, b_ = diff.split()
    worst = ImageChops.lighter(ImageChops.lighter(r, g), b_)
    share = sum(worst.histogram()[85:]) / (diff.width * diff.height)
    return mean, share


@pytest.mark.parametrize("name", sorted(all_cards()))
def test_png_decodes_within_discord_limits(name: str) -> None:
    card = all_cards()[name]
    png = render_png(card)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) < MAX_BYTES
    image = _decode(png)
    layout = layout_card(card, default_fonts())
    assert image.format == "PNG" and image.size == (WIDTH, layout.height)
    assert image.size[1] < 4096  # Discord scales taller pictures down to a sliver
    # The palette keeps the picture: at most small differences from the full-colour drawing.
    mean, share = _difference(image, render_image(card))
    assert mean < 1.0 and share < 0.002


def test_rendering_is_repeatable() -> None:
    card = all_cards()["solo_chart"]
    assert render_png(card) == render_png(card)


@pytest.mark.parametrize("name", REFERENCE_CASES)
def test_matches_reference_image(name: str) -> None:
    path = REFERENCE / f"{name}.png"
    png = render_png(all_cards()[name])
    if os.environ.get("IR2DIS_UPDATE_REFERENCES"):
        path.write_bytes(png)
    reference = _decode(path.read_bytes())
    image = _decode(png)
    assert image.size == reference.size, "the layout changed height or width"
    mean, share = _difference(image, reference)
    assert mean < MEAN_TOLERANCE and share < PIXEL_SHARE_TOLERANCE, (mean, share)


def test_tolerance_catches_a_small_layout_shift() -> None:
    """A row moved by a few pixels (the kind of regression the references are for) fails."""
    reference = _decode((REFERENCE / "solo_chart.png").read_bytes()).convert("RGB")
    shifted = Image.new("RGB", reference.size, "#15171c")
    shifted.paste(reference.crop((0, 400, reference.width, reference.height)), (0, 404))
    shifted.paste(reference.crop((0, 0, reference.width, 400)), (0, 0))
    mean, share = _difference(shifted, reference)
    assert mean >= MEAN_TOLERANCE or share >= PIXEL_SHARE_TOLERANCE
