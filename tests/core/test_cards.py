"""The race card: built from recorded iRacing results and small hand-made ones; pure, no discord."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ir2dis_cog.core.cards import (
    MAX_DRIVERS,
    MAX_ENTRIES,
    MISSING,
    CardFormatError,
    RaceCard,
    build_card,
    card_marker,
    format_gain,
    format_irating,
    format_lap,
    format_license,
    format_local_time,
    format_position,
    format_safety,
    format_signed,
    results_url,
)
from ir2dis_cog.iracing.models import CarClass, Subsession
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

# --- the recorded solo race --------------------------------------------------------------------


def test_solo_sample_winner(solo: Subsession) -> None:
    card = build_card(solo, {WINNER: "Lukas Schwenk"}, "Europe/Berlin")
    assert card.subsession_id == SOLO_ID
    assert (card.series_name, card.track_name, card.track_config) == (
        "GT4 Challenge by Falken Tyre",
        "Nürburgring Grand-Prix-Strecke",
        "BES/WEC",
    )
    assert card.start_epoch == int(datetime(2025, 12, 28, 20, 30, tzinfo=UTC).timestamp()) == 1766953800
    assert card.start_local == "Sun 28 Dec 21:30 CET"
    assert (card.official, card.event_sof, card.split_number, card.num_splits, card.field_size) == (
        True,
        2965,
        1,
        10,
        30,
    )
    assert not card.multiclass and not card.team_event
    (entry,) = card.entries
    assert entry.team is None
    assert (entry.finish_position, entry.start_position, entry.finish_position_in_class) == (1, 1, 1)
    assert format_position(entry.finish_position) == "P1"
    assert (entry.car_name, entry.class_name, entry.class_sof, entry.class_size) == (
        "Ford Mustang GT4",
        "GT4 Class",
        2961,
        30,
    )
    (d,) = entry.drivers
    assert (d.cust_id, d.name, d.laps_complete, d.laps_led, d.incidents) == (WINNER, "Lukas Schwenk", 10, 10, 2)
    assert format_lap(d.best_lap_time) == "2:11.760"
    assert format_irating(d.old_irating, d.new_irating) == "6223 → 6260 (+37)"
    assert format_safety(d.old_license_level, d.old_sub_level, d.new_license_level, d.new_sub_level) == (
        "B 3.30 → B 3.37"
    )
    assert d.champ_points == 184


def test_only_tracked_drivers_in_finishing_order_with_the_servers_names(solo: Subsession) -> None:
    # Mapping order must not matter; the server's stored name wins; a blank one falls back.
    tracked = {DNF_NO_LAP: "  ", 447143: "Alex (our league)", WINNER: "Lukas"}
    card = build_card(solo, tracked, "UTC")
    assert [e.drivers[0].cust_id for e in card.entries] == [WINNER, 447143, DNF_NO_LAP]
    assert [e.drivers[0].name for e in card.entries] == ["Lukas", "Alex (our league)", "Cedric Fuchs"]
    assert [e.finish_position for e in card.entries] == [1, 4, 29]
    alex = card.entries[1]
    assert (alex.start_position, format_gain(alex.start_position, alex.finish_position)) == (5, "▲1")
    assert card.driver_count == 3


def test_dnf_without_a_lap_keeps_reason_and_missing_lap(solo: Subsession) -> None:
    card = build_card(solo, {DNF_NO_LAP: "Cedric"}, "UTC")
    (entry,) = card.entries
    assert entry.reason_out == "Disconnected" and not entry.finished_running
    assert entry.drivers[0].best_lap_time is None
    assert format_lap(entry.drivers[0].best_lap_time) == MISSING
    assert entry.drivers[0].laps_complete == 0


def test_untracked_race_gives_an_empty_card(solo: Subsession) -> None:
    card = build_card(solo, {1: "Nobody"}, "UTC")
    assert card.entries == () and card.driver_count == 0
    assert RaceCard.from_json(card.to_json()) == card


# --- the recorded multiclass team race ------------------------------------------------------


def test_team_multiclass_sample(team_race: Subsession) -> None:
    rows = list(team_race.driver_rows())
    last_team, last_driver = rows[-1]
    tracked = {CRAYOLA[1]: "Adam", CRAYOLA[0]: "Alex W", last_driver.cust_id: "Backmarker"}
    card = build_card(team_race, tracked, "America/New_York")
    assert card.subsession_id == TEAM_ID
    assert card.multiclass and card.team_event
    assert (card.field_size, card.split_number, card.num_splits, card.event_sof) == (59, 23, 43, 2259)
    assert card.start_local == "Sat 17 Jan 07:00 EST"
    first, last = card.entries
    assert first.team is not None and first.team.name == "Crayola Advanced Engineering"
    assert (first.team.laps_complete, first.team.laps_led, first.team.incidents) == (883, 270, 75)
    assert format_lap(first.team.best_lap_time) == "1:33.466"
    # Drivers in the team's own order, not the mapping's.
    assert [d.name for d in first.drivers] == ["Alex W", "Adam"]
    assert [d.laps_complete for d in first.drivers] == [279, 271]
    assert (first.finish_position, first.finish_position_in_class) == (1, 1)
    assert (first.start_position_in_class, format_gain(first.start_position_in_class, 1)) == (13, "▲12")
    assert (first.class_name, first.class_sof, first.class_size) == ("GTP", 2373, 14)
    assert last_team is not None and last.team is not None and last.team.name == last_team.display_name
    assert last.finish_position == 59 and last.reason_out == last_team.reason_out


def test_team_sample_round_trips_with_every_driver_tracked(team_race: Subsession) -> None:
    tracked = {d.cust_id: d.display_name for _, d in team_race.driver_rows()}
    card = build_card(team_race, tracked, "Europe/Berlin")
    # Only what an embed could ever show is kept; the rest is counted.
    kept = [d for e in card.entries for d in e.drivers]
    assert card.driver_count == len(tracked) == 231
    assert len(kept) <= MAX_DRIVERS and len(card.entries) <= MAX_ENTRIES
    assert card.more_drivers == 231 - len(kept) > 0
    # The kept cars are the top of the order: the first len(entries) rows of the race.
    assert [e.team.name for e in card.entries if e.team] == [
        r.display_name for r in team_race.results[: len(card.entries)]
    ]
    text = card.to_json()
    assert RaceCard.from_json(text) == card
    # Compact: no nulls, no padding, far below a MySQL TEXT column's 64 KiB.
    assert "null" not in text and ": " not in text
    assert len(text.encode()) < 32_000


def test_cards_keep_the_first_cars_and_count_the_rest() -> None:
    drivers = tuple(make_driver(i + 1, finish_position=i + 1) for i in range(MAX_ENTRIES + 5))
    card = build_card(make_subsession(drivers), {d.cust_id: f"D{d.cust_id}" for d in drivers}, "UTC")
    assert [e.finish_position for e in card.entries] == list(range(1, MAX_ENTRIES + 1))
    assert (card.more_drivers, card.driver_count) == (5, MAX_ENTRIES + 5)
    assert RaceCard.from_json(card.to_json()) == card
    # more_drivers has a default: a card without it reads back with 0.
    raw = json.loads(card.to_json())
    del raw["more_drivers"]
    assert RaceCard.from_json(json.dumps(raw)).more_drivers == 0


# --- JSON round trip ----------------------------------------------------------------------------


def test_round_trip_keeps_none_and_floats_exactly() -> None:
    d = make_driver(
        7,
        'Zoë "quotes" ✓ 🏁',
        best_lap_time=None,
        old_irating=None,
        new_irating=None,
        old_sub_level=None,
        new_sub_level=None,
        old_license_level=None,
        new_license_level=None,
        champ_points=None,
        finish_position=None,
        starting_position=None,
    )
    t = make_team(-5, "Team ⚡", (make_driver(8, best_lap_time=61.0001),), best_lap_time=None)
    sub = make_subsession((d, t), track_config=None, event_strength_of_field=None, split_number=None, num_splits=0)
    card = build_card(sub, {7: "", 8: "Eight"}, "UTC")
    text = card.to_json()
    back = RaceCard.from_json(text)
    assert back == card
    assert text.isascii()
    assert back.entries[0].drivers[0].name == 'Zoë "quotes" ✓ 🏁'
    assert back.entries[0].drivers[0].best_lap_time is None and back.track_config is None
    assert back.entries[1].drivers[0].best_lap_time == 61.0001
    assert isinstance(back.entries, tuple) and isinstance(back.entries[1].drivers, tuple)
    assert json.loads(text)["v"] == 1


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"subsession_id": 1}',  # no version
        '{"v": 99, "subsession_id": 1}',  # a version this code does not know
    ],
)
def test_from_json_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(CardFormatError):
        RaceCard.from_json(text)


def test_from_json_refuses_a_missing_required_field(solo: Subsession) -> None:
    raw = json.loads(build_card(solo, {WINNER: "L"}, "UTC").to_json())
    del raw["entries"][0]["drivers"][0]["cust_id"]
    with pytest.raises(CardFormatError, match="malformed"):
        RaceCard.from_json(json.dumps(raw))
    raw = json.loads(build_card(solo, {WINNER: "L"}, "UTC").to_json())
    del raw["field_size"]
    with pytest.raises(CardFormatError):
        RaceCard.from_json(json.dumps(raw))


# --- time zones -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("utc", "zone", "expected"),
    [
        (datetime(2025, 11, 22, 7, 0, tzinfo=UTC), "Europe/Berlin", "Sat 22 Nov 08:00 CET"),
        (datetime(2025, 7, 12, 18, 0, tzinfo=UTC), "Europe/Berlin", "Sat 12 Jul 20:00 CEST"),
        # The spring-forward night: 01:30 UTC is already summer time in Berlin.
        (datetime(2025, 3, 30, 0, 30, tzinfo=UTC), "Europe/Berlin", "Sun 30 Mar 01:30 CET"),
        (datetime(2025, 3, 30, 1, 30, tzinfo=UTC), "Europe/Berlin", "Sun 30 Mar 03:30 CEST"),
        # New York: the previous local day, and EDT in summer.
        (datetime(2025, 11, 22, 3, 0, tzinfo=UTC), "America/New_York", "Fri 21 Nov 22:00 EST"),
        (datetime(2025, 7, 12, 3, 0, tzinfo=UTC), "America/New_York", "Fri 11 Jul 23:00 EDT"),
        (datetime(2025, 11, 22, 7, 0, tzinfo=UTC), "Asia/Kolkata", "Sat 22 Nov 12:30 IST"),
        (datetime(2025, 11, 22, 7, 0, tzinfo=UTC), "UTC", "Sat 22 Nov 07:00 UTC"),
        # A zone nobody knows must not stop the post: UTC instead.
        (datetime(2025, 11, 22, 7, 0, tzinfo=UTC), "Mars/Olympus", "Sat 22 Nov 07:00 UTC"),
        (datetime(2025, 11, 22, 7, 0, tzinfo=UTC), "../../etc/passwd", "Sat 22 Nov 07:00 UTC"),
    ],
)
def test_local_time(utc: datetime, zone: str, expected: str) -> None:
    assert format_local_time(utc, zone) == expected


def test_card_uses_the_servers_zone_but_keeps_the_utc_epoch() -> None:
    start = datetime(2025, 7, 12, 18, 0, tzinfo=UTC)
    sub = make_subsession((make_driver(1),), start=start)
    berlin = build_card(sub, {1: "A"}, "Europe/Berlin")
    new_york = build_card(sub, {1: "A"}, "America/New_York")
    assert berlin.start_epoch == new_york.start_epoch == 1752343200
    assert (berlin.start_local, new_york.start_local) == ("Sat 12 Jul 20:00 CEST", "Sat 12 Jul 14:00 EDT")


# --- classes -----------------------------------------------------------------------------------


def test_class_size_counted_when_iracing_does_not_announce_it() -> None:
    a = make_driver(1, car_class_id=7, finish_position=1)
    b = make_driver(2, car_class_id=7, finish_position=2)
    c = make_driver(3, car_class_id=9, finish_position=3)
    sub = make_subsession((a, b, c), classes=(CarClass(9, "Other", "O", 1200, 1),))
    card = build_card(sub, {2: "B", 3: "C"}, "UTC")
    assert [(e.class_size, e.class_sof) for e in card.entries] == [(2, None), (1, 1200)]


# --- formatters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (131.7601, "2:11.760"),
        (93.4669, "1:33.466"),  # thousandths are cut, as the sim shows them
        (59.9999, "0:59.999"),
        (61.0, "1:01.000"),
        (3725.5, "1:02:05.500"),
        (None, MISSING),
        (0.0, MISSING),
    ],
)
def test_format_lap(seconds: float | None, text: str) -> None:
    assert format_lap(seconds) == text


def test_positions_gains_and_deltas() -> None:
    assert (format_position(1), format_position(17), format_position(None)) == ("P1", "P17", MISSING)
    assert (format_gain(10, 4), format_gain(4, 10), format_gain(3, 3)) == ("▲6", "▼6", "±0")
    assert (format_gain(None, 3), format_gain(3, None)) == (MISSING, MISSING)
    assert (format_signed(12), format_signed(-7), format_signed(0)) == ("+12", "-7", "±0")


def test_irating_and_safety_text() -> None:
    assert format_irating(2000, 1966) == "2000 → 1966 (-34)"
    assert format_irating(None, 1350) == "— → 1350"
    assert format_irating(None, None) == MISSING
    assert format_safety(15, 330, 15, 337) == "B 3.30 → B 3.37"
    assert format_safety(12, 399, 13, 300) == "C 3.99 → B 3.00"  # promoted
    assert format_safety(4, 101, 20, 499) == "R 1.01 → A 4.99"
    assert format_license(21, 150) == "Pro 1.50"
    assert format_safety(None, None, None, None) == MISSING
    assert format_license(None, 250) == "— 2.50"


def test_marker_and_link() -> None:
    assert card_marker(81425604) == "Subsession 81425604"
    assert results_url(81425604) == (
        "https://members-ng.iracing.com/racing/results-stats/results?subsessionid=81425604"
    )
