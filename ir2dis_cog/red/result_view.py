"""A result shown on request (``/iracing lastrace``): the same embed and picture a post carries."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ir2dis_cog.core.cards import build_card
from ir2dis_cog.iracing.errors import IRacingError
from ir2dis_cog.red.publisher import result_message
from ir2dis_cog.render.image_card import build_image_card, race_kind

if TYPE_CHECKING:
    from ir2dis_cog.iracing.lap_chart import LapChart
    from ir2dis_cog.iracing.models import Subsession
    from ir2dis_cog.observability.metrics import Metrics
    from ir2dis_cog.render.worker import RenderWorker

log = logging.getLogger("red.ir2dis.commands")


class ChartSource(Protocol):
    """Where a shown result's lap chart comes from: the members' view of the client (its lane, its cache)."""

    async def get_lap_chart(self, subsession_id: int) -> LapChart: ...


async def shown_result(
    subsession: Subsession,
    tracked: Mapping[int, str],
    zone: str,
    *,
    picture: bool,
    client: ChartSource,
    renderer: RenderWorker,
    metrics: Metrics,
) -> dict[str, Any]:
    """``send``'s arguments: the embed, with the picture when ``picture`` and it can be drawn.

    As for posts, a missing chart or a failed drawing costs that part only, never the answer.
    """
    card = build_card(subsession, tracked, zone)
    if not picture:
        return result_message(card, None)
    s = subsession.subsession_id
    try:
        chart = await client.get_lap_chart(s)
    except IRacingError as exc:
        metrics.render_failures_total.labels("chart_data").inc()
        log.info("lastrace picture without its chart", extra={"subsession_id": s, "error": type(exc).__name__})
        chart = None
    try:
        png = await renderer.render(build_image_card(subsession, tracked, zone, chart, race_kind(subsession)))
    except Exception as exc:
        metrics.render_failures_total.labels("render").inc()
        log.warning("lastrace picture could not be drawn", exc_info=exc, extra={"subsession_id": s})
        return result_message(card, None)
    metrics.images_rendered_total.inc()
    return result_message(card, png)
