"""A server's own choices in a real `redbot` process, against the fake Discord and the fake iRacing.

An admin sets a minimum SOF, a podium channel and pings (confirmed linked members and a role);
a member links themselves to a tracked driver and an admin confirms it, another member's claim on
the same driver is refused. Then two races finish: the weak field is kept out (logged, never
posted), the strong one (a win) is posted once in the results channel and once in the podium
channel, and only the podium message pings, with ``allowed_mentions`` naming exactly the confirmed
member and the role. The weekly digest is set for an hour ahead in the server's time zone: it is
not sent before, is sent once when the digest's clock reaches that hour (the test moves it through
``IR2DIS_E2E_CLOCK_FILE``, see poller/e2e_clock.py), and not again after a restart in that hour.
Every bad input gets one private sentence and changes nothing; `/iracing ontrack` says when the
live watcher it needs is off (its notices are tested over the fake's live list, tests/poller).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.ir2dis_setup import ir2dis_env, load_ir2dis
from tests.e2e.redbot_harness import RedHarness, poll_until
from tests.fakes.discord import Message
from tests.fakes.iracing import FakeIRacing, recent_start

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
POLL_SECONDS = 30  # the shortest interval the settings accept
POSTED_WITHIN = 2 * POLL_SECONDS + 15
CLIENT_ID = "ir2dis-choices-client"
EMAIL = "choices@example.com"
ALICE, BRUNO = 340_001, 340_002
WEAK = (340_101, 340_102, 340_103)  # a field of about 1,400
STRONG = (340_201, 340_202, 340_203)  # a field of about 3,500
ZONE = "Asia/Kolkata"  # half an hour off UTC: the digest's hour is the server's, not UTC's
CYCLE_DONE = re.compile(r"poll cycle (ok|idle): ")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@pytest.fixture
async def iracing(make_fake_iracing: Callable[[str, str], Awaitable[FakeIRacing]]) -> FakeIRacing:
    return await make_fake_iracing(CLIENT_ID, EMAIL)


def _query(db: Path, sql: str, params: Iterable[object] = ()) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return conn.execute(sql, tuple(params)).fetchall()


def _settings_rows(db: Path, guild_id: int) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """What the server chose, and its members' links, as stored (without the time of the change)."""
    choices = _query(
        db,
        "SELECT categories, min_sof, series_in, series_out, category_channels, podium_channel, podium_top,"
        " ping_members, ping_role, digest_channel, digest_day, digest_hour, live_channel"
        " FROM guild_choices WHERE guild_id = ?",
        (guild_id,),
    )
    links = _query(
        db, "SELECT cust_id, user_id, confirmed FROM member_link WHERE guild_id = ? ORDER BY cust_id", (guild_id,)
    )
    return choices, links


def _is_card(h: RedHarness, m: Message, subsession_id: int) -> bool:
    footer = " ".join(e.get("footer", {}).get("text", "") for e in m.embeds)
    return m.author_id == h.fake.bot_id and bool(re.search(rf"\bSubsession {subsession_id}\b", footer))


def _is_digest(h: RedHarness, m: Message) -> bool:
    footer = " ".join(e.get("footer", {}).get("text", "") for e in m.embeds)
    return m.author_id == h.fake.bot_id and "ir2dis weekly digest" in footer


def _cycles_done(h: RedHarness, since: int) -> int:
    return len(CYCLE_DONE.findall(h.proc.log_text()[since:]))


async def _cycles(h: RedHarness, count: int, since: int | None = None) -> None:
    """Waits until `count` poll cycles ended after log offset `since` (now by default)."""
    start = len(h.proc.log_text()) if since is None else since
    await h.proc.guard(
        poll_until(lambda: _cycles_done(h, start) >= count, count * POLL_SECONDS + 45, f"{count} poll cycles"),
        "poll cycles",
    )


async def test_filters_podium_channel_pings_and_a_weekly_digest_in_a_real_redbot(
    make_red_harness: Callable[..., Awaitable[RedHarness]], iracing: FakeIRacing, tmp_path: Path
) -> None:
    iracing.add_member(ALICE, "Alice Apex", irating=3400)
    iracing.add_member(BRUNO, "Bruno Brake", irating=3300)
    for cust_id in WEAK:
        iracing.add_member(cust_id, f"Weak Field {cust_id}", irating=1100)
    for cust_id in STRONG:
        iracing.add_member(cust_id, f"Strong Field {cust_id}", irating=3600)
    iracing.add_race([ALICE, BRUNO], series_name="Fake Warmup", session_start_time=recent_start(180))
    clock_file = tmp_path / "digest-clock-offset"
    env = ir2dis_env(
        iracing,
        LIVE_WATCH="off",  # the per-driver poll finds these races; the watcher has its own e2e test
        IR2DIS_E2E_CLOCK_FILE=str(clock_file),
    )
    h = await make_red_harness(cog_paths=[REPO_ROOT], env=env)
    g = h.guild_id
    results = h.fake.add_channel(g, "race-results")
    podiums = h.fake.add_channel(g, "podiums")
    digests = h.fake.add_channel(g, "weekly")
    locked = h.fake.add_channel(g, "announcements")
    h.fake.set_bot_permissions(locked, deny=["send_messages"])
    fans = h.fake.add_role(g, "Podium fans", mentionable=True)
    quiet = h.fake.add_role(g, "Quiet crew")  # not mentionable, and the bot may not mention every role
    pat = h.fake.add_member(g, name="Pat Pedal")
    quinn = h.fake.add_member(g, name="Quinn Quick")
    rita = h.fake.add_member(g, name="Rita Rev")  # links nobody: her claim on Alice is refused
    assert h.instance is not None
    db = h.instance.data_path / "cogs" / "IRacingCog" / "ir2dis.sqlite3"

    await h.start()
    await load_ir2dis(h, iracing, CLIENT_ID, EMAIL)
    await h.command(f"!iracingset pollinterval {POLL_SECONDS}", expect=lambda m: "polls every" in m.content)
    await h.enable_slash("iracing")
    await h.slash("iracing", "setchannel", {"channel": results})
    for driver in (ALICE, BRUNO):
        tracked = await h.slash("iracing", "track", {"driver": str(driver)})
        assert tracked.content.startswith("Now tracking"), tracked.content

    # --- the admin's choices, each confirmed in one private sentence ----------------------------
    sof = await h.slash("iracing", "filter", "sof", {"minimum": "2000"})
    assert sof.ephemeral and sof.content == "Races posted here need an SOF of at least 2000.", sof.content
    podium = await h.slash("iracing", "route", "podium", {"channel": podiums, "threshold": "podium"})
    assert podium.ephemeral and podium.content == (
        f"Races with a class podium of a tracked driver will also be posted in <#{podiums}>."
    ), podium.content
    pings = await h.slash("iracing", "pings", {"members": True, "role": fans})
    assert pings.ephemeral and pings.content == (f"Podiums will mention confirmed linked members and <@&{fans}>."), (
        pings.content
    )

    # --- members link themselves; an admin confirms one ------------------------------------------
    linked = await h.slash("iracing", "link", "driver", {"driver": str(ALICE)}, user_id=pat)
    assert linked.ephemeral and linked.content == (
        "You are linked to **Alice Apex**. Pings name you only once a server admin confirms it."
    ), linked.content
    bruno_link = await h.slash("iracing", "link", "driver", {"driver": "Bruno"}, user_id=quinn)
    assert bruno_link.content.startswith("You are linked to **Bruno Brake**."), bruno_link.content
    confirmed = await h.slash("iracing", "link", "confirm", {"member": pat})
    assert confirmed.ephemeral and confirmed.content == (
        f"<@{pat}> is confirmed as **Alice Apex**: their podiums can ping them."
    ), confirmed.content
    me = await h.slash("iracing", "me", user_id=pat)
    assert me.ephemeral and me.content == (
        "You are **Alice Apex** (confirmed). No race of yours was posted here yet."
    ), me.content

    # --- bad input: one private sentence each, nothing changed ------------------------------------
    before = _settings_rows(db, g)
    assert before[1] == [(ALICE, pat, 1), (BRUNO, quinn, 0)], before
    shown_before = await h.slash("iracing", "filter", "show")
    bad_answers = {
        ("filter", "category", "karting"): (
            "I don't know the category 'karting'. Use oval, sports_car, formula_car, dirt_oval, dirt_road or all"
            " (several with commas). Nothing was changed."
        ),
        ("filter", "sof", "-5"): "The minimum SOF is a whole number from 0 (none) to 20000. Nothing was changed.",
        ("filter", "sof", "abc"): "The minimum SOF is a whole number from 0 (none) to 20000. Nothing was changed.",
        # discord.py drops Embed Links where Send Messages is denied, as Discord does.
        ("route", "podium", locked): (
            f"I can't post in <#{locked}>: I am missing Send Messages and Embed Links there. Nothing was changed."
        ),
        ("pings", quiet): (
            f"I can't mention <@&{quiet}>: make it mentionable or give me Mention All Roles. Nothing was changed."
        ),
        ("link", rita): "**Alice Apex** is linked to another member already. Nothing was changed.",
        ("digest", 25): "The hour is a whole number from 0 to 23. Nothing was changed.",
        ("ontrack", locked): (
            f"I can't post in <#{locked}>: I am missing Send Messages and Embed Links there. Nothing was changed."
        ),
    }
    answers = [
        await h.slash("iracing", "filter", "category", {"categories": "karting"}),
        await h.slash("iracing", "filter", "sof", {"minimum": "-5"}),
        await h.slash("iracing", "filter", "sof", {"minimum": "abc"}),
        await h.slash("iracing", "route", "podium", {"channel": locked}),
        await h.slash("iracing", "pings", {"members": True, "role": quiet}),
        await h.slash("iracing", "link", "driver", {"driver": str(ALICE)}, user_id=rita),
        await h.slash("iracing", "digest", {"channel": digests, "day": "Monday", "hour": 25}),
        await h.slash("iracing", "ontrack", {"channel": locked}),
    ]
    for (what, expected), answer in zip(bad_answers.items(), answers, strict=True):
        assert answer.ephemeral, what
        assert answer.content == expected, (what, answer.content)
    assert _settings_rows(db, g) == before
    shown_after = await h.slash("iracing", "filter", "show")
    assert shown_after.content == shown_before.content
    assert "**Minimum SOF:** 2000" in shown_after.content, shown_after.content
    assert f"**Podium channel:** <#{podiums}> (for a class podium)" in shown_after.content
    assert "**On track now:** off" in shown_after.content
    # On track now needs the live watcher, which this bot's owner has off: the answer says so.
    ontrack = await h.slash("iracing", "ontrack", {"channel": podiums})
    assert ontrack.ephemeral and ontrack.content == (
        f"When a tracked driver's race goes live, a short notice will be posted in <#{podiums}>."
        " The bot owner has the live watcher off, so none come until it is on."
    ), ontrack.content
    off = await h.slash("iracing", "ontrack")
    assert off.ephemeral and off.content == "No on-track notices.", off.content
    assert h.fake.messages(locked) == [] and h.fake.messages(digests) == []

    # --- two races: the weak field is kept out, the strong one (Alice wins) goes to both channels -
    weak = iracing.add_race([ALICE, *WEAK], series_name="Fake Rookie Cup", track_name="Fake Oulton Park")
    strong = iracing.add_race([ALICE, BRUNO, *STRONG], series_name="Fake Pro Series", track_name="Fake Spa")
    card = await h.wait_for_message(results, lambda m: _is_card(h, m, strong), POSTED_WITHIN)
    copy = await h.wait_for_message(podiums, lambda m: _is_card(h, m, strong), POSTED_WITHIN)
    filtered = f"not posting subsession {weak} in server {g}: filtered out: SOF"
    await h.proc.guard(poll_until(lambda: filtered in h.proc.log_text(), 30, "the filter's log line"), "the log")
    await _cycles(h, 2)  # a second card anywhere would have shown by now
    assert [m.id for m in h.fake.messages(results) if _is_card(h, m, strong)] == [card.id]
    assert [m.id for m in h.fake.messages(podiums) if _is_card(h, m, strong)] == [copy.id]
    assert not any(_is_card(h, m, weak) for ch in (results, podiums) for m in h.fake.messages(ch))
    assert _query(db, "SELECT state FROM post_history WHERE subsession_id = ?", (weak,)) == [("dropped",)]
    # Only the podium channel's message pings, and exactly the confirmed member and the role:
    # Quinn's link to Bruno (second, so on the podium too) is not confirmed.
    assert card.content == "" and card.pinged_users == () and card.pinged_roles == ()
    assert card.allowed_mentions is not None and card.allowed_mentions["parse"] == []
    assert not card.allowed_mentions.get("users") and not card.allowed_mentions.get("roles")
    assert copy.content == f"<@{pat}> <@&{fans}>", copy.content
    assert copy.allowed_mentions is not None
    assert copy.allowed_mentions["parse"] == [], copy.allowed_mentions
    assert [int(u) for u in copy.allowed_mentions["users"]] == [pat], copy.allowed_mentions
    assert [int(r) for r in copy.allowed_mentions["roles"]] == [fans], copy.allowed_mentions
    assert copy.pinged_users == (pat,) and copy.pinged_roles == (fans,)
    assert "Alice Apex" in copy.text() and "Bruno Brake" in copy.text()
    me = await h.slash("iracing", "me", user_id=pat)
    last_race = (
        r"You are \*\*Alice Apex\*\* \(confirmed\)\. Last race: Fake Pro Series, <t:\d+:R>:"
        r" P1 in class, \d+ incidents, iRating [+-]?\d+\."
    )
    assert me.ephemeral and re.fullmatch(last_race, me.content), me.content

    # --- the weekly digest, two hours ahead in the server's time zone -----------------------------
    tz = await h.slash("iracing", "settz", {"zone": ZONE})
    assert tz.ephemeral and ZONE in tz.content, tz.content
    due = datetime.now(UTC).astimezone(ZoneInfo(ZONE)) + timedelta(hours=2)
    set_digest = await h.slash("iracing", "digest", {"channel": digests, "day": DAYS[due.weekday()], "hour": due.hour})
    assert set_digest.ephemeral and set_digest.content.startswith(
        f"A weekly digest will be posted in <#{digests}> on {DAYS[due.weekday()]} at {due.hour:02d}:00 ({ZONE}),"
    ), set_digest.content
    await _cycles(h, 1)
    assert not [m for m in h.fake.messages(digests) if _is_digest(h, m)], "no digest before its hour"
    clock_file.write_text(str(2 * 3600))  # the digest's clock is two hours on: its hour has come
    digest = await h.wait_for_message(digests, lambda m: _is_digest(h, m), POSTED_WITHIN)
    text = digest.text()
    assert "**1** race by 2 drivers · **1** win · **2** podiums" in text, text
    assert "Fake Rookie Cup" not in text and "Weak Field" not in text  # the filtered race is no news
    assert digest.allowed_mentions is not None and digest.allowed_mentions["parse"] == []
    assert digest.pinged_users == () and digest.pinged_roles == ()
    # Once a week: not again in the next cycles, nor after a crash and a restart within that hour.
    await _cycles(h, 1)
    restarted_at = len(h.proc.log_text())
    await h.restart()
    await _cycles(h, 2, since=restarted_at)
    assert [m.id for m in h.fake.messages(digests) if _is_digest(h, m)] == [digest.id]
    week = f"{due.isocalendar().year}-W{due.isocalendar().week:02d}"
    assert _query(db, "SELECT week, state, message_id FROM digest_sent WHERE guild_id = ?", (g,)) == [
        (week, "posted", digest.id)
    ]
    assert [m.id for m in h.fake.messages(podiums) if _is_card(h, m, strong)] == [copy.id]
    assert "Traceback" not in h.proc.log_text(), h.proc.log_tail()
