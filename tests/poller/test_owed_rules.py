"""The rules of races owed: what a failed results/get means, and when it is asked again."""

from __future__ import annotations

from ir2dis_cog.core.records import PendingRace
from ir2dis_cog.iracing.errors import IRacingError, MaintenanceError, NotFoundError, ParseError
from ir2dis_cog.poller.owed import (
    MAX_WAIT,
    NOT_FOUND,
    NOT_FOUND_APART,
    NOT_OUT_GRACE,
    ROSTER,
    TRANSIENT_FOR,
    UNREADABLE,
    after_failure,
    wait_after,
)

T = 1_770_000_000


def test_the_backoff_doubles_from_a_minute_to_half_an_hour() -> None:
    assert [wait_after(n) for n in range(1, 8)] == [60, 120, 240, 480, 960, MAX_WAIT, MAX_WAIT]


def test_bad_answers_are_transient_for_a_day_and_a_half_then_given_up_as_unreadable() -> None:
    race = PendingRace(5, T - 3600, T, "poll")
    for exc in (ParseError("results/get", "not valid JSON"), IRacingError("HTTP 502"), MaintenanceError()):
        v = after_failure(race, exc, T)
        assert v.give_up is None and v.race.next_try_at == T + 60 and v.race.first_failure_at == T
    later = after_failure(race, ParseError("results/get"), T).race
    assert after_failure(later, ParseError("results/get"), T + TRANSIENT_FOR - 1).give_up is None
    assert after_failure(later, ParseError("results/get"), T + TRANSIENT_FOR).give_up == UNREADABLE


def test_no_such_subsession_is_final_only_when_said_again_minutes_later() -> None:
    race = PendingRace(5, T - 3600, T, "poll")
    once = after_failure(race, NotFoundError("404"), T)
    assert once.give_up is None and once.race.not_found_at == T and once.race.next_try_at >= T + NOT_FOUND_APART
    assert after_failure(once.race, NotFoundError("404"), T + 60).give_up is None  # not minutes apart
    assert after_failure(once.race, NotFoundError("404"), T + NOT_FOUND_APART).give_up == NOT_FOUND
    # A bad answer in between keeps the first "not found".
    between = after_failure(once.race, ParseError("results/get"), T + 120).race
    assert after_failure(between, NotFoundError("404"), T + NOT_FOUND_APART).give_up == NOT_FOUND


def test_a_race_kept_from_its_roster_is_not_out_yet_rather_than_unknown_for_a_day() -> None:
    race = PendingRace(5, T, T, ROSTER)
    v = after_failure(race, NotFoundError("404"), T + 3 * 3600)
    assert v.give_up is None and v.race.not_found_at is None
    first = after_failure(race, NotFoundError("404"), T + NOT_OUT_GRACE).race
    assert first.not_found_at == T + NOT_OUT_GRACE
    assert after_failure(first, NotFoundError("404"), T + NOT_OUT_GRACE + NOT_FOUND_APART).give_up == NOT_FOUND
