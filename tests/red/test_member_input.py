"""A member's worst input to the /iracing commands that take text, through the real handlers and
store: each is one private sentence, what they typed is shown inert, and no setting changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ir2dis_cog.config.settings import Settings
from ir2dis_cog.core.filters import Filters
from ir2dis_cog.iracing.client import IRacingClient
from ir2dis_cog.red.league_commands import LeagueCommands
from ir2dis_cog.red.server_commands import ServerCommands
from ir2dis_cog.store import Store, open_store
from tests.red.test_league_commands import GUILD, MEMBER, Ctx, _run

ALICE = 4242
NUMBERS = ("²", "①", "１２", str(2**63), "-1", "")


@pytest.fixture
async def store(db_url: str, tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_store(db_url, data_dir=tmp_path)
    try:
        await s.drivers.track(GUILD, ALICE, "Alice **Apex**", MEMBER, now=1_000)
        await s.choices.set_filters(GUILD, Filters(min_sof=1500, series_in=frozenset({139})), now=1_000)
        await s.choices.set(GUILD, now=1_000, digest_channel=777, digest_day=4, digest_hour=18)
        yield s
    finally:
        await s.close()


class Handlers(ServerCommands, LeagueCommands):
    """The /iracing mixins as the cog combines them."""


def _handlers(store: Store, client: IRacingClient, settings: Settings) -> Handlers:
    handlers = Handlers()
    handlers.store, handlers.client, handlers.settings, handlers.engine = store, client, settings, None
    return handlers


async def _state(store: Store) -> tuple[Any, ...]:
    return (
        await store.choices.get(GUILD),
        await store.drivers.list_for_guild(GUILD),
        await store.links.of_user(GUILD, MEMBER),
    )


CASES: list[tuple[Any, dict[str, Any], str | None]] = [
    *[
        (
            ServerCommands.iracing_filter_sof,
            {"minimum": n},
            "The minimum SOF is a whole number from 0 (none) to 20000.",
        )
        for n in NUMBERS
    ],
    *[(ServerCommands.iracing_filter_series, {"action": "only", "series": n}, None) for n in NUMBERS],
    *[
        (
            ServerCommands.iracing_digest,
            {"channel": None, "day": n},
            "The day is Monday to Sunday, or 1 to 7 (Monday is 1).",
        )
        for n in NUMBERS
    ],
    (ServerCommands.iracing_digest, {"channel": None, "hour": 2**63}, "The hour is a whole number from 0 to 23."),
    (ServerCommands.iracing_digest, {"channel": None, "hour": -1}, "The hour is a whole number from 0 to 23."),
    *[
        (ServerCommands.iracing_filter_category, {"categories": junk}, "Name at least one category")
        for junk in ("", ",", " , , ", "/")
    ],
    (
        ServerCommands.iracing_filter_category,
        {"categories": "<@&123456789012345678>"},
        "I don't know the category '\\<@\u200b&123456789012345678>'.",
    ),
    (ServerCommands.iracing_untrack, {"driver": str(2**63)}, "An iRacing customer id is a whole number from 1"),
    (ServerCommands.iracing_untrack, {"driver": "-1"}, "An iRacing customer id is a whole number from 1"),
    (ServerCommands.iracing_untrack, {"driver": "²"}, "Type at least 3 letters"),
    (ServerCommands.iracing_untrack, {"driver": "①②③"}, "No tracked driver here matches '①②③'."),
    (
        ServerCommands.iracing_untrack,
        {"driver": "**x** @everyone"},
        "No tracked driver here matches '\\*\\*x\\*\\* @\u200beveryone'.",
    ),
    (ServerCommands.iracing_untrack, {"driver": "x" * 2000}, "That name is too long"),
    (ServerCommands.iracing_link, {"driver": "①"}, "Type at least 3 letters"),
    (ServerCommands.iracing_link, {"driver": str(2**63)}, "An iRacing customer id is a whole number from 1"),
    (ServerCommands.iracing_track, {"driver": "²"}, "Type at least 3 letters"),
    (ServerCommands.iracing_track, {"driver": "0"}, "An iRacing customer id is a whole number from 1"),
    (ServerCommands.iracing_lastrace, {"driver": str(2**63)}, "An iRacing customer id is a whole number from 1"),
    (LeagueCommands.iracing_kinds, {"kinds": ","}, "Name the kinds of race"),
    (LeagueCommands.iracing_league_follow, {"league": str(2**63)}, "A league id is a whole number from 1"),
]


async def test_junk_is_one_private_sentence_and_changes_nothing(
    store: Store, client: IRacingClient, settings: Settings
) -> None:
    # One database for all cases (each backend's setup costs more than the cases).
    handlers = _handlers(store, client, settings)
    before = await _state(store)
    wrong: list[str] = []
    for command, kwargs, sentence in CASES:
        text, private = await _run(command, handlers, Ctx(), **kwargs)
        if not private or "\n" in text or len(text) > 2000 or "no sentence for" in text or "went wrong" in text:
            wrong.append(f"{command.name} {kwargs}: {text[:200]!r}")
        elif sentence is not None and not text.startswith(sentence):
            wrong.append(f"{command.name} {kwargs}: {text[:200]!r}, expected {sentence!r}")
    assert not wrong, "\n".join(wrong)
    assert await _state(store) == before


async def test_list_answers_privately_with_names_inert(store: Store, client: IRacingClient, settings: Settings) -> None:
    text, private = await _run(ServerCommands.iracing_list, _handlers(store, client, settings), Ctx())
    assert private and "• Alice \\*\\*Apex\\*\\* (4242)" in text, text
