"""Fixtures of the poll engine tests: a manual clock, a fake iRacing on loopback driven by that
clock, the real iRacing client, an in-memory publisher standing in for Discord, and a world
builder that tracks drivers the way the ``track`` command does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ir2dis_cog.config.settings import Settings
from ir2dis_cog.core.cards import RaceCard
from ir2dis_cog.core.tracking import RaceRef, baseline_mark
from ir2dis_cog.iracing.auth_state import MemoryAuthStateStore
from ir2dis_cog.iracing.client import IRacingClient
from ir2dis_cog.observability.metrics import Metrics
from ir2dis_cog.poller.engine import PollEngine
from ir2dis_cog.poller.ports import ChannelUnavailableError
from ir2dis_cog.store import Store, open_store
from tests.fakes.iracing import FakeIRacing
from tests.iracing.conftest import FAST, make_settings

T0 = 1_770_000_000.0  # a fixed "now" for every test (February 2026)


class ManualClock:
    """Time that only moves when told to, or when the engine sleeps (then it jumps at once)."""

    def __init__(self, start: float = T0) -> None:
        self.t = start
        self.slept = 0.0

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += max(0.0, seconds)
        self.slept += max(0.0, seconds)
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self.t += seconds


class Crash(BaseException):
    """Stands for the process dying: no ``except Exception`` in the engine catches it."""


@dataclass
class MemoryPublisher:
    """Discord reduced to channels holding (message id, card); channels can be made unavailable."""

    messages: dict[int, list[tuple[int, RaceCard]]] = field(default_factory=dict)
    unavailable: dict[int, str] = field(default_factory=dict)
    crash_after_publish: bool = False
    crash_before_publish: bool = False
    finds: int = 0
    images: dict[tuple[int, int], bytes | None] = field(default_factory=dict)  # (channel, subsession) -> PNG
    pinged: dict[tuple[int, int], Any] = field(default_factory=dict)  # (channel, subsession) -> Mentions
    _next_id: int = 10_000

    async def publish(self, channel_id: int, card: RaceCard, image: bytes | None = None, mentions: Any = None) -> int:
        if mentions is not None:
            self.pinged[(channel_id, card.subsession_id)] = mentions
        if channel_id in self.unavailable:
            raise ChannelUnavailableError(self.unavailable[channel_id])
        if self.crash_before_publish:
            raise Crash()
        self._next_id += 1
        self.messages.setdefault(channel_id, []).append((self._next_id, card))
        self.images[(channel_id, card.subsession_id)] = image
        if self.crash_after_publish:
            raise Crash()
        return self._next_id

    async def find_existing(self, channel_id: int, subsession_id: int) -> int | None:
        self.finds += 1
        if channel_id in self.unavailable:
            raise ChannelUnavailableError(self.unavailable[channel_id])
        return next((m for m, c in self.messages.get(channel_id, []) if c.subsession_id == subsession_id), None)

    def posted(self, channel_id: int) -> list[int]:
        """Subsession ids in the channel, in posting order."""
        return [c.subsession_id for _, c in self.messages.get(channel_id, [])]

    def all_posts(self) -> list[tuple[int, int]]:
        return sorted((ch, c.subsession_id) for ch, msgs in self.messages.items() for _, c in msgs)

    def card(self, channel_id: int, subsession_id: int) -> RaceCard:
        return next(c for _, c in self.messages[channel_id] if c.subsession_id == subsession_id)


async def cycle_that_dies(engine: PollEngine, publisher: MemoryPublisher, *, after_publish: bool) -> None:
    """One cycle whose process dies mid-post: after Discord took the card, or just before sending it."""
    flag = "crash_after_publish" if after_publish else "crash_before_publish"
    setattr(publisher, flag, True)
    try:
        with pytest.raises(Crash):
            await engine.run_cycle()
    finally:
        setattr(publisher, flag, False)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def fake(clock: ManualClock) -> AsyncIterator[FakeIRacing]:
    server = FakeIRacing(clock=clock.now)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def settings(fake: FakeIRacing, tmp_path: Path) -> Settings:
    return make_settings(fake, tmp_path)


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def client(
    fake: FakeIRacing, settings: Settings, clock: ManualClock, metrics: Metrics
) -> AsyncIterator[IRacingClient]:
    async with IRacingClient(
        settings, state_store=MemoryAuthStateStore(), metrics=metrics, tuning=FAST, clock=clock.now
    ) as c:
        yield c


@pytest.fixture
def publisher() -> MemoryPublisher:
    return MemoryPublisher()


@pytest.fixture
async def stores(db_url: str, tmp_path: Path) -> AsyncIterator[tuple[Store, Store]]:
    """Two connections to one database, as two processes would have."""
    first = await open_store(db_url, data_dir=tmp_path)
    second = await open_store(db_url, data_dir=tmp_path)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_store(f"sqlite:///{tmp_path / 'engine.sqlite3'}", data_dir=tmp_path)
    try:
        yield s
    finally:
        await s.close()


def at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


@dataclass
class World:
    """Servers, their channels and tracked drivers, on one store and one fake iRacing."""

    store: Store
    fake: FakeIRacing
    clock: ManualClock

    async def server(self, guild_id: int, channel_id: int | None = None) -> None:
        if channel_id is not None:
            await self.store.guilds.set_channel(guild_id, channel_id, now=int(self.clock.now()))

    async def track(self, guild_id: int, cust_id: int, name: str | None = None) -> None:
        """As the track command does: the watermark starts at the driver's latest race."""
        self.fake._member(cust_id)
        races = (self.fake._races[s] for s in self.fake.recent_race_ids(cust_id))
        mark = baseline_mark(RaceRef(int(r.start), r.subsession_id) for r in races)
        await self.store.last_seen.set(guild_id, cust_id, *mark)
        await self.store.drivers.track(guild_id, cust_id, name or f"Driver {cust_id}", None, now=int(self.clock.now()))

    def race(self, cust_ids: list[Any], *, minutes_ago: float = 40.0, **kw: Any) -> int:
        """A race that started ``minutes_ago`` and whose results are out now."""
        return self.fake.add_race(cust_ids, session_start_time=self.clock.now() - minutes_ago * 60, **kw)


EngineFactory = Callable[..., PollEngine]


@pytest.fixture
def make_engine(
    client: IRacingClient, publisher: MemoryPublisher, settings: Settings, clock: ManualClock, metrics: Metrics
) -> EngineFactory:
    def build(
        store: Store,
        *,
        source: Any = None,
        pub: Any = None,
        process: str = "engine-a",
        metrics_: Metrics | None = None,
        settings_: Settings | None = None,
        instance: str | None = None,
        spare_share: float = 0.5,
        renderer: Any = None,
    ) -> PollEngine:
        return PollEngine(
            store,
            source or client,
            pub or publisher,
            settings_ or settings,
            metrics_ or metrics,
            clock,
            process=process,
            instance=instance,
            spare_share=spare_share,
            renderer=renderer,
        )

    return build
