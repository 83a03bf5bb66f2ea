"""On track now, pure: the split from the live list, the SOF from the roster, which servers want
the notice, and what it says."""

from __future__ import annotations

from datetime import UTC, datetime

from ir2dis_cog.core.choices import ServerChoices
from ir2dis_cog.core.filters import Filters
from ir2dis_cog.core.on_track import (
    OnTrack,
    estimated_sof,
    may_want,
    named,
    not_wanted,
    notice_text,
    on_track_of,
    split_of,
)
from ir2dis_cog.iracing.live import LiveRace, RosterEntry
from ir2dis_cog.iracing.schedule import RaceWeek

START = datetime(2026, 3, 7, 18, 0, tzinfo=UTC)


def live(subsession_id: int, session_id: int) -> LiveRace:
    return LiveRace(subsession_id, session_id, 5893, START, race_week_num=4)


def test_the_split_is_the_race_s_place_among_its_session_s_subsessions() -> None:
    listed = [live(801, 70), live(799, 70), live(800, 70), live(900, 71)]
    assert split_of(799, 70, listed) == (1, 3)
    assert split_of(801, 70, listed) == (3, 3)
    assert split_of(900, 71, listed) == (1, 1)
    assert split_of(950, 72, listed) == (1, 1)  # not in the list it came with: still a whole session


def test_the_sof_is_iracing_s_formula_over_the_roster_s_iratings() -> None:
    assert estimated_sof([2000, 2000, 2000]) == 2000
    # Weak drivers weigh more than in a mean: 1000 and 3000 is not 2000.
    assert estimated_sof([1000, 3000]) == 1790
    assert estimated_sof([None, -1, 0]) is None and estimated_sof([]) is None
    assert estimated_sof([None, 1500]) == 1500  # drivers without an iRating are left out


def test_a_roster_becomes_what_the_notice_shows() -> None:
    roster = [
        RosterEntry(1, "Zed Zoom", irating=2500, category_id=5),
        RosterEntry(2, "Alice Apex", irating=2500, category_id=5),
        RosterEntry(3, "Carla Curb", irating=2500, category_id=5),
    ]
    race = on_track_of(live(800, 70), [live(799, 70), live(800, 70)], roster, frozenset({1, 2}))
    assert race == OnTrack(
        800,
        int(START.timestamp()),
        ((2, "Alice Apex"), (1, "Zed Zoom")),
        split=2,
        splits=2,
        sof=2500,
        category_id=5,
        season_id=5893,
        race_week_num=4,
    )


RACE = OnTrack(800, 1_773_000_000, ((2, "Alice *Apex*"), (1, "Zed Zoom")), 2, 3, 2400, 6)


def test_a_server_gets_a_notice_only_when_on_for_its_drivers_and_its_filters_want_the_race() -> None:
    on = ServerChoices(1, live_channel=55)
    assert not_wanted(RACE, ServerChoices(1), {2}) == "on track now is off"
    assert not_wanted(RACE, on, {9}) == "none of its drivers"
    assert not_wanted(RACE, on, {2}) is None
    strict = ServerChoices(1, Filters(min_sof=3000), live_channel=55)
    assert (not_wanted(RACE, strict, {2}) or "").startswith("filtered out: SOF 2400 below 3000")
    ovals = ServerChoices(1, Filters(categories=frozenset({"oval"})), live_channel=55)
    assert (not_wanted(RACE, ovals, {2}) or "").startswith("filtered out: category")
    # While live, the series is not known: a server that posts only chosen series gets no notice.
    chosen = ServerChoices(1, Filters(series_in=frozenset({139})), live_channel=55)
    assert not_wanted(RACE, chosen, {2}) is not None


def test_the_notice_names_the_drivers_inertly_and_says_what_is_known() -> None:
    title, lines = notice_text(RACE, ["Alice *Apex*", "Zed Zoom"], lambda t: t.replace("*", "\\*"))
    assert title == "On track now: Alice \\*Apex\\*, Zed Zoom"
    assert lines == [
        "Race started <t:1773000000:R>.",
        "Split 2 of 3, SOF about 2400.",
        "The result card follows when the race is over.",
    ]
    given = OnTrack(800, 1_773_000_000, ((2, "A"),), series_name="Mazda Cup", track_name="Spa")
    _, lines = notice_text(given, ["A"], str)
    assert lines == ["Mazda Cup at Spa, started <t:1773000000:R>.", "The result card follows when the race is over."]
    many = [f"Driver {i}" for i in range(13)]
    title, _ = notice_text(RACE, many, str)
    assert title.endswith("Driver 9 and 3 more")


WEEK = RaceWeek(4, "Mazda *Cup*", "Spa", "Grand Prix", series_id=139)


def test_the_season_s_week_names_the_series_and_the_track_as_the_cards_show_it() -> None:
    race = named(RACE, WEEK)
    assert (race.series_name, race.track_name, race.series_id) == ("Mazda *Cup*", "Spa · Grand Prix", 139)
    assert named(RACE, RaceWeek(4, "Oval Cup", "Oval")).track_name == "Oval"  # no config: the name alone
    assert named(RACE, None) == RACE  # no schedule: nothing named, nothing else changed
    _, lines = notice_text(race, ["Alice *Apex*"], lambda t: t.replace("*", "\\*"))
    assert lines == [
        "Mazda \\*Cup\\* at Spa · Grand Prix, started <t:1773000000:R>.",
        "Split 2 of 3, SOF about 2400.",
        "The result card follows when the race is over.",
    ]


def test_series_filters_apply_once_the_series_is_named() -> None:
    race = named(RACE, WEEK)
    chosen = ServerChoices(1, Filters(series_in=frozenset({139})), live_channel=55)
    others = ServerChoices(1, Filters(series_in=frozenset({447})), live_channel=55)
    excluded = ServerChoices(1, Filters(series_out=frozenset({139})), live_channel=55)
    assert not_wanted(race, chosen, {2}) is None
    assert (not_wanted(race, others, {2}) or "").startswith("filtered out: series 139 not in")
    assert (not_wanted(race, excluded, {2}) or "").startswith("filtered out: series 139 excluded")
    # Unnamed (no schedule): an exclusion cannot tell, so the notice goes; a choice keeps it out.
    assert not_wanted(RACE, excluded, {2}) is None and not_wanted(RACE, chosen, {2}) is not None


def test_the_schedule_is_worth_asking_only_when_a_server_may_want_the_notice() -> None:
    # Before the series is known only the series filters are left open.
    for series in (Filters(series_in=frozenset({447})), Filters(series_out=frozenset({139}))):
        assert may_want(RACE, ServerChoices(1, series, live_channel=55), {2})
    assert not may_want(RACE, ServerChoices(1), {2})  # on track now is off
    assert not may_want(RACE, ServerChoices(1, live_channel=55), {9})  # none of its drivers on it
    assert not may_want(RACE, ServerChoices(1, Filters(min_sof=3000), live_channel=55), {2})
