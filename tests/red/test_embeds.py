"""The result embed: exact text for the recorded races, Discord's limits under hostile cards,
escaped names, and nothing that reads "None" or "-1"."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import discord
import pytest

from ir2dis_cog.core.cards import RaceCard, build_card, card_marker
from ir2dis_cog.iracing.models import CarClass, Subsession
from ir2dis_cog.red.embeds import (
    COLOUR_NONE,
    COLOUR_OTHER,
    COLOUR_PODIUM,
    COLOUR_WIN,
    FIELD_COUNT_LIMIT,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    TOTAL_LIMIT,
    card_to_embed,
    safe_text,
)
from tests.factories import (
    CRAYOLA,
    DNF_NO_LAP,
    SOLO_ID,
    TEAM_ID,
    WINNER,
    make_driver,
    make_subsession,
    make_team,
)

RESULTS = "https://members-ng.iracing.com/racing/results-stats/results?subsessionid="
MARKDOWN = set("*_~|`")
HOSTILE_PIECE = (
    "**bold** __u__ ~~s~~ ||spoiler|| `code` [link](https://evil.example) @everyone @here "
    "<@&123456789012345678> <@!234567890123456789> \\ > # - "
)


def hostile_name(i: int, length: int = 200) -> str:
    return (f"{i}:" + HOSTILE_PIECE * 3)[:length]


# --- helpers -----------------------------------------------------------------------------------


def unescaped_markdown(text: str) -> str:
    """The markdown characters in ``text`` that no backslash escapes."""
    found, i = [], 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] in MARKDOWN:
            found.append(text[i])
        i += 1
    return "".join(found)


def assert_within_limits(embed: discord.Embed) -> None:
    assert len(embed) <= TOTAL_LIMIT
    assert 0 < len(embed.title or "") <= 256
    assert len(embed.description or "") <= 4096
    assert len(embed.fields) <= FIELD_COUNT_LIMIT
    for field in embed.fields:
        assert 0 < len(field.name or "") <= FIELD_NAME_LIMIT
        assert 0 < len(field.value or "") <= FIELD_VALUE_LIMIT
    assert embed.footer.text is not None and len(embed.footer.text) <= 2048


def assert_inert(text: str) -> None:
    """No live mass mention, user/role mention or masked link."""
    assert "@everyone" not in text and "@here" not in text
    assert re.search(r"@[!&]?\d{17,20}", text) is None
    assert re.search(r"(?<!\\)\[link\]\(", text) is None


def all_text(embed: discord.Embed) -> str:
    """Everything a reader sees as text (not the url or the timestamp)."""
    parts = [embed.title or "", embed.description or "", embed.footer.text or ""]
    for field in embed.fields:
        parts += [field.name or "", field.value or ""]
    return "\n".join(parts)


def more_count(embed: discord.Embed) -> int:
    """N of the "…and N more" field, 0 when every driver is shown."""
    last = embed.fields[-1]
    match = re.fullmatch(r"…and (\d+) more", last.name or "")
    return int(match.group(1)) if match else 0


# --- the recorded solo race ----------------------------------------------------------------------


def test_solo_winner_embed(solo: Subsession) -> None:
    embed = card_to_embed(build_card(solo, {WINNER: "Lukas Schwenk"}, "Europe/Berlin"))
    assert embed.title == "GT4 Challenge by Falken Tyre"
    assert embed.url == f"{RESULTS}{SOLO_ID}"
    assert embed.footer.text == card_marker(SOLO_ID) == "Subsession 82263872"
    assert embed.timestamp == datetime(2025, 12, 28, 20, 30, tzinfo=UTC)
    assert embed.description == (
        "**Nürburgring Grand-Prix-Strecke** · BES/WEC\n"
        "<t:1766953800:f> · Sun 28 Dec 21:30 CET\n"
        "Official · SOF 2965 · Split 1 of 10 · Field 30"
    )
    assert embed.colour == COLOUR_WIN
    (field,) = embed.fields
    assert field.name == "Lukas Schwenk"
    assert field.value == (
        "**P1** of 30 · started P1 · ±0\n"
        "Ford Mustang GT4\n"
        "Laps 10 (led 10) · Inc 2x · Best 2:11.760\n"
        "iRating 6223 → 6260 (+37) · SR B 3.30 → B 3.37 · Champ pts 184"
    )
    assert_within_limits(embed)


def test_solo_several_drivers_colour_gain_and_dnf(solo: Subsession) -> None:
    card = build_card(solo, {432652: "Valentin", 447143: "Alex", DNF_NO_LAP: "Cedric"}, "UTC")
    embed = card_to_embed(card)
    assert embed.colour == COLOUR_PODIUM  # best is P2
    names = [f.name for f in embed.fields]
    assert names == ["Valentin", "Alex", "Cedric"]
    valentin, alex, cedric = (f.value or "" for f in embed.fields)
    assert valentin.startswith("**P2** of 30 · started P2 · ±0\n")
    assert "iRating 7082 → 7102 (+20) · SR A 1.40 → A 1.55 · Champ pts 177" in valentin
    assert alex.startswith("**P4** of 30 · started P5 · ▲1\n")
    assert "Best 2:12.888" in alex
    assert cedric.startswith("**P29** of 30 · started P29 · ±0 · out: Disconnected\n")
    assert "Laps 0 (led 0) · Inc 0x · Best —" in cedric
    assert "iRating 2187 → 2121 (-66)" in cedric
    text = all_text(embed)
    assert "None" not in text and "-1" not in text
    only_alex = card_to_embed(build_card(solo, {447143: "Alex"}, "UTC"))
    assert only_alex.colour == COLOUR_OTHER


# --- the recorded multiclass team race -----------------------------------------------------------


def test_team_multiclass_embed(team_race: Subsession) -> None:
    rows = list(team_race.driver_rows())
    _, last_driver = rows[-1]
    tracked = {CRAYOLA[0]: "Alex W", CRAYOLA[1]: "Adam", last_driver.cust_id: "Backmarker"}
    embed = card_to_embed(build_card(team_race, tracked, "America/New_York"))
    assert embed.title == "Daytona 24"
    assert embed.url == f"{RESULTS}{TEAM_ID}"
    assert embed.footer.text == f"Subsession {TEAM_ID}"
    assert embed.description == (
        "**Daytona International Speedway** · Road Course\n"
        "<t:1768651200:f> · Sat 17 Jan 07:00 EST\n"
        "Official · SOF 2259 · Split 23 of 43 · Field 59"
    )
    assert embed.colour == COLOUR_WIN
    winner, backmarker = embed.fields
    assert winner.name == "Crayola Advanced Engineering"
    assert winner.value == (
        "**P1** of 14 in GTP · P1 of 59 overall · started P13 in class · ▲12\n"
        "Porsche 963 GTP · class SOF 2373\n"
        "Team: Laps 883 (led 270) · Inc 75x · Best 1:33.466\n"
        "**Alex W**: Laps 279 (led 95) · Inc 29x · Best 1:33.466\n"
        "iRating 3199 → 3227 (+28) · SR A 4.68 → A 4.71 · Champ pts 140\n"
        "**Adam**: Laps 271 (led 77) · Inc 21x · Best 1:33.498\n"
        "iRating 2265 → 2293 (+28) · SR A 4.09 → A 4.71 · Champ pts 140"
    )
    value = backmarker.value or ""
    assert value.startswith(
        "**P12** of 12 in Dallara P217 · P59 of 59 overall · started P10 in class · ▼2 · out: Disconnected\n"
    )
    assert "\nDallara P217 · class SOF 2390\n" in value
    assert "**Backmarker**: Laps 0 (led 0) · Inc 0x · Best —\niRating — · SR — · Champ pts 0" in value
    assert "None" not in all_text(embed)
    assert_within_limits(embed)


def test_multiclass_positions_use_the_class() -> None:
    a = make_driver(
        1,
        finish_position=2,
        finish_position_in_class=1,
        starting_position=1,
        starting_position_in_class=3,
        car_class_id=1,
    )
    b = make_driver(2, finish_position=1, car_class_id=2, car_name="Dallara P217", car_class_short_name="LMP2")
    classes = (CarClass(1, "GT4 Class", "GT4", 1800, 20), CarClass(2, "LMP2", "LMP2", 2500, 10))
    embed = card_to_embed(build_card(make_subsession((b, a), classes=classes), {1: "A"}, "UTC"))
    (field,) = embed.fields
    assert (field.value or "").splitlines()[:2] == [
        "**P1** of 20 in GT4 · P2 of 2 overall · started P3 in class · ▲2",
        "Ford Mustang GT4 · class SOF 1800",
    ]
    assert embed.colour == COLOUR_WIN  # first in class, second overall


# --- missing values and small cases --------------------------------------------------------------


def test_missing_values_show_a_dash() -> None:
    d = make_driver(
        3,
        finish_position=None,
        starting_position=None,
        best_lap_time=None,
        old_irating=None,
        new_irating=None,
        old_sub_level=None,
        new_sub_level=None,
        old_license_level=None,
        new_license_level=None,
        champ_points=None,
        reason_out="Disqualified",
    )
    # Official: an unofficial race's card leaves the unchanged ratings out (test_unofficial_cards.py).
    sub = make_subsession((d,), event_strength_of_field=None, split_number=None, num_splits=0, track_config=None)
    embed = card_to_embed(build_card(sub, {3: "Dash"}, "UTC"))
    assert embed.description == ("**Spa**\n<t:1763794800:f> · Sat 22 Nov 07:00 UTC\nOfficial · SOF — · Field 1")
    assert embed.fields[0].value == (
        "**—** of 1 · started — · — · out: Disqualified\n"
        "Ford Mustang GT4\n"
        "Laps 10 (led 0) · Inc 0x · Best —\n"
        "iRating — · SR — · Champ pts —"
    )
    assert embed.colour == COLOUR_NONE
    text = all_text(embed)
    assert "None" not in text and "-1" not in text


def test_a_card_without_tracked_drivers_still_renders(solo: Subsession) -> None:
    embed = card_to_embed(build_card(solo, {}, "UTC"))
    assert [f.name for f in embed.fields] == ["No tracked driver"]
    assert embed.footer.text == card_marker(SOLO_ID)
    assert embed.colour == COLOUR_NONE


def test_embed_from_a_stored_card_is_the_same(team_race: Subsession) -> None:
    tracked = {d.cust_id: d.display_name for _, d in list(team_race.driver_rows())[::7]}
    card = build_card(team_race, tracked, "Europe/Berlin")
    assert card_to_embed(RaceCard.from_json(card.to_json())).to_dict() == card_to_embed(card).to_dict()


# --- hostile text and Discord's limits ------------------------------------------------------------


def test_names_are_escaped_and_mentions_neutralised() -> None:
    name = "**Boss** _x_ @everyone <@&123456789012345678> [link](https://evil.example)\nline two"
    team_name = "~~Team~~ ||@here||"
    sub = make_subsession(
        (
            make_team(-1, team_name, (make_driver(1), make_driver(2))),
            make_driver(3, finish_position=2),
        )
    )
    embed = card_to_embed(build_card(sub, {1: name, 2: "`ok`", 3: name}, "UTC"))
    team_field, solo_field = embed.fields
    assert team_field.name == "\\~\\~Team\\~\\~ \\|\\|@\u200bhere\\|\\|"
    assert solo_field.name == (
        "\\*\\*Boss\\*\\* \\_x\\_ @\u200beveryone \\<@\u200b&123456789012345678>"
        " \\[link](https://evil.example) line two"
    )
    # Our own bold around the position (and, in a team, each driver's name) is all that is live.
    assert unescaped_markdown(solo_field.value or "") == "****"
    assert unescaped_markdown(team_field.value or "") == "****" * 3
    assert "**\\`ok\\`**: Laps" in (team_field.value or "")
    text = all_text(embed)
    assert_inert(text)
    assert "line two" in text and "\n" not in (solo_field.name or "")


@pytest.mark.parametrize("count", [1, 24, 25, 26, 40])
def test_many_hostile_drivers_stay_within_limits(count: int) -> None:
    drivers = tuple(make_driver(i + 1, finish_position=i + 1, starting_position=count - i) for i in range(count))
    sub = make_subsession(drivers, series_name="*_" * 200, track_name="`~" * 200, track_config="|>" * 200)
    tracked = {d.cust_id: hostile_name(d.cust_id) for d in drivers}
    embed = card_to_embed(build_card(sub, tracked, "UTC"))
    assert_within_limits(embed)
    assert_inert(all_text(embed))
    omitted = more_count(embed)
    entry_fields = embed.fields[:-1] if omitted else embed.fields
    assert len(entry_fields) + omitted == count
    assert len(entry_fields) >= 1
    # Shown in finishing order, with the right position for each.
    for place, field in enumerate(entry_fields, start=1):
        assert (field.value or "").startswith(f"**P{place}** of {count} · ")
        assert unescaped_markdown(field.name or "") == ""
        assert unescaped_markdown(field.value or "") == "****"
    assert unescaped_markdown(embed.title or "") == ""
    assert embed.footer.text == card_marker(81425604)
    if omitted:
        assert (embed.fields[-1].value or "").endswith(f"[full results]({RESULTS}81425604)")


def test_a_team_with_many_hostile_drivers_is_cut_inside_its_field() -> None:
    members = tuple(make_driver(100 + i) for i in range(30))
    team = make_team(-9, hostile_name(0, 300), members)
    others = tuple(make_driver(200 + i, finish_position=2 + i) for i in range(30))
    classes = (CarClass(1, "GT4 Class", "GT4", 1500, 31),)
    sub = make_subsession((team, *others), classes=classes)
    tracked = {d.cust_id: hostile_name(d.cust_id) for d in (*members, *others)}
    embed = card_to_embed(build_card(sub, tracked, "UTC"))
    assert_within_limits(embed)
    assert_inert(all_text(embed))
    team_field = embed.fields[0]
    value = team_field.value or ""
    shown = len(re.findall(r"^\*\*.*\*\*: Laps ", value, flags=re.MULTILINE))
    cut = re.search(r"\n…and (\d+) more$", value)
    assert cut is not None and 0 < shown and shown + int(cut.group(1)) == 30
    assert unescaped_markdown(value) == "****" * (1 + shown)
    # The other 30 solo drivers: some shown, the rest counted.
    omitted = more_count(embed)
    solo_fields = embed.fields[1:-1] if omitted else embed.fields[1:]
    assert len(solo_fields) + omitted == 30
    assert all(unescaped_markdown(f.value or "") == "****" for f in solo_fields)


def test_safe_text_never_cuts_an_escape_in_half() -> None:
    for limit in range(2, 40):
        text = safe_text("*" * 100, limit)
        assert len(text) <= limit and text.endswith("…")
        assert text[:-1] == "\\*" * ((limit - 1) // 2)
    assert safe_text("short", 10) == "short"
    assert safe_text("  many\t\tspaces\r\nand lines  ", 100) == "many spaces and lines"
    assert safe_text("@everyone", 3) == "@e…"  # cut before escaping: no mention survives


def test_long_plain_names_are_clipped_not_dropped() -> None:
    sub = make_subsession((make_driver(1),))
    embed = card_to_embed(build_card(sub, {1: "N" * 400}, "UTC"))
    (field,) = embed.fields
    assert field.name == "N" * (FIELD_NAME_LIMIT - 1) + "…"


def test_every_driver_result_field_is_rendered(solo: Subsession) -> None:
    """Every driver of the recorded race renders within limits, with its 1-based place."""
    tracked = {d.cust_id: d.display_name for _, d in solo.driver_rows()}
    embed = card_to_embed(build_card(solo, tracked, "UTC"))
    assert_within_limits(embed)
    omitted = more_count(embed)
    shown = embed.fields[:-1] if omitted else embed.fields
    assert len(shown) + omitted == 30
    assert [(f.value or "").split(" ", 1)[0] for f in shown] == [f"**P{i}**" for i in range(1, len(shown) + 1)]


def test_every_driver_of_the_team_race_is_shown_or_counted(team_race: Subsession) -> None:
    tracked = {d.cust_id: d.display_name for _, d in team_race.driver_rows()}
    card = build_card(team_race, tracked, "UTC")
    embed = card_to_embed(card)
    assert_within_limits(embed)
    omitted = more_count(embed)
    team_fields = embed.fields[:-1]
    shown = sum(len(re.findall(r"^\*\*.*\*\*: Laps ", f.value or "", flags=re.MULTILINE)) for f in team_fields)
    cut_inside = sum(int(m) for f in team_fields for m in re.findall(r"\n…and (\d+) more$", f.value or ""))
    assert shown + cut_inside + omitted == 231
    assert [f.name for f in team_fields] == [r.display_name for r in team_race.results[: len(team_fields)]]


def test_a_post_with_its_picture_attaches_it_and_shows_it_inside_the_embed(solo: Subsession) -> None:
    from ir2dis_cog.red.publisher import result_message

    card = build_card(solo, {WINNER: "Winner"}, "UTC")
    with_picture = result_message(card, b"\x89PNG\r\n\x1a\n fake")
    name = f"ir2dis-{solo.subsession_id}.png"
    assert isinstance(with_picture["file"], discord.File) and with_picture["file"].filename == name
    assert with_picture["embed"].image.url == f"attachment://{name}"
    assert with_picture["embed"].footer.text == card_to_embed(card).footer.text  # still found after a crash
    alone = result_message(card, None)
    assert set(alone) == {"embed"} and alone["embed"].image.url is None
