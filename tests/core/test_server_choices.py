"""The pure decisions of a server's choices: filters, routes, podiums, pings, the digest."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from types import MappingProxyType

import pytest

from ir2dis_cog.core.cards import DriverLine, EntryLine, RaceCard
from ir2dis_cog.core.choices import WIN, ServerChoices
from ir2dis_cog.core.digest import (
    UNKNOWN_INCIDENTS,
    DigestRow,
    build_digest,
    digest_lines,
    digest_slot,
    next_digest,
    parse_day,
    rows_of,
)
from ir2dis_cog.core.filters import (
    ChoiceError,
    Filters,
    RaceFacts,
    categories_of,
    filtered_out,
    parse_categories,
    parse_min_sof,
)
from ir2dis_cog.core.podium import podium_drivers
from ir2dis_cog.core.routing import NO_MENTIONS, Mentions, ping_targets, route

# --- filters ----------------------------------------------------------------------------------


def facts(**kw: object) -> RaceFacts:
    base = RaceFacts(91_000_001, 5, "Sports Car", 2450, 491, "GT4 Falken Tyre Challenge")
    return replace(base, **kw)  # type: ignore[arg-type]


def test_the_old_road_category_counts_as_sports_car_and_formula_car() -> None:
    assert categories_of(2) == ("sports_car", "formula_car")
    assert categories_of(None, "Road") == ("sports_car", "formula_car")
    assert categories_of(6) == ("formula_car",)
    assert categories_of(None, None) == ()
    old_road = facts(category_id=2, category_name="Road")
    assert filtered_out(old_road, Filters(categories=frozenset({"formula_car"}))) is None
    assert filtered_out(old_road, Filters(categories=frozenset({"sports_car"}))) is None
    assert filtered_out(old_road, Filters(categories=frozenset({"oval"}))) is not None


def test_categories_and_min_sof_keep_races_out_with_a_reason() -> None:
    ovals = Filters(categories=frozenset({"oval", "dirt_oval"}))
    assert filtered_out(facts(), ovals) == "filtered out: category Sports car not chosen"
    assert filtered_out(facts(category_id=1, category_name="Oval"), ovals) is None
    # A race whose category iRacing did not give is posted rather than hidden.
    assert filtered_out(facts(category_id=None, category_name=None), ovals) is None
    assert filtered_out(facts(sof=1999), Filters(min_sof=2000)) == "filtered out: SOF 1999 below 2000"
    assert filtered_out(facts(sof=2000), Filters(min_sof=2000)) is None
    assert filtered_out(facts(sof=None), Filters(min_sof=1)) is not None


def test_series_in_and_out() -> None:
    assert filtered_out(facts(), Filters(series_in=frozenset({491}))) is None
    assert filtered_out(facts(), Filters(series_in=frozenset({139}))) is not None
    assert filtered_out(facts(), Filters(series_out=frozenset({491}))) == "filtered out: series 491 excluded"
    assert filtered_out(facts(series_id=None), Filters(series_out=frozenset({491}))) is None
    assert filtered_out(facts(series_id=None), Filters(series_in=frozenset({491}))) is not None
    assert Filters().is_open and not Filters(min_sof=1).is_open


def test_parsing_settings() -> None:
    assert parse_categories("oval, Formula sports-car") == {"oval", "formula_car", "sports_car"}
    assert parse_categories("all") == frozenset()
    with pytest.raises(ChoiceError, match="don't know the category 'road'"):
        parse_categories("oval road")
    assert parse_min_sof("2000") == 2000
    assert parse_min_sof(" 0 ") == 0
    for bad in ("-5", "abc", "1.5", "", "99999"):
        with pytest.raises(ChoiceError):
            parse_min_sof(bad)


# --- podiums, routes, pings ---------------------------------------------------------------------


def driver(cust_id: int, name: str, *, incidents: int = 2, old: int = 2000, new: int = 2030) -> DriverLine:
    return DriverLine(cust_id, name, 20, 0, incidents, 95.1, old, new, 300, 310, 15, 15, 40)


def entry(position: int, *drivers: DriverLine, start: int = 5, klass: str = "GT4") -> EntryLine:
    return EntryLine("Car", klass, 2400, 20, position + 4, position, start + 4, start, "Running", None, drivers)


def card(*entries: EntryLine, subsession_id: int = 91_000_001) -> RaceCard:
    return RaceCard(
        subsession_id, "GT4 Cup", "Spa", None, 1_770_000_000, "Mon", True, 2400, 1, 1, 40, True, False, entries
    )


ALICE, BRUNO = driver(1, "Alice"), driver(2, "Bruno")


def test_podium_is_the_class_podium_and_win_is_class_p1() -> None:
    c = card(entry(3, ALICE), entry(4, BRUNO))
    assert podium_drivers(c, 3) == {1}
    assert podium_drivers(c, 1) == frozenset()
    assert podium_drivers(card(entry(1, ALICE, BRUNO)), 1) == {1, 2}  # a shared car: both won


def test_route_main_channel_by_category_and_podium_copy() -> None:
    choices = ServerChoices(
        7,
        category_channels=MappingProxyType({"formula_car": 300, "sports_car": 200}),
        podium_channel=900,
    )
    podium = card(entry(2, ALICE))
    r = route(facts(), podium, 100, choices, {})
    assert (r.channel_id, r.copies, r.mentions) == (200, (900,), NO_MENTIONS)
    # An old road race goes to the sports car channel (the first of its two successors with one).
    assert route(facts(category_id=2), podium, 100, choices, {}).channel_id == 200
    assert route(facts(category_id=1), card(entry(9, ALICE)), 100, choices, {}).copies == ()
    assert route(facts(category_id=1), podium, 100, choices, {}).channel_id == 100
    # The podium channel being the main channel: one post, no copy.
    same = replace(choices, podium_channel=200)
    assert route(facts(), podium, 100, same, {}).copies == ()
    # Threshold "win": a P2 is no copy.
    assert route(facts(), podium, 100, replace(choices, podium_top=WIN), {}).copies == ()


def test_pings_name_exactly_the_linked_members_who_made_it_and_the_role() -> None:
    c = card(entry(1, ALICE), entry(7, BRUNO))
    links = {1: 5001, 2: 5002}
    assert ping_targets(c, ServerChoices(7), links) == NO_MENTIONS  # off by default
    on = ServerChoices(7, ping_members=True)
    assert ping_targets(c, on, links) == Mentions((5001,), ())
    assert ping_targets(c, on, {2: 5002}) == Mentions((), ())
    both = replace(on, ping_role=6001)
    assert ping_targets(c, both, links) == Mentions((5001,), (6001,))
    assert ping_targets(card(entry(5, ALICE)), both, links) == NO_MENTIONS
    r = route(facts(), c, 100, replace(both, podium_channel=900), links)
    assert r.mentions_for(900) == Mentions((5001,), (6001,)) and r.mentions_for(100) == NO_MENTIONS
    r = route(facts(), c, 100, both, links)
    assert r.mentions_for(100) == Mentions((5001,), (6001,))


def test_mentions_round_trip_and_unreadable_pings_nobody() -> None:
    m = Mentions((1, 2), (3,))
    assert Mentions.decode(m.encode()) == m
    assert m.text() == "<@1> <@2> <@&3>"
    assert Mentions.decode("u;r") == NO_MENTIONS
    for bad in (None, "", "garbage", "u1,x;r2", "r1;u2"):
        assert Mentions.decode(bad) == NO_MENTIONS


# --- the digest ---------------------------------------------------------------------------------


def row(s: int, c: int, name: str, pos: int | None, start: int | None, inc: int, old: int, new: int) -> DigestRow:
    return DigestRow(7, s, c, name, 1_770_000_000 + s, "GT4 Cup", pos, start, inc, old, new)


def test_digest_numbers() -> None:
    rows = [
        row(1, 1, "Alice", 1, 4, 2, 2000, 2040),
        row(2, 1, "Alice", 3, 3, 6, 2040, 2050),
        row(2, 2, "Bruno", 9, 18, 0, 1500, 1480),  # climbed 9 places
        row(3, 3, "Carla", 12, 10, 1, 1800, 1790),
    ]
    d = build_digest("2026-W06", rows)
    assert (d.races, d.wins, d.podiums, d.drivers) == (3, 1, 2, 3)
    assert [(s.name, s.value) for s in d.gains] == [("Alice", 50)]
    assert [(s.name, s.value) for s in d.losses] == [("Bruno", -20), ("Carla", -10)]
    assert d.cleanest is not None and (d.cleanest.name, d.cleanest.value) == ("Bruno", 0)
    assert d.climb is not None and (d.climb.name, d.climb.value) == ("Bruno", 9)
    lines = digest_lines(d, lambda t: t.replace("*", "\\*"))
    assert lines[0] == "**3** races by 3 drivers · **1** win · **2** podiums"
    assert "Cleanest: Bruno, 0 incidents per race over 1 race" in lines
    empty = build_digest("2026-W06", [])
    assert empty.empty and digest_lines(empty, str) == ["No races of tracked drivers were posted this week."]


def test_digest_rows_come_from_the_card() -> None:
    rows = rows_of(7, card(entry(2, ALICE, start=6), entry(8, BRUNO)), 1_770_000_500, series_id=491)
    assert [(r.cust_id, r.class_position, r.class_start, r.series_id) for r in rows] == [(1, 2, 6, 491), (2, 8, 5, 491)]
    assert rows[0].irating_delta == 30 and rows[0].places_gained == 4


def _at(text: str) -> float:
    return datetime.fromisoformat(text).astimezone(UTC).timestamp()


def test_a_race_without_incidents_or_series_still_counts_in_the_digest_but_not_as_clean() -> None:
    unknown = DriverLine(3, "Carla", None, None, None, None, 1800, 1850, None, None, None, None, None)
    bare = replace(card(entry(1, unknown), entry(4, BRUNO)), series_name=None)
    rows = rows_of(7, bare, 1_770_000_500)
    assert [(r.cust_id, r.series_name, r.incidents) for r in rows] == [(3, "", UNKNOWN_INCIDENTS), (2, "", 2)]
    d = build_digest("2026-W06", rows)
    assert (d.races, d.wins, d.drivers) == (1, 1, 2)
    assert [(s.name, s.value) for s in d.gains] == [("Carla", 50), ("Bruno", 30)]
    assert d.cleanest is not None and (d.cleanest.name, d.cleanest.value, d.cleanest.races) == ("Bruno", 2, 1)


def test_digest_slot_is_the_servers_day_and_hour_in_its_zone() -> None:
    zone = "Europe/Berlin"
    # Monday 9 February 2026, 09:00 in Berlin is 08:00 UTC.
    assert digest_slot(_at("2026-02-09T07:59:59+00:00"), zone, 0, 9) is None
    slot = digest_slot(_at("2026-02-09T08:00:00+00:00"), zone, 0, 9)
    assert slot is not None and slot.week == "2026-W07"
    assert slot.until == _at("2026-02-09T08:00:00+00:00") and slot.since == slot.until - 7 * 86_400
    # Later that day it is still this week's slot (the same key: the claim makes it once).
    later = digest_slot(_at("2026-02-09T20:00:00+00:00"), zone, 0, 9)
    assert later == slot
    assert digest_slot(_at("2026-02-10T08:00:00+00:00"), zone, 0, 9) is None  # Tuesday
    assert next_digest(_at("2026-02-09T08:00:01+00:00"), zone, 0, 9) == _at("2026-02-16T08:00:00+00:00")
    assert parse_day("Monday") == 0 and parse_day("sun") == 6 and parse_day(" Tues ") == 1
    assert [parse_day(str(n)) for n in range(1, 8)] == list(range(7))  # the numbers: Monday is 1
    for bad in ("mo", "0", "8", "monkey", "sundays", "-1", ""):
        with pytest.raises(ValueError, match="not a day"):
            parse_day(bad)
