"""Every synced /iracing command and option, fed a member's worst input in one real `redbot`.

The command tree is read from what the bot synced to the fake Discord, so a new command or
option is fuzzed without touching this file. Each text option gets each junk value (integer
options junk integers: Discord's client sends nothing else there), the other options valid
values, as a plain member and as an admin (the owner). Every answer must be one private message
within Discord's limits that pings nobody; nothing may be logged at ERROR; and the server's
settings in the database are the same afterwards as before (compared table by table).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.ir2dis_setup import ir2dis_env, load_ir2dis
from tests.e2e.redbot_harness import RedHarness
from tests.fakes.discord import CB_DEFERRED, InteractionReply, Message
from tests.fakes.discord.protocol import (
    OPT_BOOLEAN,
    OPT_CHANNEL,
    OPT_INTEGER,
    OPT_ROLE,
    OPT_STRING,
    OPT_SUB_COMMAND,
    OPT_SUB_GROUP,
    OPT_USER,
)
from tests.fakes.iracing import FakeIRacing, recent_start

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID = "ir2dis-fuzz-client"
EMAIL = "fuzz@example.com"
ALICE, BRUNO = 350_001, 350_002
LEAGUE, SEASON = 9_001, 77_001
# What the commands write: a junk input must leave every row of these as it was.
SETTINGS_TABLES = (
    "guild",
    "guild_choices",
    "tracked_driver",
    "last_seen",
    "hosted_watch",
    "league_follow",
    "member_link",
)
# A line Red logs at ERROR (or worse), or a traceback.
ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL)\b|Traceback")
# A mention Discord would render live: not escaped with a backslash, @everyone without a zero-width space.
LIVE_MENTION = re.compile(r"(?<!\\)<@[!&]?\d+>|@(everyone|here)\b")


def junk_text(role_id: int) -> tuple[str, ...]:
    return (
        "",
        str(2**63),
        "-1",
        "x" * 2000,
        "²",
        "①",
        "🏎️\u200b\u200d\u2060",
        "**bold** __under__ ||spoiler|| [link](https://evil.example) `code`",
        "@everyone",
        f"<@&{role_id}>",
        "'; DROP TABLE guild; --",
    )


JUNK_INTEGERS = (-1, 2**63, 10**6)
NO_TEXT = "no text option"


@dataclass(frozen=True)
class Case:
    path: tuple[str, ...]
    options: Mapping[str, Any]
    user_id: int
    what: str

    @property
    def junk(self) -> bool:
        return self.what != NO_TEXT


def _leaves(
    options: list[Mapping[str, Any]], path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], list[Mapping[str, Any]]]]:
    """Each runnable (sub)command of the synced tree: its path and its options."""
    subs = [o for o in options if o["type"] in (OPT_SUB_COMMAND, OPT_SUB_GROUP)]
    if not subs:
        yield path, list(options)
    for sub in subs:
        yield from _leaves(sub.get("options") or [], (*path, sub["name"]))


def _valid(option: Mapping[str, Any], world: Mapping[str, Any]) -> Any:
    """A valid value for an option that is not the one being fuzzed."""
    kind, name = option["type"], option["name"]
    if kind == OPT_CHANNEL:
        return world["channel"]
    if kind == OPT_ROLE:
        return world["role"]
    if kind == OPT_USER:
        return world["member"]
    if kind == OPT_BOOLEAN:
        return True
    if option.get("choices"):
        return option["choices"][0]["value"]
    if kind == OPT_INTEGER:
        return world["integers"].get(name, 1)
    return world["texts"].get(name, "1")


def fuzz_cases(tree: list[Mapping[str, Any]], world: Mapping[str, Any]) -> list[Case]:
    cases: list[Case] = []
    for path, options in _leaves(tree):
        base = {o["name"]: _valid(o, world) for o in options}
        fuzzed = [o for o in options if o["type"] in (OPT_STRING, OPT_INTEGER)]
        for who in (world["member"], world["owner"]):
            if not fuzzed:  # still run it: the plain member's answer must hold to the same rules
                cases.append(Case(path, base, who, NO_TEXT))
            for option in fuzzed:
                values = world["junk"] if option["type"] == OPT_STRING else JUNK_INTEGERS
                for value in values:
                    shown = value if not isinstance(value, str) or len(value) < 40 else f"{value[:20]}…({len(value)})"
                    cases.append(Case(path, {**base, option["name"]: value}, who, f"{option['name']}={shown!r}"))
    # An admin running a command without a text option would change a setting on purpose.
    return [c for c in cases if c.junk or c.user_id != world["owner"]]


def dump(db: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in SETTINGS_TABLES}  # noqa: S608


def problems_with(h: RedHarness, reply: InteractionReply, case: Case) -> list[str]:
    """What is wrong with the bot's answer to one interaction (nothing: [])."""
    record = h.fake.interaction(reply.interaction_id)
    found: list[str] = []
    if len(record["callbacks"]) != 1 or record["followups"]:
        found.append(f"{len(record['callbacks'])} callbacks and {len(record['followups'])} follow-ups")
    if not reply.ephemeral:
        found.append("public")
    content = reply.content
    if not content.strip() or len(content) > 2000 or reply.embeds:
        found.append(f"not within Discord's limits ({len(content)} characters)")
    if case.junk and "\n" in content:
        found.append("more than one sentence")
    if "Something went wrong" in content or "Traceback" in content:
        found.append("an internal error")
    if LIVE_MENTION.search(content):
        found.append("a live mention")
    if record["callbacks"][0]["type"] != CB_DEFERRED:
        message = Message.from_payload(record["original"])
        if message.pinged_users or message.pinged_roles or record["original"].get("mention_everyone"):
            found.append("pinged someone")
        allowed = message.allowed_mentions or {}
        if allowed.get("parse") or allowed.get("users") or allowed.get("roles"):
            found.append(f"allowed mentions {allowed}")
    who = "owner" if case.user_id == h.fake.owner_id else "member"
    return [f"{' '.join(case.path)} {case.what} as {who}: {p}: {content[:300]!r}" for p in found]


async def test_every_command_and_option_with_junk_as_member_and_admin(
    make_red_harness: Callable[..., Awaitable[RedHarness]],
    make_fake_iracing: Callable[[str, str], Awaitable[FakeIRacing]],
) -> None:
    iracing = await make_fake_iracing(CLIENT_ID, EMAIL)
    iracing.add_member(ALICE, "Alice Apex", irating=3400)
    iracing.add_member(BRUNO, "Bruno Brake", irating=3300)
    iracing.add_race([ALICE, BRUNO], series_name="Fake Warmup", session_start_time=recent_start(180))
    iracing.add_league(LEAGUE, "Fuzz League", [(SEASON, "S1")])
    h = await make_red_harness(cog_paths=[REPO_ROOT], env=ir2dis_env(iracing, LIVE_WATCH="off"))
    g = h.guild_id
    results = h.fake.add_channel(g, "race-results")
    role = h.fake.add_role(g, "Fans", mentionable=True)
    pat = h.fake.add_member(g, name="Pat Pedal")
    assert h.instance is not None
    db = h.instance.data_path / "cogs" / "IRacingCog" / "ir2dis.sqlite3"

    await h.start()
    await load_ir2dis(h, iracing, CLIENT_ID, EMAIL)
    await h.enable_slash("iracing")
    # Settings to keep: a channel, a tracked driver, a filter, a link, a followed league, a digest.
    for path, options in (
        (("setchannel",), {"channel": results}),
        (("track",), {"driver": str(ALICE)}),
        (("filter", "sof"), {"minimum": "1500"}),
        (("league", "follow"), {"league": str(LEAGUE)}),
        (("digest",), {"channel": results, "day": "Friday", "hour": 18}),
    ):
        answer = await h.slash("iracing", *path, options)
        assert "Nothing was changed" not in answer.content and "went wrong" not in answer.content, answer.content
    linked = await h.slash("iracing", "link", "driver", {"driver": str(ALICE)}, user_id=pat)
    assert linked.content.startswith("You are linked"), linked.content
    # Red's invite link (the launcher logs the same one at bot_ready) asks for what the bot needs.
    await h.command("!invite")  # Red sends it to the owner's DMs
    dm = int(h.fake.state.open_dm(h.fake.owner_id)["id"])
    invite = (await h.wait_for_message(dm, lambda m: "oauth2/authorize" in m.text())).text()
    wanted = 0x400 | 0x800 | 0x4000 | 0x8000 | 0x10000  # View, Send, Embed Links, Attach Files, History
    assert f"permissions={wanted}" in invite and "applications.commands" in invite, invite
    # The owner's prefix settings read numbers by the settings' rule, not int(), which takes "１２０".
    for setting in ("pollinterval", "livepoll"):
        for junk in ("１２０", "²"):
            refused = await h.command(f"!iracingset {setting} {junk}")
            assert "digits 0-9" in refused.text and "now" not in refused.text, refused.text

    tree = next(c for c in h.fake.commands(None) if c["name"] == "iracing")["options"]
    world = {
        "channel": results,
        "role": role,
        "member": pat,
        "owner": h.fake.owner_id,
        "junk": junk_text(role),
        "integers": {"hour": 9},
        "texts": {"driver": str(ALICE), "league": str(LEAGUE), "day": "Monday", "series": "139"},
    }
    cases = fuzz_cases(tree, world)
    synced = {path for path, _ in _leaves(tree)}
    # Discord's client holds a member to each text option's max_length (the bot checks again).
    unbounded = [
        (p, o["name"]) for p, opts in _leaves(tree) for o in opts if o["type"] == OPT_STRING and not o.get("max_length")
    ]
    assert not unbounded, unbounded
    assert len(synced) >= 20 and len(cases) > 200, (len(synced), len(cases))

    before = dump(db)
    log_start = len(h.proc.log_text())
    found: list[str] = []
    for case in cases:
        iid = h.send_slash("iracing", *case.path, dict(case.options), user_id=case.user_id)
        reply = await h.proc.guard(h.fake.wait_for_interaction_reply(iid, 30), f"an answer to {case}")
        found += problems_with(h, reply, case)
    # What a member types while Discord asks for suggestions: at most 25, each within Discord's limits.
    for path, options in _leaves(tree):
        for option in (o for o in options if o.get("autocomplete")):
            for value in world["junk"]:
                iid = h.fake.send_autocomplete(
                    g, pat, "iracing", *path, {option["name"]: value}, focused=option["name"], channel_id=results
                )
                reply = await h.proc.guard(h.fake.wait_for_interaction_reply(iid, 30), f"suggestions for {path}")
                names = [(c["name"], str(c["value"])) for c in reply.choices]
                if len(names) > 25 or any(not 1 <= len(n) <= 100 or not 1 <= len(v) <= 100 for n, v in names):
                    found.append(f"{' '.join(path)} {option['name']}={value[:20]!r}: suggestions {names[:3]}")
    assert not found, "\n".join(found[:40])
    assert dump(db) == before
    errors = [line for line in h.proc.log_text()[log_start:].splitlines() if ERROR_LINE.search(line)]
    assert not errors, "\n".join(errors[:20])
