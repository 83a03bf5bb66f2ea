"""The cog's life inside one real `redbot` process: reload, new credentials, a user's data deletion.

A reload must leave nothing behind (no second poll loop, no open HTTP session, the health port
free for the new load); new iRacing credentials given with `[p]set api` must be used at once, for
a different account too, and never logged; Red's data deletion must reach the store.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.ir2dis_setup import ir2dis_env, load_ir2dis
from tests.e2e.redbot_harness import RedHarness, poll_until
from tests.fakes.iracing import FakeIRacing, mask, recent_start

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID = "ir2dis-lifecycle-client"
FIRST_EMAIL, SECOND_EMAIL = "first-account@example.com", "second-account@example.com"
ALICE = 320_001
POLL_SECONDS = 30
POSTED_WITHIN = 2 * POLL_SECONDS + 15
CREDENTIALS_RELOADED = "iRacing credentials reloaded"  # the cog's log line once a new client is in place

# Evaluated by Red's `[p]debug` inside the bot: running poll loops, and aiohttp sessions still open.
LEFT_BEHIND = (
    "(sum('Loop._loop' in repr(t.get_coro()) for t in __import__('asyncio').all_tasks()), "
    "sum(1 for o in __import__('gc').get_objects() "
    "if isinstance(o, __import__('aiohttp').ClientSession) and not o.closed))"
)


@pytest.fixture
async def iracing(make_fake_iracing: Callable[[str, str], Awaitable[FakeIRacing]]) -> FakeIRacing:
    return await make_fake_iracing(CLIENT_ID, FIRST_EMAIL)


async def _health(port: int) -> int:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/health") as answer:
        return answer.status


async def _left_behind(h: RedHarness) -> tuple[int, int]:
    reply = await h.command(f"!debug {LEFT_BEHIND}", expect=lambda m: "```" in m.content)
    found = re.search(r"\((\d+), (\d+)\)", reply.text)
    assert found, reply.text
    return int(found.group(1)), int(found.group(2))


async def test_reload_new_credentials_and_data_deletion(
    make_red_harness: Callable[..., Awaitable[RedHarness]], iracing: FakeIRacing
) -> None:
    iracing.add_member(ALICE, "Alice Apex")
    # Alice last raced weeks ago; with budget to spare she is still polled every cycle.
    iracing.add_race([ALICE], series_name="Fake Warmup", session_start_time=recent_start(20 * 24 * 60))
    env = ir2dis_env(iracing)
    port = int(env["HEALTH_PORT"])
    h = await make_red_harness(cog_paths=[REPO_ROOT], env=env)
    h.proc.extra_args = ("--dev",)  # `[p]debug`, to look inside the bot
    results = h.fake.add_channel(h.guild_id, "race-results")
    assert h.instance is not None
    db = h.instance.data_path / "cogs" / "IRacingCog" / "ir2dis.sqlite3"
    await h.start()
    await load_ir2dis(h, iracing, CLIENT_ID, FIRST_EMAIL)
    await h.command(f"!iracingset pollinterval {POLL_SECONDS}", expect=lambda m: "polls every" in m.content)
    await h.command(f"!iracing setchannel <#{results}>", expect=lambda m: "will be posted in" in m.content)
    tracked = await h.command(f"!iracing track {ALICE}", expect=lambda m: "tracking" in m.content)
    assert f"Alice Apex** ({ALICE})" in tracked.text, tracked.text
    assert iracing.stats["logins"] == 1  # the driver lookup logged in with the first account
    assert await _health(port) == 200

    # --- a reload leaves nothing behind ------------------------------------------------------------
    before = await _left_behind(h)
    assert before[0] >= 1 and before[1] >= 1, before  # the poll loop runs, the iRacing client is open
    for _ in range(2):
        reloaded = await h.command("!reload ir2dis_cog", expect=lambda m: m.text().startswith(("Reloaded", "Failed")))
        assert reloaded.text.startswith("Reloaded"), reloaded.text
    assert await _left_behind(h) == before  # e.g. (1, 2): one loop, two sessions, as before
    assert await _health(port) == 200
    assert "health_server_unavailable" not in h.proc.log_text()  # the old server let go of the port
    assert iracing.stats["logins"] == 1  # the saved token pair survived the reloads: no new login

    # --- another account's credentials: used at once, without a reload -----------------------------
    first_password = iracing.password
    iracing.email, iracing.password = SECOND_EMAIL, f"pw2-{secrets.token_urlsafe(18)}"
    swaps_before = h.proc.log_text().count(CREDENTIALS_RELOADED)
    await h.command(
        f"!set api iracing username,{SECOND_EMAIL} password,{iracing.password}",
        expect=lambda m: "API tokens have been set" in m.content,
    )
    # Red answers before the cog's listener has swapped the client (it waits for a running cycle
    # to end); a race seen by that last cycle would still be fetched with the first account.
    await h.proc.guard(
        poll_until(
            lambda: h.proc.log_text().count(CREDENTIALS_RELOADED) > swaps_before,
            60,
            "the cog taking the new credentials",
        ),
        "the credentials swap",
    )
    race = iracing.add_race([ALICE], series_name="Fake Lifecycle Cup")
    card = await h.wait_for_message(results, lambda m: f"Subsession {race}" in m.text(), POSTED_WITHIN)
    assert "Alice Apex" in card.text()
    # The first account's saved tokens belong to it: the bot logged in again, as the second one.
    assert iracing.stats["logins"] == 2

    # --- Red's data deletion for the user who added the driver -----------------------------------
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        assert conn.execute("SELECT created_by FROM tracked_driver").fetchall() == [(h.fake.owner_id,)]
    await h.command(
        f"!debug bot.get_cog('IRacingCog').red_delete_data_for_user(requester='user', user_id={h.fake.owner_id})",
        expect=lambda m: "```" in m.content,
    )
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        assert conn.execute("SELECT cust_id, created_by FROM tracked_driver").fetchall() == [(ALICE, None)]

    log = h.proc.log_text() + h.instance.red_log_path.read_text(errors="replace")
    assert "Traceback" not in log, h.proc.log_tail()
    for secret in (
        first_password,
        iracing.password,
        iracing.client_secret,
        mask(iracing.password, SECOND_EMAIL),
        mask(first_password, FIRST_EMAIL),
    ):
        assert secret not in log
