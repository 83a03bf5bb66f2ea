"""/iracing league follow|unfollow|list, /iracing kinds and /iracing track as a member meets them:
the real handlers, client and store, the fake iRacing over HTTP. Bad input gets one short private
sentence and changes nothing; tracking a driver another server tracks keeps that server's races."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ir2dis_cog.config.settings import Settings
from ir2dis_cog.iracing.client import IRacingClient
from ir2dis_cog.poller.leagues import MAX_LEAGUES_PER_SERVER
from ir2dis_cog.red.errors import answer_for
from ir2dis_cog.red.league_commands import _DIRECTORY, LeagueCommands
from ir2dis_cog.store import Store, open_store
from tests.fakes.iracing import FakeIRacing
from tests.poller.conftest import ManualClock

GUILD, OTHER, MEMBER = 111_111_111_111, 222_222_222_222, 42
LEAGUE, SEASON = 637, 128114


@pytest.fixture
async def store(db_url: str, tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_store(db_url, data_dir=tmp_path)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture(autouse=True)
def _fresh_directory() -> None:
    for term, _ in list(_DIRECTORY.items()):  # the name cache is the module's: no test sees another's
        _DIRECTORY.forget(term)


class Ctx:
    """A slash invocation as the handlers see it: defer, then answers, private or not."""

    def __init__(self, guild_id: int = GUILD) -> None:
        self.clean_prefix = "/"
        self.command = None
        self.guild = SimpleNamespace(id=guild_id)
        self.author = SimpleNamespace(id=MEMBER)
        self.message = SimpleNamespace(created_at=datetime.now(UTC), edited_at=None)
        self.interaction = SimpleNamespace()
        self.answers: list[tuple[str, bool]] = []
        self._private: bool | None = None

    async def defer(self, *, ephemeral: bool = False) -> None:
        self._private = ephemeral

    async def send(self, content: str | None = None, *, ephemeral: bool = False, **_: Any) -> None:
        private = ephemeral if self._private is None or self.answers else self._private
        self.answers.append((content or "", private))


def _handlers(store: Store, client: IRacingClient, settings: Settings) -> LeagueCommands:
    handlers = LeagueCommands()
    handlers.store, handlers.client, handlers.settings, handlers.engine = store, client, settings, None
    return handlers


async def _run(command: Any, handlers: LeagueCommands, ctx: Ctx, **kwargs: Any) -> tuple[str, bool]:
    """The command's one answer, as the cog's error handler would give it."""
    try:
        await command.callback(handlers, ctx, **kwargs)
    except Exception as exc:
        answer = answer_for(ctx, exc)  # type: ignore[arg-type]
        await ctx.send(answer or f"no sentence for {exc!r}", ephemeral=True)
    assert len(ctx.answers) == 1, ctx.answers
    return ctx.answers[0]


FOLLOW = LeagueCommands.iracing_league_follow
UNFOLLOW = LeagueCommands.iracing_league_unfollow
LIST = LeagueCommands.iracing_league_list
KINDS = LeagueCommands.iracing_kinds


@pytest.mark.parametrize(
    ("league", "sentence"),
    [
        ("999999", "I cannot read an iRacing league with id 999999. Nothing was saved."),
        ("0", "A league id is a whole number from 1 to 2147483647. Nothing was changed."),
        ("99999999999999999999", "A league id is a whole number from 1 to 2147483647. Nothing was changed."),
        (str(2**63), "A league id is a whole number from 1 to 2147483647. Nothing was changed."),
        ("²", "Give a league id, or at least three letters of its name. Nothing was changed."),
        ("x" * 2000, "That is too long for a league's name. Nothing was changed."),
        (
            "**Bold** <@&123456789012345678> @everyone",
            "No iRacing league is called anything like “\\*\\*Bold\\*\\* \\<@\u200b&123456789012345678>"
            " @\u200beveryone”. Nothing was changed.",
        ),
        ("ab", "Give a league id, or at least three letters of its name. Nothing was changed."),
        ("Nowhere Racing", "No iRacing league is called anything like “Nowhere Racing”. Nothing was changed."),
        ("Sunday", "2 leagues match “Sunday”: pick one from the list, or give its id. Nothing was changed."),
        ("638", "**Hidden Cup** keeps its results private, so I cannot follow it. Nothing was saved."),
        ("-5", "A league id is a whole number from 1 to 2147483647. Nothing was changed."),
    ],
)
async def test_bad_input_to_follow_gets_one_private_sentence_and_changes_nothing(
    store: Store, fake: FakeIRacing, client: IRacingClient, settings: Settings, league: str, sentence: str
) -> None:
    fake.add_league(LEAGUE, "Sunday Night League", [(SEASON, "S1")])
    fake.add_league(640, "Sunday Sprint Series", [(128200, "S1")])
    fake.add_league(638, "Hidden Cup", [(128115, "S1")], private_results=True)
    handlers = _handlers(store, client, settings)
    text, private = await _run(FOLLOW, handlers, Ctx(), league=league)
    assert (text, private) == (sentence, True)
    assert await store.leagues.for_guild(GUILD) == []
    assert await store.leagues.by_league() == {}


async def test_follow_by_id_or_exact_name_saves_it_once_and_list_and_unfollow_answer(
    store: Store, fake: FakeIRacing, client: IRacingClient, settings: Settings
) -> None:
    fake.add_league(LEAGUE, "Sunday Night League", [(SEASON, "S1")])
    fake.add_league(640, "Sunday Sprint Series", [(128200, "S1")])
    handlers = _handlers(store, client, settings)
    text, private = await _run(FOLLOW, handlers, Ctx(), league="sunday night league")
    assert private and text == (
        f"Now following **Sunday Night League** ({LEAGUE}). Its next races will be posted here."
    )
    text, _ = await _run(FOLLOW, handlers, Ctx(), league=str(LEAGUE))
    assert text.startswith("Already following **Sunday Night League**")
    assert [f.league_id for f in await store.leagues.for_guild(GUILD)] == [LEAGUE]
    text, _ = await _run(LIST, handlers, Ctx())
    assert text == f"Followed leagues (1 of {MAX_LEAGUES_PER_SERVER}):\n• Sunday Night League ({LEAGUE})"
    text, _ = await _run(UNFOLLOW, handlers, Ctx(), league="640")
    assert text == "This server follows no league by that id or name. Nothing was changed."
    text, _ = await _run(UNFOLLOW, handlers, Ctx(), league="Sunday Night League")
    assert text == f"Stopped following **Sunday Night League** ({LEAGUE})."
    assert await store.leagues.for_guild(GUILD) == []


async def test_a_server_at_the_limit_is_told_and_follows_nothing_more(
    store: Store, fake: FakeIRacing, client: IRacingClient, settings: Settings, clock: ManualClock
) -> None:
    for i in range(MAX_LEAGUES_PER_SERVER):
        await store.leagues.follow(GUILD, 5000 + i, f"League {i}", 0, MEMBER, now=int(clock.now()))
    fake.add_league(LEAGUE, "Sunday Night League", [(SEASON, "S1")])
    before = len(fake.requests)
    text, private = await _run(FOLLOW, _handlers(store, client, settings), Ctx(), league=str(LEAGUE))
    assert private and text == (
        f"This server already follows {MAX_LEAGUES_PER_SERVER} leagues, the most it can."
        " Unfollow one first. Nothing was changed."
    )
    assert LEAGUE not in {f.league_id for f in await store.leagues.for_guild(GUILD)}
    assert len(fake.requests) == before  # refused before asking iRacing anything


async def test_kinds_bad_input_is_refused_and_a_good_choice_is_kept(
    store: Store, client: IRacingClient, settings: Settings
) -> None:
    handlers = _handlers(store, client, settings)
    text, private = await _run(KINDS, handlers, Ctx(), kinds="sprint races")
    assert (text, private) == ("Name the kinds of race: official, hosted, league (or all). Nothing was changed.", True)
    assert (await store.race_kinds.get_many([GUILD])).get(GUILD) is None  # still all three
    text, _ = await _run(KINDS, handlers, Ctx(), kinds="official, league")
    assert text.startswith("Races of tracked drivers posted here:") and text.endswith("Followed leagues always are.")
    assert (await store.race_kinds.get_many([GUILD]))[GUILD] == frozenset({"official", "league"})


async def test_tracking_a_driver_another_server_tracks_keeps_their_hosted_watermark(
    store: Store, fake: FakeIRacing, client: IRacingClient, settings: Settings, clock: ManualClock
) -> None:
    """The gap: a quiet driver is searched every 6 h; were a second server's /iracing track to move
    the watermark to now, the first server would never get the races of the hours in between."""
    fake.add_member(4242, "Quiet Racer")
    handlers = _handlers(store, client, settings)
    track = LeagueCommands.iracing_track
    # The first server has tracked them for a while; their last search was three quiet hours ago
    # (the command's time is the wall clock's).
    searched = int(time.time()) - 3 * 3600
    await store.drivers.track(GUILD, 4242, "Quiet Racer", MEMBER, now=searched - 86_400)
    await store.hosted.start(4242, searched)
    await store.hosted.checked(4242, finish_begin=searched, last_race_at=None, now=searched)
    text, _ = await _run(track, handlers, Ctx(OTHER), driver="4242")
    assert "Quiet Racer" in text
    assert (await store.hosted.get_many([4242]))[4242].finish_begin == searched
    # Tracked by nobody any more, then again: no backlog, the watermark starts now.
    for g in (GUILD, OTHER):
        await store.drivers.untrack(g, 4242)
    await _run(track, handlers, Ctx(GUILD), driver="4242")
    assert (await store.hosted.get_many([4242]))[4242].finish_begin >= searched + 3 * 3600
