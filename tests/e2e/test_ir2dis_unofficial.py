"""Hosted and league races in a real `redbot` process, against the fake Discord and fake iRacing.

A tracked driver who races in leagues (a hosted race three days before she is tracked, never
posted: no backlog) drives a hosted race; the server follows a league, and a race of it with
nobody tracked finishes. Each is posted once, with the card saying what it is; following an
unknown league is answered with one sentence and saves nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.e2e.ir2dis_setup import ir2dis_env, load_ir2dis
from tests.e2e.redbot_harness import RedHarness, poll_until
from tests.fakes.iracing import FakeIRacing, recent_start

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID = "ir2dis-unofficial-client"
EMAIL = "unofficial@example.com"
ELENA = 340_001
LEAGUE, SEASON = 7_701, 130_001
LEAGUE_NAME = "Fake Thursday League"
SEASON_NAME = "Fake Thursday League - 2026 Season 1"
POLL_SECONDS = 30
POSTED_WITHIN = 3 * POLL_SECONDS + 30  # one cycle to learn her cadence, one to find, slack


@pytest.fixture
async def iracing(make_fake_iracing: Callable[[str, str], Awaitable[FakeIRacing]]) -> FakeIRacing:
    return await make_fake_iracing(CLIENT_ID, EMAIL)


async def test_a_hosted_race_and_a_followed_leagues_race_are_posted_once(
    make_red_harness: Callable[..., Awaitable[RedHarness]], iracing: FakeIRacing
) -> None:
    iracing.add_member(ELENA, "Elena Esses")
    iracing.add_league(LEAGUE, LEAGUE_NAME, [(SEASON, SEASON_NAME)])
    # She raced in a league three days ago: tracked, she is searched every cycle from the start.
    backlog = iracing.add_race(
        [ELENA, 340_901], hosted=True, session_name="Old lobby", session_start_time=recent_start(3 * 24 * 60)
    )
    env = ir2dis_env(iracing)
    h = await make_red_harness(cog_paths=[REPO_ROOT], env=env)
    results = h.fake.add_channel(h.guild_id, "race-results")
    await h.start()
    await load_ir2dis(h, iracing, CLIENT_ID, EMAIL)
    await h.command(f"!iracingset pollinterval {POLL_SECONDS}", expect=lambda m: "polls every" in m.content)
    await h.command(f"!iracing setchannel <#{results}>", expect=lambda m: "will be posted in" in m.content)
    tracked = await h.command(f"!iracing track {ELENA}", expect=lambda m: "tracking" in m.content)
    assert "Elena Esses" in tracked.text, tracked.text

    unknown = await h.command("!iracing league follow 999999", expect=lambda m: "999999" in m.content)
    assert unknown.text == "I cannot read an iRacing league with id 999999. Nothing was saved.", unknown.text
    listed = await h.command("!iracing league list", expect=lambda m: "league" in m.content)
    assert "follows no league yet" in listed.text, listed.text
    followed = await h.command(f"!iracing league follow {LEAGUE}", expect=lambda m: "following" in m.content)
    assert f"Now following **{LEAGUE_NAME}** ({LEAGUE})" in followed.text, followed.text

    hosted = iracing.add_race(
        [ELENA, 340_902, 340_903],
        hosted=True,
        session_name="Elena's Tuesday lobby",
        session_start_time=recent_start(20),
        race_minutes=20.5,
    )
    league = iracing.add_race(
        [340_911, 340_912, 340_913, 340_914],
        league_id=LEAGUE,
        session_name="Round 3",
        session_start_time=recent_start(25),
        race_minutes=25.5,
    )
    hosted_card = await h.wait_for_message(results, lambda m: f"Subsession {hosted}" in m.text(), POSTED_WITHIN)
    league_card = await h.wait_for_message(results, lambda m: f"Subsession {league}" in m.text(), POSTED_WITHIN)
    assert "Hosted session" in hosted_card.text() and "Elena's Tuesday lobby" in hosted_card.text()
    assert "Elena Esses" in hosted_card.text() and "iRating" not in hosted_card.text()
    text = league_card.text()
    assert f"{LEAGUE_NAME} · {SEASON_NAME}" in text and "Round 3" in text, text
    assert "League standings" in text and "No tracked driver" not in text, text
    # Two more cycles: still one card each, and the race from before the tracking never.
    seen = len(h.proc.log_text())
    await h.proc.guard(
        poll_until(lambda: h.proc.log_text().count("poll cycle", seen) >= 2, 3 * POLL_SECONDS, "two more cycles"),
        "two more poll cycles",
    )
    posts = h.fake.messages(results)
    assert len([m for m in posts if f"Subsession {hosted}" in m.text()]) == 1
    assert len([m for m in posts if f"Subsession {league}" in m.text()]) == 1
    assert not [m for m in posts if f"Subsession {backlog}" in m.text()]
    log = h.proc.log_text()
    assert "hosted or league races could not be checked" not in log, h.proc.log_tail()
    assert "Traceback" not in log, h.proc.log_tail()
