"""The picture of a hosted or league race: the session as its title, the league and season (or
"Hosted session") with the host, the cars, the top of the order instead of the podiums, and
no iRating or safety cells when the race changed neither."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import pytest

from ir2dis_cog.iracing.models import Subsession
from ir2dis_cog.render import render_png
from ir2dis_cog.render.fonts import default_fonts
from ir2dis_cog.render.image_card import MAX_FIELD, ImageCard, build_image_card, race_kind
from ir2dis_cog.render.layout import MIN_SIZE, PODIUM_TRACKED, WIDTH, Layout, layout_card
from tests.unofficial_factories import HOST, LEAGUE_NAME, SEASON_NAME, SESSION_NAME, league_race


def _card(sub: Subsession, tracked: dict[int, str], *, whole_field: bool = False) -> ImageCard:
    return build_image_card(sub, tracked, "Europe/Berlin", None, race_kind(sub), whole_field=whole_field)


@lru_cache(maxsize=1)
def cases() -> dict[str, ImageCard]:
    return {
        "followed_nobody": _card(league_race(), {}, whole_field=True),
        "followed_big": _card(league_race({30: 1001}, cars=40), {1001: "Anna"}, whole_field=True),
        "league_two_tracked": _card(league_race({3: 1001, 7: 1002}), {1001: "Anna", 1002: ""}),
        "hosted": _card(league_race({2: 1001}, league=False, cars=9), {1001: "Anna"}),
    }


def _layout(name: str) -> tuple[ImageCard, Layout]:
    card = cases()[name]
    return card, layout_card(card, default_fonts())


def _texts(layout: Layout, role: str) -> list[str]:
    return [t.text for t in layout.find(role)]


@pytest.mark.parametrize("name", sorted(cases()))
def test_every_text_stays_in_its_box_and_none_overlap(name: str) -> None:
    _, layout = _layout(name)
    assert layout.width == WIDTH and 400 < layout.height < 4000
    for i, t in enumerate(layout.texts):
        assert t.limit.contains(t.rect), (t.role, t.text)
        assert t.rect.right <= layout.width and t.font.size >= MIN_SIZE
        for other in layout.texts[i + 1 :]:
            assert not t.rect.overlaps(other.rect), (t.text, other.text)
    png = render_png(cases()[name])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_league_race_says_what_it_is() -> None:
    _, layout = _layout("league_two_tracked")
    assert _texts(layout, "series") == [SESSION_NAME]
    assert _texts(layout, "kind") == ["LEAGUE"]
    assert _texts(layout, "league") == [f"{LEAGUE_NAME} · {SEASON_NAME} · host {HOST}"]
    (cars,) = _texts(layout, "cars")
    assert cars.startswith("BMW M4 GT3, Porsche 911 GT3 R (992)")
    assert _texts(layout, "podium-heading") == []  # the top of the order instead
    assert _texts(layout, "field-heading") == ["TOP OF THE ORDER"]
    assert _texts(layout, "field-more") == ["+13 more in the full results"]
    names = layout.find("field-name")
    assert [n.text for n in names] == [
        "League Driver 1",
        "League Driver 2",
        "League Driver 3",
        "Anna",
        "League Driver 5",
    ]
    assert [n.font == PODIUM_TRACKED for n in names] == [False, False, False, True, False]
    assert _texts(layout, "field-points")[:2] == ["40 pts", "38 pts"]


def test_no_rating_cells_unless_the_race_changed_them() -> None:
    _, layout = _layout("league_two_tracked")
    assert _texts(layout, "driver-name") == ["Anna", "Tracked 1002"]
    assert layout.find("irating") == [] and layout.find("safety") == []
    assert _texts(layout, "best") == ["1:20.223", "1:20.772"]
    sub = league_race({3: 1001})
    moved = replace(sub.results[3], new_irating=2505)
    sub = replace(sub, results=(*sub.results[:3], moved, *sub.results[4:]))
    changed = layout_card(_card(sub, {1001: "Anna"}), default_fonts())
    assert [t.text for t in changed.find("irating")] == ["2493 → 2505"]


def test_a_followed_league_shows_its_field_up_to_the_limit_and_counts_the_rest() -> None:
    _, nobody = _layout("followed_nobody")
    assert len(nobody.find("field-name")) == MAX_FIELD and _texts(nobody, "driver-name") == []
    assert _texts(nobody, "field-more") == [f"+{18 - MAX_FIELD} more in the full results"]
    _, big = _layout("followed_big")
    assert len(big.find("field-name")) == MAX_FIELD
    assert _texts(big, "field-more") == [f"+{40 - MAX_FIELD} more in the full results"]
    assert _texts(big, "driver-name") == ["Anna"]  # P31: not in the field shown, still her own row


def test_a_hosted_race_says_hosted() -> None:
    _, layout = _layout("hosted")
    assert _texts(layout, "kind") == ["HOSTED"]
    assert _texts(layout, "league") == [f"Hosted session · host {HOST}"]
    assert _texts(layout, "series") == ["Friday GT3 open lobby"]


def test_the_picture_data_reads_back() -> None:
    for card in cases().values():
        assert ImageCard.from_json(card.to_json()) == card
