"""The results/get contract, over every recorded answer and a league and a hosted one built by
the fake iRacing: each optional field removed in turn (every occurrence of its key, at every
level) still parses, makes a card, an embed and a picture, with "—" where the value was; each
required field removed in turn is a ParseError (which the poller retries).

A key whose removal leaves the parsed race unchanged (a field the bot does not read) needs no
card drawn again: the parse is the proof. The pictures are laid out for every changed key and
drawn to pixels once per answer with every optional field removed at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

import pytest

from ir2dis_cog.core.cards import MISSING, build_card
from ir2dis_cog.iracing.errors import ParseError
from ir2dis_cog.iracing.models import REQUIRED_RESULT_KEYS, Subsession, parse_subsession
from ir2dis_cog.red.embeds import card_to_embed
from ir2dis_cog.render import render_png
from ir2dis_cog.render.fonts import default_fonts
from ir2dis_cog.render.image_card import ImageCard, build_image_card, race_kind
from ir2dis_cog.render.layout import layout_card
from tests.fakes.iracing.payloads import without_keys
from tests.fakes.iracing.records import RaceEntry
from tests.fakes.iracing.server import FakeIRacing
from tests.render.cases import SOLO_TRACKED, TEAM_TRACKED
from tests.samples import load_sample

LEAGUE_TRACKED = {700_001: "", 700_004: "Team Mate"}
HOSTED_TRACKED = {800_002: ""}


def _fake_answers() -> dict[str, dict[str, Any]]:
    """A league race (a team car among solo cars) and a hosted one, as the fake's payload
    builders write them: no league or hosted results/get answer was recorded."""
    fake = FakeIRacing(clock=lambda: 1_800_000_000.0)
    fake.add_league(4_403, "Fake Endurance League", [(111_222, "Winter 2026")])
    league = fake.add_race(
        [700_001, RaceEntry((700_002, 700_004), team_name="Fake Team", team_id=-90_001), 700_003],
        league_id=4_403,
        session_name="Round 3",
        host_cust_id=700_003,
    )
    hosted = fake.add_race(
        [800_001, RaceEntry((800_002,), incidents=6, reason_out="Disconnected", laps_complete=4), 800_003],
        hosted=True,
        session_name="Friday Fun Race",
        host_cust_id=800_001,
    )
    return {name: json.loads(fake.world.races[sid].body) for name, sid in (("league", league), ("hosted", hosted))}


@lru_cache(maxsize=1)
def answers() -> dict[str, tuple[dict[str, Any], Mapping[int, str]]]:
    fake = _fake_answers()
    return {
        "result.json": (load_sample("result.json"), SOLO_TRACKED),
        "result_with_team.json": (load_sample("result_with_team.json"), TEAM_TRACKED),
        "league": (fake["league"], LEAGUE_TRACKED),
        "hosted": (fake["hosted"], HOSTED_TRACKED),
    }


def keys_of(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            yield key
            yield from keys_of(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from keys_of(inner)


def cases(required: bool) -> list[tuple[str, str]]:
    out = []
    for name, (payload, _) in answers().items():
        for key in sorted(set(keys_of(payload))):
            if (key in REQUIRED_RESULT_KEYS) == required:
                out.append((name, key))
    return out


@lru_cache(maxsize=8)
def parsed(name: str) -> Subsession:
    return parse_subsession(answers()[name][0])


def embed_text(sub: Subsession, tracked: Mapping[int, str]) -> str:
    embed = card_to_embed(build_card(sub, tracked, "Europe/Berlin"))
    assert len(embed) <= 6000
    parts = [embed.title or "", embed.description or "", embed.author.name or ""]
    parts += [f"{f.name}\n{f.value}" for f in embed.fields]
    return "\n".join(parts)


def image_card(sub: Subsession, tracked: Mapping[int, str]) -> ImageCard:
    card = build_image_card(sub, tracked, "Europe/Berlin", None, race_kind(sub))
    assert ImageCard.from_json(card.to_json()) == card
    return card


def picture_text(card: ImageCard) -> str:
    layout = layout_card(card, default_fonts())
    for box in layout.texts:  # every text whole inside its box, as the layout tests ask
        assert box.limit.contains(box.rect), box
    return "\n".join(t.text for t in layout.texts)


# Where a removed field must show as a dash: (text in the embed, text in the picture), each
# checked when the answer has a tracked driver with that field.
DASHES: dict[str, tuple[str, str]] = {
    "laps_lead": (f"(led {MISSING})", f"{MISSING} led"),
    "incidents": (f"Inc {MISSING}", MISSING),
    "best_lap_time": (f"Best {MISSING}", MISSING),
    "laps_complete": (f"Laps {MISSING}", f"{MISSING} ·"),
}
OFFICIAL_DASHES: dict[str, tuple[str, str]] = {
    "newi_rating": (f"→ {MISSING}", f"→ {MISSING}"),
    "oldi_rating": (f"iRating {MISSING} →", f"{MISSING} →"),
    "new_sub_level": (f" {MISSING} · Champ pts", f"→ {MISSING}"),
    "event_strength_of_field": (f"SOF {MISSING}", ""),
}


def test_the_answers_cover_solo_team_league_and_hosted_races() -> None:
    kinds = {name: (parsed(name).kind, parsed(name).team_event) for name in answers()}
    assert kinds == {
        "result.json": ("official", False),
        "result_with_team.json": ("official", True),
        "league": ("league", True),
        "hosted": ("hosted", False),
    }
    for name, (_, tracked) in answers().items():
        assert tracked.keys() <= parsed(name).cust_ids(), name


@pytest.mark.parametrize(("name", "key"), cases(required=False))
def test_without_an_optional_field_the_answer_still_makes_a_card_embed_and_picture(name: str, key: str) -> None:
    payload, tracked = answers()[name]
    sub = parse_subsession(without_keys(payload, frozenset({key})))
    whole = parsed(name)
    assert (sub.subsession_id, sub.cust_ids(), len(sub.results)) == (
        whole.subsession_id,
        whole.cust_ids(),
        len(whole.results),
    )
    if sub == whole:
        return  # a field the bot does not read: the same race, the same card
    text = embed_text(sub, tracked)
    picture = picture_text(image_card(sub, tracked))
    for shown in (text, picture):
        assert "None" not in shown and "-1" not in shown, key
    expected = {**DASHES, **(OFFICIAL_DASHES if sub.kind == "official" else {})}.get(key)
    if expected is not None:
        # More dashes than the whole answer shows (a driver who never started has none already).
        assert text.count(expected[0]) > embed_text(whole, tracked).count(expected[0]), (key, text)
        if expected[1]:
            before = picture_text(image_card(whole, tracked))
            assert picture.count(expected[1]) > before.count(expected[1]), (key, picture)


@pytest.mark.parametrize(("name", "key"), cases(required=True))
def test_without_a_required_field_the_answer_is_a_parse_error(name: str, key: str) -> None:
    payload, _ = answers()[name]
    with pytest.raises(ParseError) as info:
        parse_subsession(without_keys(payload, frozenset({key})))
    assert info.value.endpoint == "results/get"


@pytest.mark.parametrize("name", sorted(answers()))
def test_with_every_optional_field_removed_the_card_still_reads(name: str) -> None:
    payload, tracked = answers()[name]
    bare = without_keys(payload, frozenset(set(keys_of(payload)) - REQUIRED_RESULT_KEYS))
    sub = parse_subsession(bare)
    assert sub.cust_ids() == parsed(name).cust_ids()
    text = embed_text(sub, tracked)
    card = image_card(sub, tracked)
    picture = picture_text(card)
    for shown in (text, picture):
        assert "None" not in shown and "-1" not in shown
        assert MISSING in shown
    assert f"Laps {MISSING} (led {MISSING}) · Inc {MISSING} · Best {MISSING}" in text
    png = render_png(card)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
