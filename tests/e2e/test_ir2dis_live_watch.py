"""The live watcher in a real `redbot` process: a race found in iRacing's live list, not by driver.

A tracked driver's race is live in the fake iRacing's spectator list (her roster readable), then
ends and leaves the list, and its results come out a while later. The bot posts it once, and its
log says the live watcher found it; the per-driver poll never asked for her races after the
results came out, so it was not the safety net.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.e2e.ir2dis_setup import ir2dis_env, load_ir2dis
from tests.e2e.redbot_harness import RedHarness, poll_until
from tests.fakes.iracing import FakeIRacing, recent_start

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID = "ir2dis-live-client"
EMAIL = "live-watch@example.com"
DANA = 330_001
LIVE_POLL = 30  # the shortest live list period the settings accept
RACE_LEFT_MINUTES = 1.5  # the race runs this much longer once the bot watches
RESULTS_DELAY = 40.0  # results come out this many seconds after the end
# The list that sees it gone (<= one period after the end), then a minute before results/get.
POSTED_WITHIN = RACE_LEFT_MINUTES * 60 + LIVE_POLL + 60 + RESULTS_DELAY + 45


@pytest.fixture
async def iracing(make_fake_iracing: Callable[[str, str], Awaitable[FakeIRacing]]) -> FakeIRacing:
    return await make_fake_iracing(CLIENT_ID, EMAIL)


def _roster_reads(iracing: FakeIRacing) -> Counter[int]:
    return Counter(
        int(r.query.split("=")[1]) for r in iracing.requests if r.kind == "data" and r.path.endswith("reg_drivers_list")
    )


def _recent_races_asked(iracing: FakeIRacing, cust_id: int, since: float) -> int:
    return sum(
        1
        for r in iracing.requests
        if r.kind == "data" and r.path.endswith("member_recent_races") and f"cust_id={cust_id}" in r.query
        if r.at >= since
    )


async def test_a_live_race_is_found_by_the_watcher_and_posted_once(
    make_red_harness: Callable[..., Awaitable[RedHarness]], iracing: FakeIRacing
) -> None:
    iracing.add_member(DANA, "Dana Draft")
    iracing.add_race([DANA], series_name="Fake Warmup", session_start_time=recent_start(3 * 24 * 60))
    env = ir2dis_env(iracing)
    h = await make_red_harness(cog_paths=[REPO_ROOT], env=env)
    results = h.fake.add_channel(h.guild_id, "race-results")
    await h.start()
    await load_ir2dis(h, iracing, CLIENT_ID, EMAIL)
    # The per-driver poll every 10 minutes: far slower than the watcher needs to post this race.
    await h.command("!iracingset pollinterval 600", expect=lambda m: "polls every" in m.content)
    await h.command(f"!iracingset livepoll {LIVE_POLL}", expect=lambda m: str(LIVE_POLL) in m.content)
    await h.command(f"!iracing setchannel <#{results}>", expect=lambda m: "will be posted in" in m.content)
    tracked = await h.command(f"!iracing track {DANA}", expect=lambda m: "tracking" in m.content)
    assert f"Dana Draft** ({DANA})" in tracked.text, tracked.text

    # iRacing always has races running: an empty live list would (rightly) degrade the watcher.
    other = iracing.add_race(
        [330_903, 330_904], series_name="Fake Endurance", session_start_time=recent_start(5), race_minutes=60
    )
    race_minutes = 6.0
    race = iracing.add_race(
        [DANA, 330_901, 330_902],
        series_name="Fake Live Cup",
        session_start_time=recent_start(race_minutes - RACE_LEFT_MINUTES),
        race_minutes=race_minutes,
        results_delay=RESULTS_DELAY,
    )
    await h.proc.guard(
        poll_until(lambda: f"subsession_id={race}" in " ".join(r.query for r in iracing.requests), 90, "a roster read"),
        "the watcher reading the race's roster",
    )
    assert _roster_reads(iracing) == {race: 1, other: 1}
    published_at = iracing.world.races[race].published_at

    card = await h.wait_for_message(results, lambda m: f"Subsession {race}" in m.text(), POSTED_WITHIN)
    assert "Dana Draft" in card.text()
    assert time.time() >= published_at  # not before its results were out
    found = f"the live watcher found subsession {race}"
    await h.proc.guard(poll_until(lambda: found in h.proc.log_text(), 20, "the watcher's log line"), "the log")
    # Nobody asked for Dana's races since the results came out: the safety net did not find it.
    assert _recent_races_asked(iracing, DANA, published_at) == 0
    # One roster read and one post, whatever the cycles and lists that followed.
    status = await h.command("!iracing status", expect=lambda m: "Live watcher" in m.text())
    assert "Live watcher: healthy" in status.text, status.text
    assert len([m for m in h.fake.messages(results) if f"Subsession {race}" in m.text()]) == 1
    assert _roster_reads(iracing) == {race: 1, other: 1}
    assert "Traceback" not in h.proc.log_text(), h.proc.log_tail()
