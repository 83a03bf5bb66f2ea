"""On track now in a real `redbot` process, against the fake Discord and the fake iRacing.

A server turns on-track notices on (`/iracing ontrack`). A tracked driver's race goes live in the
fake iRacing's spectator list: the server's on-track channel gets exactly one short notice naming
the driver, the series and the track (from the season's schedule, asked once), with no mention at
all (pings are off). The race ends, its results come out, and the result card follows once in the
results channel; the notice is not sent again by the live lists that follow.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.e2e.ir2dis_setup import ir2dis_env, load_ir2dis
from tests.e2e.redbot_harness import RedHarness, poll_until
from tests.fakes.discord import Message
from tests.fakes.iracing import FakeIRacing, recent_start

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID = "ir2dis-on-track-client"
EMAIL = "on-track@example.com"
LIA = 350_001
SEASON = 7_001
LIVE_POLL = 30  # the shortest live list period the settings accept
RACE_LEFT_MINUTES = 2.0  # the race runs this much longer once the bot watches
RESULTS_DELAY = 30.0
NOTICE_WITHIN = 3 * LIVE_POLL + 30  # the first list (a minute after the start), its roster, then the post
CARD_WITHIN = RACE_LEFT_MINUTES * 60 + LIVE_POLL + 60 + RESULTS_DELAY + 45


@pytest.fixture
async def iracing(make_fake_iracing: Callable[[str, str], Awaitable[FakeIRacing]]) -> FakeIRacing:
    return await make_fake_iracing(CLIENT_ID, EMAIL)


def _is_notice(h: RedHarness, m: Message, subsession_id: int) -> bool:
    footer = " ".join(e.get("footer", {}).get("text", "") for e in m.embeds)
    return m.author_id == h.fake.bot_id and footer == f"ir2dis on track {subsession_id}"


def _schedule_asks(iracing: FakeIRacing) -> list[str]:
    return [r.query for r in iracing.requests if r.kind == "data" and r.path.endswith("series/season_schedule")]


async def test_a_live_race_gets_one_notice_naming_driver_series_and_track_then_its_card(
    make_red_harness: Callable[..., Awaitable[RedHarness]], iracing: FakeIRacing
) -> None:
    iracing.add_member(LIA, "Lia Lane", irating=2800)
    iracing.add_race([LIA], series_name="Fake Warmup", session_start_time=recent_start(3 * 24 * 60))
    h = await make_red_harness(cog_paths=[REPO_ROOT], env=ir2dis_env(iracing))
    g = h.guild_id
    results = h.fake.add_channel(g, "race-results")
    on_track = h.fake.add_channel(g, "on-track")
    await h.start()
    await load_ir2dis(h, iracing, CLIENT_ID, EMAIL)
    await h.command("!iracingset pollinterval 600", expect=lambda m: "polls every" in m.content)
    await h.command(f"!iracingset livepoll {LIVE_POLL}", expect=lambda m: str(LIVE_POLL) in m.content)
    await h.command(f"!iracing setchannel <#{results}>", expect=lambda m: "will be posted in" in m.content)
    await h.command(f"!iracing track {LIA}", expect=lambda m: "tracking" in m.content)
    await h.enable_slash("iracing")
    turned_on = await h.slash("iracing", "ontrack", {"channel": on_track})
    assert turned_on.ephemeral and "a short notice will be posted in" in turned_on.content, turned_on.content
    assert "live watcher off" not in turned_on.content

    # iRacing always has races running (an empty list would degrade the watcher): nobody tracked here.
    iracing.add_race(
        [350_901, 350_902], series_name="Fake Endurance", session_start_time=recent_start(5), race_minutes=60
    )
    race_minutes = 5.0
    race = iracing.add_race(
        [LIA, 350_903, 350_904],
        series_name="Fake Sprint Cup",
        season_id=SEASON,
        track_name="Fake Ring",
        track_config="Sprint",
        session_start_time=recent_start(race_minutes - RACE_LEFT_MINUTES),
        race_minutes=race_minutes,
        results_delay=RESULTS_DELAY,
    )

    notice = await h.wait_for_message(on_track, lambda m: _is_notice(h, m, race), NOTICE_WITHIN)
    assert notice.embeds[0]["title"] == "On track now: Lia Lane", notice.embeds
    description = notice.embeds[0]["description"]
    assert description.startswith("Fake Sprint Cup at Fake Ring · Sprint, started <t:"), description
    assert "Split 1 of 1, SOF about " in description
    # No mention at all: no content, nothing allowed, nobody pinged.
    assert not notice.content and notice.pinged_users == ()
    assert notice.allowed_mentions is not None and notice.allowed_mentions["parse"] == []
    assert not notice.allowed_mentions.get("users") and not notice.allowed_mentions.get("roles")
    assert _schedule_asks(iracing) == [f"season_id={SEASON}"]  # the untracked race's season is never asked

    published_at = iracing.world.races[race].published_at
    card = await h.wait_for_message(results, lambda m: f"Subsession {race}" in m.text(), CARD_WITHIN)
    assert "Lia Lane" in card.text() and "Fake Sprint Cup" in card.text()
    assert time.time() >= published_at  # not before its results were out

    # One more live list after the card: still one notice, one card, one schedule request.
    lists = sum(1 for r in iracing.requests if r.path.endswith("spectator_subsessionids_detail"))
    await h.proc.guard(
        poll_until(
            lambda: sum(1 for r in iracing.requests if r.path.endswith("spectator_subsessionids_detail")) > lists,
            LIVE_POLL + 30,
            "another live list",
        ),
        "the live watcher",
    )
    assert [m.id for m in h.fake.messages(on_track) if _is_notice(h, m, race)] == [notice.id]
    assert len([m for m in h.fake.messages(results) if f"Subsession {race}" in m.text()]) == 1
    assert _schedule_asks(iracing) == [f"season_id={SEASON}"]
    assert "Traceback" not in h.proc.log_text(), h.proc.log_tail()
