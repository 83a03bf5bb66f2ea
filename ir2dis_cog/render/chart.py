"""The position-by-lap chart, drawn with Pillow into the frame the layout gave it.

Pillow, not matplotlib: the chart is a few polylines, grid lines and dots, which Pillow draws in
a few milliseconds, while matplotlib costs about a second to import, tens of MB of memory (numpy
with it) and tens of ms per figure, against a budget of 150 ms and 80 MB for the whole picture.
It also keeps the fonts, sizes and text placement in one place (the layout), where they can be
tested. Pillow draws lines without anti-aliasing, so the plot is drawn at twice the size and
reduced: smooth lines for a few ms more. The tick labels are the layout's text, drawn at full
resolution.
"""

from __future__ import annotations

import math

from PIL import Image, ImageDraw

from . import theme
from .layout import ChartFrame

SCALE = 2  # supersampling
MARGIN = 10  # px around the plot, so a dot on its edge is not cut
LINE_WIDTH = 4
LEADER_WIDTH = 3
PIT_RADIUS = 6


def draw_chart(image: Image.Image, frame: ChartFrame) -> None:
    plot = frame.plot
    left, top = round(plot.x) - MARGIN, round(plot.y) - MARGIN
    w, h = math.ceil(plot.w) + 2 * MARGIN, math.ceil(plot.h) + 2 * MARGIN
    canvas = Image.new("RGB", (w * SCALE, h * SCALE), theme.PANEL)
    draw = ImageDraw.Draw(canvas)

    def at(lap: float, position: float) -> tuple[float, float]:
        return ((frame.x(lap) - left) * SCALE, (frame.y(position) - top) * SCALE)

    for tick in frame.y_ticks:
        _, y = at(0, tick)
        draw.line([(MARGIN * SCALE, y), ((w - MARGIN) * SCALE, y)], fill=theme.GRID, width=SCALE)
    for tick in frame.x_ticks:
        x, _ = at(tick, 1)
        draw.line([(x, MARGIN * SCALE), (x, (h - MARGIN) * SCALE)], fill=theme.GRID, width=SCALE)

    # Class winners first, so the tracked cars' lines lie over them.
    for line, colour in zip(frame.chart.lines, frame.colours, strict=True):
        points = [at(lap, pos) for lap, pos in line.points()]
        width = (LEADER_WIDTH if line.leader else LINE_WIDTH) * SCALE
        if len(points) == 1:
            x, y = points[0]
            draw.ellipse([x - width, y - width, x + width, y + width], fill=colour)
        else:
            draw.line(points, fill=colour, width=width, joint="curve")
    # Pit stops on top of every line: a dot in the car's colour with a light ring.
    r = PIT_RADIUS * SCALE
    for line, colour in zip(frame.chart.lines, frame.colours, strict=True):
        for lap in line.pit_laps:
            position = line.position_at(lap)
            if position is None:
                continue
            x, y = at(lap, position)
            draw.ellipse([x - r, y - r, x + r, y + r], fill=colour, outline=theme.TEXT, width=SCALE * 2)

    image.paste(canvas.reduce(SCALE), (left, top))
