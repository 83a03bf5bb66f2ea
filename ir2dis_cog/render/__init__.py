"""The result picture: an ImageCard (plain data, stored in the outbox) drawn as a PNG.

Pure: no discord.py, no store; the only I/O is reading the bundled fonts.
"""

from __future__ import annotations

from .draw import render_png
from .image_card import ImageCard, ImageCardFormatError, build_image_card

__all__ = ["ImageCard", "ImageCardFormatError", "build_image_card", "render_png"]
