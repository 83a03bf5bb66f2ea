"""The card of a hosted or league race: what it is, the top of the order, no unchanged ratings."""

from __future__ import annotations

from dataclasses import replace

from ir2dis_cog.core.cards import (
    FIELD_TOP,
    MAX_FIELD,
    RaceCard,
    build_card,
    format_gap,
    league_url,
    ratings_changed,
)
from tests.factories import make_driver, make_subsession
from tests.unofficial_factories import (
    GT3_CARS,
    HOST,
    LEAGUE_ID,
    LEAGUE_NAME,
    SEASON_NAME,
    SESSION_NAME,
    league_race,
)


def test_a_league_race_card_says_what_it_is_and_keeps_the_top_of_the_order() -> None:
    sub = league_race({3: 1001})
    card = build_card(sub, {1001: "Anna"}, "Europe/Berlin")
    assert (card.kind, card.league_id, card.league_name, card.league_season_name) == (
        "league",
        LEAGUE_ID,
        LEAGUE_NAME,
        SEASON_NAME,
    )
    assert (card.session_name, card.host_name) == (SESSION_NAME, HOST)
    assert card.cars == GT3_CARS  # each car once, in the order of its best finish
    assert [f.finish_position for f in card.field] == list(range(1, FIELD_TOP + 1))
    assert card.more_field == 18 - FIELD_TOP
    assert [f.tracked for f in card.field] == [False, False, False, True, False]
    assert card.field[3].name == "Anna"  # the server's own name for its driver
    assert card.field[0].interval is None and card.field[1].interval == 1.383
    assert [d.cust_id for e in card.entries for d in e.drivers] == [1001]


def test_a_followed_league_keeps_the_whole_field_up_to_the_limit_even_with_no_tracked_driver() -> None:
    card = build_card(league_race(cars=18), {}, "UTC", whole_field=True)
    assert card.entries == () and len(card.field) == 18 and card.more_field == 0
    assert card.field[-1].laps_down == 1
    big = build_card(league_race(cars=40), {}, "UTC", whole_field=True)
    assert len(big.field) == MAX_FIELD and big.more_field == 40 - MAX_FIELD


def test_a_hosted_race_has_no_league_and_an_official_one_no_field() -> None:
    hosted = build_card(league_race({0: 7}, league=False, cars=9), {7: ""}, "UTC")
    assert hosted.kind == "hosted" and hosted.league_id is None and hosted.session_name == "Friday GT3 open lobby"
    assert len(hosted.field) == FIELD_TOP and hosted.field[0].tracked
    official = build_card(make_subsession((make_driver(7),)), {7: ""}, "UTC", whole_field=True)
    assert official.kind == "official" and official.field == () and official.cars == () and official.more_field == 0


def test_the_card_with_its_field_reads_back_and_an_older_card_is_an_official_one() -> None:
    card = build_card(league_race({3: 1001}), {1001: "Anna"}, "UTC", whole_field=True)
    assert RaceCard.from_json(card.to_json()) == card
    old = build_card(make_subsession((make_driver(7),)), {7: ""}, "UTC")
    stored = old.to_json()
    assert '"field"' not in stored and '"cars"' not in stored  # as cards were stored before
    assert RaceCard.from_json(stored) == old and not RaceCard.from_json(stored).unofficial


def test_ratings_changed_only_when_the_payload_says_so() -> None:
    card = build_card(league_race({3: 1001}), {1001: ""}, "UTC")
    (driver,) = card.entries[0].drivers
    assert not ratings_changed(driver)
    assert ratings_changed(replace(driver, new_irating=(driver.old_irating or 0) + 12))
    assert ratings_changed(replace(driver, new_sub_level=(driver.old_sub_level or 0) - 8))
    assert not ratings_changed(replace(driver, old_irating=None, new_irating=2500))


def test_gap_and_league_link() -> None:
    assert format_gap(3.7561, 0) == "+3.756s"
    assert format_gap(62.3451, 0) == "+1:02.345"
    assert format_gap(None, 2) == "+2 laps" and format_gap(None, 1) == "+1 lap"
    assert format_gap(None, 0) == "—"
    assert league_url(4534) == "https://members.iracing.com/membersite/member/LeagueView.do?league=4534"
