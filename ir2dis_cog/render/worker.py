"""Drawing off the event loop: one worker thread turns image cards into PNG bytes.

A thread rather than a process: Pillow releases the GIL in its drawing, resampling and zlib
work, so the loop keeps answering while a picture is drawn (the render benchmark measures the
loop's longest stall), and a thread costs no second interpreter with its own copy of the fonts
(a process pool would add tens of MB and a fork inside Red's running loop). One worker: posts
are a few a minute, and one at a time bounds the memory a burst can take.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType

from .draw import render_png
from .image_card import ImageCard

# Discord refuses bot uploads above 10 MiB; a picture that large would mean a broken layout.
MAX_PNG_BYTES = 8 * 1024 * 1024


class RenderError(Exception):
    """The picture could not be drawn; the post goes out as an embed alone."""


class RenderWorker:
    """``await worker.render(card)`` -> PNG bytes, drawn in the worker thread."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ir2dis-render")

    async def render(self, card: ImageCard) -> bytes:
        loop = asyncio.get_running_loop()
        try:
            png = await loop.run_in_executor(self._pool, render_png, card)
        except Exception as exc:  # a drawing bug must cost the picture only, never the post
            raise RenderError(f"drawing failed: {type(exc).__name__}") from exc
        if len(png) > MAX_PNG_BYTES:
            raise RenderError(f"picture too large for Discord ({len(png)} bytes)")
        return png

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def __aenter__(self) -> RenderWorker:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
