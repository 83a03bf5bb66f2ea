"""The state of one poll cycle, shared by the engine and the outbox while the cycle runs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal

from ir2dis_cog.core.records import GuildConfig, PendingRace, Watermark
from ir2dis_cog.iracing.lap_chart import LapChart
from ir2dis_cog.iracing.models import Subsession

from .report import CycleCounts, Outcome

# A subsession that could not be fetched: "skip" is settled without a post (given up after
# iRacing said twice it has no such race: move past it), "retry" is owed (keep the watermark
# before it; it is asked again with backoff).
Fetch = Subsession | Literal["skip", "retry"]


@dataclass
class CycleState:
    """What one cycle fetched and posted, and which channels failed: mutable while it runs."""

    started_at: float
    tracking: dict[int, frozenset[int]]
    guilds: dict[int, GuildConfig]
    oldest_postable: int
    marks: dict[tuple[int, int], Watermark] = field(default_factory=dict)
    tracked_since: dict[tuple[int, int], int] = field(default_factory=dict)
    fetches: dict[int, asyncio.Task[Fetch]] = field(default_factory=dict)
    posts: dict[tuple[int, int], asyncio.Task[bool]] = field(default_factory=dict)
    names: dict[int, asyncio.Task[dict[int, str]]] = field(default_factory=dict)
    charts: dict[int, asyncio.Task[LapChart | None]] = field(default_factory=dict)
    unavailable: dict[int, str] = field(default_factory=dict)
    owed: dict[int, PendingRace] = field(default_factory=dict)  # races owed met this cycle
    # Every race owed when the cycle began: read once, so a race's fetch waits on no query of its own.
    owed_at_start: dict[int, PendingRace] = field(default_factory=dict)
    counts: CycleCounts = field(default_factory=CycleCounts)
    aborted: Outcome | None = None
