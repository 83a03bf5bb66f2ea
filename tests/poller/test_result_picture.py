"""Result posts with their picture: the engine against the fake iRacing (lap_chart_data included),
the real client, SQLite, the real renderer in its worker thread and an in-memory Discord."""

from __future__ import annotations

import functools
import io
from collections.abc import AsyncIterator

import pytest
from PIL import Image

from ir2dis_cog.observability.metrics import Metrics
from ir2dis_cog.poller import engine as engine_module
from ir2dis_cog.render.image_card import ImageCard, fit_for_storage
from ir2dis_cog.render.worker import RenderWorker
from ir2dis_cog.store import Store
from tests.fakes.iracing import FakeIRacing
from tests.poller.conftest import EngineFactory, ManualClock, MemoryPublisher, cycle_that_dies
from tests.poller.test_engine import (
    C1,
    C2,
    DAYTONA_CLASSES,
    G1,
    G2,
    A,
    B,
    calls,
    daytona_field,
    world,
    world_tracking_a,
)

CHART = "results/lap_chart_data"


@pytest.fixture
async def renderer() -> AsyncIterator[RenderWorker]:
    async with RenderWorker() as worker:
        yield worker


class BrokenRenderer:
    async def render(self, card: object) -> bytes:
        raise MemoryError("out of memory while drawing")


def picture(publisher: MemoryPublisher, channel: int, subsession: int) -> Image.Image:
    png = publisher.images[(channel, subsession)]
    assert png is not None, "posted without its picture"
    image = Image.open(io.BytesIO(png))
    image.load()
    assert image.format == "PNG" and len(png) < 8 * 1024 * 1024
    return image


async def stored_picture(store: Store, guild_id: int, subsession: int) -> ImageCard:
    row = await store.db.fetchone(
        "SELECT image_json FROM post_history WHERE guild_id = ? AND subsession_id = ?", (guild_id, subsession)
    )
    assert row is not None and row[0]
    return ImageCard.from_json(row[0])


def failures(metrics: Metrics, stage: str) -> float:
    return float(metrics.render_failures_total.labels(stage)._value.get())


async def test_every_server_gets_the_picture_drawn_from_one_chart_request(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    renderer: RenderWorker,
    metrics: Metrics,
) -> None:
    w = await world(sqlite_store, fake, clock)
    await w.server(G1, C1)
    await w.server(G2, C2)
    await w.track(G1, A)
    await w.track(G2, B)
    race = w.race([*range(5000, 5010), A, *range(6000, 6015), B], laps=18)  # a 27-car field
    fake.requests.clear()

    await make_engine(sqlite_store, renderer=renderer).run_cycle()

    assert publisher.posted(C1) == [race] and publisher.posted(C2) == [race]
    assert len(calls(fake, CHART)) == 1  # one chart for the race, however many servers
    for channel in (C1, C2):
        assert picture(publisher, channel, race).width >= 600
    assert metrics.images_rendered_total._value.get() == 2
    kept = await stored_picture(sqlite_store, G1, race)
    assert kept.chart is not None and kept.chart.laps == 18
    assert [e.drivers[0].cust_id for e in kept.entries] == [A]


async def test_a_server_that_chose_embed_gets_no_picture_and_costs_no_chart_request(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    renderer: RenderWorker,
) -> None:
    w = await world_tracking_a(sqlite_store, fake, clock)
    await sqlite_store.guilds.set_post_style(G1, "embed", now=int(clock.now()))
    race = w.race([A, 950, 951])
    fake.requests.clear()

    await make_engine(sqlite_store, renderer=renderer).run_cycle()

    assert publisher.posted(C1) == [race] and publisher.images[(C1, race)] is None
    assert calls(fake, CHART) == []


async def test_with_the_chart_endpoint_failing_the_race_is_posted_once_with_a_picture_without_chart(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    renderer: RenderWorker,
    metrics: Metrics,
    caplog: pytest.LogCaptureFixture,
) -> None:
    w = await world_tracking_a(sqlite_store, fake, clock)
    race = w.race([A, *range(7000, 7023)])
    fake.broken_endpoints = [CHART]
    caplog.set_level("WARNING", logger="red.ir2dis.poller")
    engine = make_engine(sqlite_store, renderer=renderer)

    await engine.run_cycle()
    clock.advance(300)
    await engine.run_cycle()

    assert publisher.posted(C1) == [race]
    picture(publisher, C1, race)
    assert (await stored_picture(sqlite_store, G1, race)).chart is None
    assert failures(metrics, "chart_data") == 1
    [event] = [r for r in caplog.records if getattr(r, "event", None) == "render_failed"]
    assert event.stage == "chart_data" and event.subsession_id == race  # type: ignore[attr-defined]


async def test_a_chart_too_long_to_keep_costs_the_chart_and_is_counted_as_too_large(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    renderer: RenderWorker,
    metrics: Metrics,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    w = await world_tracking_a(sqlite_store, fake, clock)
    race = w.race([A, *range(7100, 7123)])
    # A limit no chart fits (a real chart outgrows 60,000 characters only in a very long race).
    monkeypatch.setattr(engine_module, "fit_for_storage", functools.partial(fit_for_storage, limit=1))

    await make_engine(sqlite_store, renderer=renderer).run_cycle()

    assert publisher.posted(C1) == [race]
    picture(publisher, C1, race)
    assert (await stored_picture(sqlite_store, G1, race)).chart is None
    assert failures(metrics, "too_large") == 1 and failures(metrics, "chart_data") == 0


async def test_a_drawing_that_fails_posts_the_embed_alone_and_says_so(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    metrics: Metrics,
) -> None:
    w = await world_tracking_a(sqlite_store, fake, clock)
    race = w.race([A, 950])

    report = await make_engine(sqlite_store, renderer=BrokenRenderer()).run_cycle()

    assert publisher.posted(C1) == [race] and publisher.images[(C1, race)] is None
    assert report.counts.posts_published == 1 and failures(metrics, "render") == 1


async def test_a_retry_after_a_crash_draws_the_picture_from_what_the_outbox_kept(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    renderer: RenderWorker,
) -> None:
    w = await world_tracking_a(sqlite_store, fake, clock)
    race = w.race([A, *range(8000, 8011)], laps=22)
    await cycle_that_dies(make_engine(sqlite_store, renderer=renderer), publisher, after_publish=False)
    assert publisher.posted(C1) == []
    fake.requests.clear()

    clock.advance(400)  # past the dead process's lease
    await make_engine(sqlite_store, process="engine-b", renderer=renderer).run_cycle()

    assert publisher.posted(C1) == [race]
    picture(publisher, C1, race)
    # drawn again from the stored card and chart series: iRacing was not asked about the race again
    assert calls(fake, "results/get") == [] and calls(fake, CHART) == []


async def test_a_24_hour_team_race_gets_its_whole_chart(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    renderer: RenderWorker,
) -> None:
    w = await world_tracking_a(sqlite_store, fake, clock)
    daytona = w.race(
        daytona_field(A),
        minutes_ago=24 * 60 + 55,
        race_minutes=24 * 60 + 52,
        laps=800,
        series_name="Daytona 24",
        car_classes=DAYTONA_CLASSES,
    )

    await make_engine(sqlite_store, renderer=renderer).run_cycle()

    assert publisher.posted(C1) == [daytona]
    picture(publisher, C1, daytona)
    kept = await stored_picture(sqlite_store, G1, daytona)
    assert kept.chart is not None and kept.chart.laps == 800
    [entry] = kept.entries
    assert entry.team_name == "Endurance Team 7"
