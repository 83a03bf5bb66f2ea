"""The real ir2dis cog in a real `redbot` process, against the fake Discord and the fake iRacing.

Installed the way a Red owner installs it (`[p]repo add` from a git repository, `[p]cog install`,
`[p]load`), given its iRacing login through `[p]set api iracing ...`, driven through slash
commands; then races finish in the fake iRacing, and the bot is SIGKILLed while it posts them.
Every race must reach the results channel exactly once, and no secret may show anywhere.
Bad input (a channel the bot cannot post embeds in, a member without Manage Server, an unknown
time zone or driver) gets a short answer and changes nothing; a results channel that loses Send
Messages while a race finishes keeps the card pending (and says why in `/iracing status`) until
the permission is back, then gets it once.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

import pytest

from tests.e2e.redbot_harness import RedHarness, poll_until
from tests.fakes.discord import CB_DEFERRED, Message
from tests.fakes.iracing import FakeIRacing, RaceEntry, mask, recent_start

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
POLL_SECONDS = 30  # the shortest interval the settings accept
# A race must be posted within two poll cycles (one to notice it, slack for the next).
POSTED_WITHIN = 2 * POLL_SECONDS + 15

CLIENT_ID = "ir2dis-e2e-client"
EMAIL = "e2e-driver@example.com"
ALICE, BRUNO, CARLA = 310_001, 310_002, 310_003  # Carla races too, but nobody tracks her
# Red's console line for the engine's `cycle_done` event.
CYCLE_DONE = re.compile(r"poll cycle (ok|idle): ")


def _snapshot_of_working_tree(root: Path) -> Path:
    """A git repository holding this working tree as it is now (tracked and new files, no ignored ones).

    `[p]repo add` clones a git URL, and the work under test may not be committed yet, so the
    tree is copied and committed in a repository of its own.
    """
    listed = (
        subprocess.run(
            ["git", "-C", str(REPO_ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            check=True,
            capture_output=True,
        )
        .stdout.decode()
        .split("\0")
    )
    repo = root / "ir2dis-repo"
    for name in filter(None, listed):
        source = REPO_ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is left out
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    git = ["git", "-c", "user.name=ir2dis e2e", "-c", "user.email=e2e@example.invalid", "-C", str(repo)]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "ir2dis under test"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    return repo


@pytest.fixture
async def iracing(make_fake_iracing: Callable[[str, str], Awaitable[FakeIRacing]]) -> FakeIRacing:
    return await make_fake_iracing(CLIENT_ID, EMAIL)


def _footer(m: Message) -> str:
    return " ".join(e.get("footer", {}).get("text", "") for e in m.embeds)


def _is_card(h: RedHarness, m: Message, subsession_id: int) -> bool:
    """A result card of the bot for this subsession (the footer names it)."""
    return m.author_id == h.fake.bot_id and bool(re.search(rf"\bSubsession {subsession_id}\b", _footer(m)))


def _cards(h: RedHarness, channel_id: int, subsession_id: int) -> list[Message]:
    return [m for m in h.fake.messages(channel_id) if _is_card(h, m, subsession_id)]


def _assert_picture(m: Message, subsession_id: int) -> None:
    name = f"ir2dis-{subsession_id}.png"
    assert [a["filename"] for a in m.payload["attachments"]] == [name], m.payload["attachments"]
    assert m.embeds[0].get("image", {}).get("url") == f"attachment://{name}", m.embeds[0]


def _cycles_done(h: RedHarness, since: int) -> int:
    """Poll cycles the bot finished since log offset `since`."""
    return len(CYCLE_DONE.findall(h.proc.log_text()[since:]))


def _query(db: Path, sql: str, params: Iterable[object] = ()) -> list[tuple[object, ...]]:
    """Reads the cog's SQLite file (read-only) as the bot left it."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return conn.execute(sql, tuple(params)).fetchall()


def _tracked(db: Path) -> set[int]:
    return {int(str(c)) for (c,) in _query(db, "SELECT cust_id FROM tracked_driver WHERE active = 1")}


def _guild_row(db: Path, guild_id: int) -> tuple[object, ...]:
    """The server's results channel and time zone, as stored."""
    return _query(db, "SELECT channel_id, timezone FROM guild WHERE guild_id = ?", (guild_id,))[0]


async def test_ir2dis_cog_posts_every_race_once_across_a_sigkill(
    make_red_harness: Callable[..., Awaitable[RedHarness]], iracing: FakeIRacing, tmp_path: Path
) -> None:
    # --- the world: three drivers who raced two hours ago, a server with a results channel ------
    iracing.add_member(ALICE, "Alice Apex")
    iracing.add_member(BRUNO, "Bruno Brake")
    iracing.add_member(CARLA, "Carla Curb")
    warmup = iracing.add_race(
        [CARLA, ALICE, BRUNO], series_name="Fake Warmup Series", session_start_time=recent_start(120)
    )
    repo = await asyncio.to_thread(_snapshot_of_working_tree, tmp_path)
    env = {
        "IRACING_API_BASE": iracing.base_url or "",
        "IRACING_OAUTH_URL": iracing.oauth_url,
        "HEALTH_PORT": "0",  # no sidecar port to collide with
        # The login must come from `[p]set api`, not from the environment this test runs in.
        "IRACING_CLIENT_ID": "",
        "IRACING_CLIENT_SECRET": "",
        "IRACING_EMAIL": "",
        "IRACING_PASSWORD": "",
        "DATABASE_URL": "",
        "POLL_INTERVAL_SECONDS": "",
    }
    h = await make_red_harness(env=env)  # no cog path: the cog can only come from the repository
    h.proc.extra_args = ("--dev",)  # `[p]debug`, to ask the bot where it imported the cog from
    results = h.fake.add_channel(h.guild_id, "race-results")
    assert h.instance is not None
    cogs_dir = h.instance.data_path / "cogs"
    db = cogs_dir / "IRacingCog" / "ir2dis.sqlite3"

    # --- installed as Red owners install cogs ----------------------------------------------------
    await h.start()
    await h.install_from_repo("ir2dis", str(repo), "ir2dis_cog")
    installed = cogs_dir / "CogManager" / "cogs" / "ir2dis_cog"
    assert (installed / "poller" / "engine.py").is_file()
    roots = await h.command(
        "!debug sorted({m.__file__.rsplit('/ir2dis_cog/', 1)[0] for n, m in __import__('sys').modules.items() "
        "if n.split('.')[0] == 'ir2dis_cog' and getattr(m, '__file__', None)})",
        expect=lambda m: "```" in m.content,
    )
    assert re.findall(r"'([^']+)'", roots.text) == [str(installed.parent)], roots.text

    # --- the owner gives the login, a short poll interval, and turns the slash commands on -------
    creds = await h.command(
        f"!set api iracing client_id,{CLIENT_ID} client_secret,{iracing.client_secret} username,{EMAIL} "
        f"password,{iracing.password}",
        expect=lambda m: "API tokens have been set" in m.content,
    )
    assert creds.message is not None
    interval = await h.command(f"!iracingset pollinterval {POLL_SECONDS}", expect=lambda m: "polls every" in m.content)
    assert interval.text == f"ir2dis now polls every {POLL_SECONDS} s."
    shown = await h.command("!iracingset show", expect=lambda m: "Poll interval" in m.content)
    assert f"Poll interval: {POLL_SECONDS} s" in shown.text and "iRacing login: set" in shown.text, shown.text
    await h.enable_slash("iracing")
    assert "iracing" in h.fake.command_syncs()[-1].names

    # --- a server admin sets the channel and tracks two drivers, by id and by name ---------------
    setchannel = await h.slash("iracing", "setchannel", {"channel": results})
    assert setchannel.ephemeral and setchannel.content == f"Race results will be posted in <#{results}>."

    alice = await h.slash("iracing", "track", {"driver": str(ALICE)})
    assert alice.callback_type == CB_DEFERRED and alice.ephemeral
    assert alice.content.startswith(f"Now tracking **Alice Apex** ({ALICE})"), alice.content
    bruno = await h.slash("iracing", "track", {"driver": "Bruno Brake"})
    assert bruno.content.startswith(f"Now tracking **Bruno Brake** ({BRUNO})"), bruno.content

    bad = await h.slash("iracing", "track", {"driver": "0"})
    assert bad.ephemeral and bad.content == "An iRacing customer id is a whole number from 1 to 2147483647.", (
        bad.content
    )
    listing = await h.slash("iracing", "list")
    assert listing.ephemeral  # the member asked: the channel is not filled with lists
    assert f"Results channel: <#{results}>" in listing.content and "2 tracked" in listing.content, listing.content
    assert f"Alice Apex ({ALICE})" in listing.content and f"Bruno Brake ({BRUNO})" in listing.content
    assert str(CARLA) not in listing.content and ", 0)" not in listing.content  # `track 0` changed nothing
    assert h.fake.messages(results) == []  # the race before tracking is no news (no backlog)

    # --- bad input gets a short answer and changes nothing ---------------------------------------
    before = (_guild_row(db, h.guild_id), _tracked(db))
    assert before == ((results, None), {ALICE, BRUNO}), before
    no_embeds = h.fake.add_channel(h.guild_id, "no-embeds")
    h.fake.set_bot_permissions(no_embeds, deny=["embed_links"])
    refused = await h.slash("iracing", "setchannel", {"channel": no_embeds})
    assert refused.ephemeral and refused.content == (
        f"I can't post results in <#{no_embeds}>: I am missing Embed Links there. Nothing was changed."
    ), refused.content
    # A member with the default permissions (no Manage Server) may look, not change.
    pat = h.fake.add_member(h.guild_id, name="Plain Pat")
    not_allowed = await h.slash("iracing", "track", {"driver": str(CARLA)}, user_id=pat)
    assert not_allowed.ephemeral, not_allowed
    assert not_allowed.content == "You need the Manage Server permission (or the bot's admin role) for this."
    pats_list = await h.slash("iracing", "list", user_id=pat)
    assert f"Results channel: <#{results}> · Time zone: UTC · 2 tracked" in pats_list.content, pats_list.content
    mars = await h.slash("iracing", "settz", {"zone": "Mars/Olympus"})
    assert mars.ephemeral and mars.content == (
        "That is not a time zone I know. Use a name like Europe/Berlin or America/New_York."
    ), mars.content
    nobody = await h.slash("iracing", "track", {"driver": "99999999"})
    assert nobody.ephemeral and nobody.content == "No iRacing member has customer id 99999999.", nobody.content
    assert (_guild_row(db, h.guild_id), _tracked(db)) == before
    listing = await h.slash("iracing", "list")
    assert f"Results channel: <#{results}> · Time zone: UTC · 2 tracked" in listing.content, listing.content
    assert "99999999" not in listing.content and str(CARLA) not in listing.content
    assert h.fake.messages(no_embeds) == []
    for answer in (refused, not_allowed, pats_list, mars, nobody, listing):
        assert "Traceback" not in answer.content and "Something went wrong" not in answer.content

    # --- a race finishes: one card, naming both tracked drivers ----------------------------------
    race1 = iracing.add_race([ALICE, CARLA, BRUNO], series_name="Fake Skip Barber Series", track_name="Fake Lime Rock")
    card = await h.wait_for_message(results, lambda m: _is_card(h, m, race1), POSTED_WITHIN)
    embed = card.embeds[0]
    assert embed["title"] == "Fake Skip Barber Series"
    assert embed["footer"]["text"].endswith(f"Subsession {race1}")
    assert "Alice Apex" in card.text() and "Bruno Brake" in card.text()
    assert "Fake Lime Rock" in card.text()
    _assert_picture(card, race1)  # the picture rides in the same message, shown inside the embed
    # A member asks for it: a private note, then the same card and picture as a public message.
    shown = await h.slash("iracing", "lastrace", {"driver": str(ALICE)}, user_id=pat)
    assert shown.ephemeral and shown.content == "Here is the latest race of **Alice Apex**.", shown.content
    public = await h.wait_for_message(
        h.commands_channel_id, lambda m: _is_card(h, m, race1) and not m.ephemeral, POSTED_WITHIN
    )
    _assert_picture(public, race1)

    # --- a Daytona 24 finishes now: started a day ago, posted once with the team and the driver -
    crews = [
        RaceEntry(
            (71_000 + i * 3, 71_001 + i * 3, 71_002 + i * 3),
            team_name=f"Endurance Team {i + 1}",
            car_class_id=(4029, 4030, 4031)[i % 3],
            laps_complete=800 - i,
        )
        for i in range(60)
    ]
    crews[6] = RaceEntry((ALICE, 71_019, 71_020), team_name="Apex Endurance", car_class_id=4029, laps_complete=794)
    # ...while iRacing's lap chart endpoint fails: the race is posted once all the same.
    iracing.broken_endpoints = ["results/lap_chart_data"]
    daytona = iracing.add_race(
        crews,
        series_name="Daytona 24",
        track_name="Daytona International Speedway",
        car_classes=[(4029, "GTP"), (4030, "LMP2"), (4031, "GT3")],
        laps=800,
        session_start_time=time.time() - (24 * 60 + 55) * 60,
        race_minutes=24 * 60 + 52,
    )
    daytona_card = await h.wait_for_message(results, lambda m: _is_card(h, m, daytona), POSTED_WITHIN)
    assert "Apex Endurance" in daytona_card.text() and "Alice Apex" in daytona_card.text(), daytona_card.text()
    _assert_picture(daytona_card, daytona)  # drawn without its chart
    assert f"result picture of subsession {daytona}: chart_data failed" in h.proc.log_text()
    iracing.broken_endpoints = []

    # --- SIGKILL mid-post: Discord keeps the first card without answering, the second is claimed
    # but still queued behind it in discord.py; a fourth race finishes while the bot is down ------
    h.fake.stall("POST", f"/channels/{results}/messages", deliver=True)
    race2 = iracing.add_race([ALICE, CARLA], series_name="Fake GT Sprint")
    race3 = iracing.add_race([BRUNO, CARLA], series_name="Fake Formula Vee")

    def both_claimed() -> bool:
        rows = _query(
            db, "SELECT COUNT(*) FROM post_history WHERE subsession_id IN (?, ?) AND message_id IS NULL", (race2, race3)
        )
        return rows[0][0] == 2 and bool(h.fake.stalled_requests())

    await h.proc.guard(poll_until(both_claimed, POSTED_WITHIN, "both races claimed, one card held"), "the claims")
    await h.kill()
    h.fake.release_stalled()
    held = [*_cards(h, results, race2), *_cards(h, results, race3)]
    assert len(held) == 1, "Discord got exactly one of the two cards before the crash"
    states = _query(
        db, "SELECT subsession_id, state, message_id FROM post_history WHERE subsession_id IN (?, ?)", (race2, race3)
    )
    assert sorted(states) == [(race2, "pending", None), (race3, "pending", None)]
    race4 = iracing.add_race([BRUNO, ALICE], series_name="Fake Endurance Cup")

    restarted_at = len(h.proc.log_text())
    await h.start()
    # At start the bot settles what the killed run left; its first cycle then finds race 4.
    for race in (race2, race3, race4):
        await h.wait_for_message(results, lambda m, race=race: _is_card(h, m, race), POSTED_WITHIN)
    # And one more full cycle: a second card for any race would have shown by then.
    await h.proc.guard(
        poll_until(lambda: _cycles_done(h, restarted_at) >= 2, POSTED_WITHIN, "a second poll cycle"),
        "a second poll cycle",
    )

    races = (race1, daytona, race2, race3, race4)
    per_race = {race: len(_cards(h, results, race)) for race in races}
    assert per_race == dict.fromkeys(races, 1), per_race
    assert len(h.fake.messages(results)) == len(races)
    assert not _cards(h, results, warmup)
    assert held[0].id in {m.id for m in h.fake.messages(results)}  # found in the channel, not sent again
    posted = dict(_query(db, "SELECT subsession_id, message_id FROM post_history WHERE state = 'posted'"))
    assert posted == {race: _cards(h, results, race)[0].id for race in races}

    # --- status and list answer, the way a server admin sees them --------------------------------
    status = await h.slash("iracing", "status")
    assert status.ephemeral
    assert "Last poll cycle: " in status.content and "none yet" not in status.content, status.content
    assert "iRacing login: " in status.content and "Posts pending for this server: 0" in status.content
    listing = await h.slash("iracing", "list")
    assert "2 tracked" in listing.content and f"Alice Apex ({ALICE})" in listing.content

    # --- the server chooses text only: the next card has no picture; a made-up style changes nothing
    gif = await h.slash("iracing", "style", {"style": "gif"})
    assert gif.ephemeral and gif.content == "The style is `image` (a picture with the text) or `embed` (the text only)."
    text_only = await h.slash("iracing", "style", {"style": "embed"})
    assert text_only.ephemeral and text_only.content == "Results will be posted as text only, without a picture."

    # --- the results channel loses Send Messages while a race finishes: the card waits -----------
    h.fake.set_bot_permissions(results, deny=["send_messages"])
    # The gateway is ordered: once this answer is back, the bot has seen the overwrite too, so the
    # card is held back by the cog's own check, not refused by Discord.
    before_race = await h.slash("iracing", "status")
    assert "Posts pending for this server: 0" in before_race.content, before_race.content
    race5 = iracing.add_race([ALICE, CARLA], series_name="Fake Rain Race")

    def failed_once() -> bool:
        rows = _query(db, "SELECT state, message_id, last_error FROM post_history WHERE subsession_id = ?", (race5,))
        return bool(rows) and rows[0][0] == "pending" and rows[0][2] is not None

    await h.proc.guard(poll_until(failed_once, POSTED_WITHIN, "a failed post of race 5"), "the failed post")
    assert not _cards(h, results, race5)
    blocked = await h.slash("iracing", "status")
    assert blocked.ephemeral and "Posts pending for this server: 1" in blocked.content, blocked.content
    assert "Last post failure: channel unavailable: missing permission: Send Messages" in blocked.content
    # The permission comes back: the next cycle past the retry delay posts the card, once.
    restored_at = len(h.proc.log_text())
    h.fake.set_bot_permissions(results)
    await h.wait_for_message(results, lambda m: _is_card(h, m, race5), POSTED_WITHIN)
    # The end of the cycle that posted it: a second card from that cycle would have shown by then.
    posting_cycle = re.compile(rf"posted subsession {race5}\b.*?{CYCLE_DONE.pattern}", re.DOTALL)
    await h.proc.guard(
        poll_until(
            lambda: posting_cycle.search(h.proc.log_text()[restored_at:]), POSTED_WITHIN, "the end of the posting cycle"
        ),
        "the posting cycle",
    )
    assert len(_cards(h, results, race5)) == 1
    assert (
        _cards(h, results, race5)[0].payload["attachments"] == []
        and "image" not in _cards(h, results, race5)[0].embeds[0]
    )
    assert _query(db, "SELECT state, message_id FROM post_history WHERE subsession_id = ?", (race5,)) == [
        ("posted", _cards(h, results, race5)[0].id)
    ]
    cleared = await h.slash("iracing", "status")
    assert "Posts pending for this server: 0" in cleared.content, cleared.content
    assert "Last post failure" not in cleared.content, cleared.content  # retried through: no news
    for answer in (blocked, cleared):
        assert "Traceback" not in answer.content

    # --- nothing leaked: no traceback, and no secret in the logs or anything the bot sent --------
    log = h.proc.log_text() + h.instance.red_log_path.read_text(errors="replace")
    assert "Traceback" not in log, h.proc.log_tail()
    said_by_bot = json.dumps(
        [
            [m for m in h.fake.state.messages_by_id.values() if int(m["author"]["id"]) == h.fake.bot_id],
            [h.fake.interaction(i) for i in h.fake.state.interactions],
        ]
    )
    commands_seen = " ".join(m.content for m in h.fake.messages(h.commands_channel_id))
    # Red deletes the owner's `[p]set api` message, the one place the secrets were written.
    assert creds.command_id not in {m.id for m in h.fake.messages(h.commands_channel_id)}
    leakable = {
        "client secret": iracing.client_secret,
        "password": iracing.password,
        "masked client secret": mask(iracing.client_secret, CLIENT_ID),
        "masked password": mask(iracing.password, EMAIL),
        **{f"token {i}": token for i, token in enumerate(iracing.issued_secrets())},
    }
    assert iracing.stats["logins"] >= 1  # the login did happen, so there was something to leak
    for what, value in leakable.items():
        assert value not in log, f"the {what} is in redbot's log"
        assert value not in said_by_bot, f"the {what} is in a Discord message"
        assert value not in commands_seen, f"the {what} is visible in the commands channel"
