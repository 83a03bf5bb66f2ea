"""The narrow interfaces the poll engine talks through: no discord.py, no aiohttp here.

The cog implements ``Publisher`` with discord.py, the iRacing client is the ``ResultsSource``;
tests and the benchmark supply their own.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol, runtime_checkable

from ir2dis_cog.iracing.lap_chart import LapChart
from ir2dis_cog.iracing.models import RecentRace, Subsession


class ChannelUnavailableError(Exception):
    """The results channel is missing, or the bot may not post there. ``reason`` is plain words."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@runtime_checkable
class Publisher(Protocol):
    async def publish(self, channel_id: int, card: Any, image: bytes | None = None) -> int:
        """Send one card, with its picture (PNG) when there is one; returns the message id.
        Raises ChannelUnavailableError. A post that pings is sent with ``mentions=`` too
        (``core.routing.Mentions``): exactly those users and roles, nobody else."""

    async def find_existing(self, channel_id: int, subsession_id: int) -> int | None:
        """The id of a message of ours in that channel already showing this subsession, if any."""


@runtime_checkable
class NoticePublisher(Protocol):
    """Messages of the server's choices that are not result cards (the digest, "on track now")."""

    async def publish_notice(
        self, channel_id: int, title: str, lines: list[str], marker: str, mentions: Any = None
    ) -> int:
        """Send a short embed (``lines`` already made inert) whose footer is ``marker``; the id.
        Pings exactly ``mentions`` (``core.routing.Mentions``) when given, else nobody.
        Raises ChannelUnavailableError."""


class Renderer(Protocol):
    """Draws a result picture (``render.ImageCard``) as PNG bytes; raises on failure."""

    async def render(self, card: Any) -> bytes: ...


class RateBudgetLike(Protocol):
    """What the client reports from iRacing's x-ratelimit-* headers (``RateBudget``)."""

    @property
    def limit(self) -> int | None: ...

    @property
    def remaining(self) -> int | None: ...

    @property
    def reset_at(self) -> float | None: ...


@runtime_checkable
class ResultsSource(Protocol):
    """The part of the iRacing client the engine uses."""

    async def get_recent_races(self, cust_id: int) -> list[RecentRace]: ...

    async def get_subsession(self, subsession_id: int) -> Subsession: ...

    async def get_lap_chart(self, subsession_id: int) -> LapChart: ...

    @property
    def budget(self) -> RateBudgetLike: ...


class Clock(Protocol):
    """Epoch seconds and sleeping, injected so tests and the benchmark can compress time."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
