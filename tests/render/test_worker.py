"""The worker thread that draws pictures for the bot, and what the outbox keeps of a picture."""

from __future__ import annotations

import dataclasses
import io
import threading

import pytest
from PIL import Image

from ir2dis_cog.render import worker as worker_module
from ir2dis_cog.render.image_card import ImageCard, fit_for_storage, race_kind
from ir2dis_cog.render.worker import RenderError, RenderWorker
from tests.render.cases import all_cards, solo, team


async def test_the_worker_draws_the_picture_in_its_own_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    card = all_cards()["solo_chart"]
    threads: list[str] = []
    real = worker_module.render_png

    def spy(c: ImageCard) -> bytes:
        threads.append(threading.current_thread().name)
        return real(c)

    monkeypatch.setattr(worker_module, "render_png", spy)
    async with RenderWorker() as worker:
        png = await worker.render(card)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.width == 900
    assert threads and threads[0].startswith("ir2dis-render") and threads[0] != threading.current_thread().name


async def test_a_drawing_bug_or_a_giant_picture_comes_out_as_render_error(monkeypatch: pytest.MonkeyPatch) -> None:
    card = all_cards()["solo_no_chart"]

    def broken(c: ImageCard) -> bytes:
        raise KeyError("glyph")

    async with RenderWorker() as worker:
        monkeypatch.setattr(worker_module, "render_png", broken)
        with pytest.raises(RenderError, match="drawing failed: KeyError"):
            await worker.render(card)
        monkeypatch.setattr(worker_module, "render_png", lambda c: b"\x89PNG" + b"0" * worker_module.MAX_PNG_BYTES)
        with pytest.raises(RenderError, match="too large for Discord"):
            await worker.render(card)


def test_the_outbox_keeps_a_picture_whole_and_only_a_chart_too_long_for_its_column_is_left_out() -> None:
    card = all_cards()["endurance_900"]
    assert card.chart is not None
    kept, text = fit_for_storage(card)
    assert kept == card and ImageCard.from_json(text) == card and len(text) < 20_000
    bare, text = fit_for_storage(card, limit=len(card.to_json()) - 1)
    assert bare == dataclasses.replace(card, chart=None) and ImageCard.from_json(text).chart is None


def test_the_kind_shown_follows_the_results() -> None:
    assert race_kind(solo()) == "official"
    assert race_kind(dataclasses.replace(team(), official=False)) == "hosted"
