"""A result without a field the card can do without is posted, once, with "—" where the value
was: the engine against the fake iRacing (whose answers leave the field out), the real client,
SQLite, the real renderer and an in-memory Discord; the posted card drawn as its embed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ir2dis_cog.core.cards import MISSING
from ir2dis_cog.red.embeds import card_to_embed
from ir2dis_cog.render.fonts import default_fonts
from ir2dis_cog.render.image_card import ImageCard
from ir2dis_cog.render.layout import layout_card
from ir2dis_cog.render.worker import RenderWorker
from ir2dis_cog.store import Store
from tests.fakes.iracing import FakeIRacing
from tests.poller.conftest import EngineFactory, ManualClock, MemoryPublisher, World

G1, C1 = 111_111_111_111, 9001
# The field left out of one race each, and what its tracked driver's embed then says.
LEFT_OUT = {
    "laps_lead": f"(led {MISSING})",
    "best_lap_time": f"Best {MISSING}",
    "newi_rating": f"iRating 1201 → {MISSING} ·",
    "event_strength_of_field": f"SOF {MISSING}",
    "incidents": f"Inc {MISSING}",
    "laps_complete": f"Laps {MISSING}",
    "car_name": "",
    "track": "",
    "series_name": "Official race",
    "official_session": "",
    "car_class_id": "",
    "reason_out": "",
}


@pytest.fixture
async def renderer() -> AsyncIterator[RenderWorker]:
    async with RenderWorker() as worker:
        yield worker


def embed_text(publisher: MemoryPublisher, subsession_id: int) -> str:
    embed = card_to_embed(publisher.card(C1, subsession_id))
    return "\n".join([embed.title or "", embed.description or "", *(f.value or "" for f in embed.fields)])


async def test_a_result_without_an_optional_field_is_posted_once_with_a_dash(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    renderer: RenderWorker,
) -> None:
    w = World(sqlite_store, fake, clock)
    await w.server(G1, C1)
    races: dict[str, int] = {}
    for i, key in enumerate(LEFT_OUT):
        driver = 1_000 + i  # one driver a race: a driver's recent races list only the latest ten
        fake.add_member(driver, irating=1_201)
        fake.add_race([driver], session_start_time=clock.now() - 5 * 86_400)  # before tracking
        await w.track(G1, driver)
        races[key] = w.race([900 + i, driver, 950 + i], minutes_ago=45 - i)
        fake.world.strip_results(races[key], [key])

    report = await make_engine(sqlite_store, renderer=renderer).run_cycle()

    assert report.counts.subsession_errors == 0
    assert sorted(publisher.posted(C1)) == sorted(races.values())  # each race once
    for key, shown in LEFT_OUT.items():
        text = embed_text(publisher, races[key])
        assert "None" not in text and shown in text, (key, text)
        png = publisher.images[(C1, races[key])]
        assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n", key
    assert "Fake Raceway Park" not in embed_text(publisher, races["track"])
    assert "Fake Car GT4" not in embed_text(publisher, races["car_name"])
    # The picture the outbox kept says the same.
    row = await sqlite_store.db.fetchone(
        "SELECT image_json FROM post_history WHERE guild_id = ? AND subsession_id = ?", (G1, races["laps_lead"])
    )
    assert row is not None
    texts = [t.text for t in layout_card(ImageCard.from_json(row[0]), default_fonts()).texts]
    assert f"10 · {MISSING} led" in texts

    # Nothing is asked for or posted again.
    clock.advance(300)
    again = await make_engine(sqlite_store, renderer=renderer).run_cycle()
    assert again.counts.posts_published == 0 and len(publisher.posted(C1)) == len(races)
