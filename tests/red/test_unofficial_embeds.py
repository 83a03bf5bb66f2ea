"""The embed of a hosted or league race: the league and season (or "Hosted"), the session, host,
track and cars, the top of the order, the tracked drivers without unchanged ratings, league
points and the standings link, within the same limits and "…and N more" rules."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from ir2dis_cog.core.cards import build_card
from ir2dis_cog.red.embeds import card_to_embed
from tests.red.test_embeds import (
    assert_inert,
    assert_within_limits,
    hostile_name,
    more_count,
    unescaped_markdown,
)
from tests.unofficial_factories import HOST, LEAGUE_ID, LEAGUE_NAME, SEASON_NAME, SESSION_NAME, league_race

RESULTS = "https://members-ng.iracing.com/racing/results-stats/results?subsessionid=82001234"
STANDINGS = f"[League standings](https://members.iracing.com/membersite/member/LeagueView.do?league={LEAGUE_ID})"


def _field_rows(description: str) -> list[str]:
    return [line for line in description.splitlines() if re.match(r"^`\s*P\d+`", line)]


def test_a_league_card_names_the_league_season_session_host_track_and_cars() -> None:
    embed = card_to_embed(build_card(league_race({3: 1001}), {1001: "Anna"}, "Europe/Berlin"))
    assert embed.author.name == f"{LEAGUE_NAME} · {SEASON_NAME}"
    assert embed.title == SESSION_NAME
    lines = (embed.description or "").splitlines()
    assert lines[0] == "**Michelin Raceway Road Atlanta** · Full Course"
    assert lines[2] == f"Host: {HOST}"
    assert lines[3].startswith("Cars: BMW M4 GT3, Porsche 911 GT3 R (992), Ferrari 296 GT3")
    assert lines[4] == "Unofficial · Field 18"  # no SOF dash: a league race has none
    assert lines[5] == STANDINGS
    assert lines[7] == "**Top of the order**"
    rows = _field_rows(embed.description or "")
    assert rows[0] == "` P1` League Driver 1 · BMW M4 GT3 · 24 laps · 40 pts"
    assert rows[3] == "` P4` **Anna** · Mercedes-AMG GT3 2020 · +3.923s · 34 pts"  # tracked: in bold
    assert len(rows) == 5 and lines[-1] == f"…and 13 more: [full results]({RESULTS})"


def test_a_tracked_drivers_line_leaves_out_unchanged_ratings_and_shows_league_points() -> None:
    embed = card_to_embed(build_card(league_race({3: 1001}), {1001: "Anna"}, "UTC"))
    (field,) = embed.fields
    assert field.name == "Anna"
    assert (field.value or "").splitlines() == [
        "**P4** of 18 · started P4 · ±0",
        "Mercedes-AMG GT3 2020",
        "Laps 24 (led 0) · Inc 0x · Best 1:20.223",
        "League pts 34",
    ]
    assert "iRating" not in (field.value or "")


def test_ratings_show_when_the_payload_says_they_changed() -> None:
    sub = league_race({3: 1001})
    moved = replace(sub.results[3], new_irating=2505, new_sub_level=359)
    sub = replace(sub, results=(*sub.results[:3], moved, *sub.results[4:]))
    (field,) = card_to_embed(build_card(sub, {1001: "Anna"}, "UTC")).fields
    assert (field.value or "").splitlines()[-1] == "iRating 2493 → 2505 (+12) · SR A 3.51 → A 3.59 · League pts 34"


def test_a_hosted_card_says_hosted_and_links_no_standings() -> None:
    sub = league_race({2: 1001}, league=False, cars=9)
    sub = replace(sub, results=tuple(replace(r, champ_points=None) for r in sub.results))
    embed = card_to_embed(build_card(sub, {1001: "Anna"}, "UTC"))
    assert embed.author.name == "Hosted session" and embed.title == "Friday GT3 open lobby"
    description = embed.description or ""
    assert "League standings" not in description and " pts" not in description
    (field,) = embed.fields
    assert (field.value or "").splitlines()[-1] == "Laps 24 (led 0) · Inc 6x · Best 1:20.086"


def test_a_followed_league_race_without_a_tracked_driver_shows_its_whole_field() -> None:
    embed = card_to_embed(build_card(league_race(), {}, "UTC", whole_field=True))
    description = embed.description or ""
    assert "**Results**" in description and len(_field_rows(description)) == 18
    assert "more" not in description.splitlines()[-1]
    assert embed.fields == []  # no "No tracked driver" field: the field says it all
    assert_within_limits(embed)


@pytest.mark.parametrize(("cars", "tracked"), [(25, 0), (25, 25), (40, 30), (60, 60)])
def test_a_hostile_league_stays_within_the_limits_and_counts_the_rest(cars: int, tracked: int) -> None:
    sub = league_race({i: 700_000 + i for i in range(tracked)}, cars=cars)
    hostile = {
        "league_name": hostile_name(1, 300),
        "league_season_name": hostile_name(2, 300),
        "session_name": hostile_name(3, 300),
        "host_name": hostile_name(4),
    }
    results = tuple(replace(r, car_name=hostile_name(i, 120)) for i, r in enumerate(sub.results))
    sub = replace(sub, results=results, **hostile)
    names = {700_000 + i: hostile_name(i) for i in range(tracked)}
    for i, row in enumerate(sub.results):
        if i >= tracked:  # untracked drivers' names come from iRacing, just as hostile
            sub = replace(
                sub, results=(*sub.results[:i], replace(row, display_name=hostile_name(i)), *sub.results[i + 1 :])
            )
    embed = card_to_embed(build_card(sub, names, "UTC", whole_field=True))
    assert_within_limits(embed)
    assert len(embed.author.name or "") <= 256
    text = "\n".join([embed.author.name or "", embed.title or "", embed.description or ""])
    assert_inert(text + "".join((f.name or "") + (f.value or "") for f in embed.fields))
    assert unescaped_markdown(embed.author.name or "") == "" and unescaped_markdown(embed.title or "") == ""
    description = embed.description or ""
    shown = len(_field_rows(description))
    cut = re.search(r"…and (\d+) more: \[full results\]", description)
    assert shown >= 1 and shown + (int(cut.group(1)) if cut else 0) == cars
    if tracked:
        omitted = more_count(embed)
        entry_fields = embed.fields[:-1] if omitted else embed.fields
        assert len(entry_fields) + omitted == tracked and len(entry_fields) >= 1
