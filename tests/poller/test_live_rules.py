"""The live watcher's pure rules: which races to look at, when to ask for results, misses, health."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from ir2dis_cog.iracing.live import LiveRace
from ir2dis_cog.poller.live_rules import (
    GIVE_UP_AFTER,
    HealthFacts,
    Watch,
    assess,
    miss_of,
    on_live_list,
    on_results,
    on_roster,
    on_roster_failed,
    results_due,
    results_wait,
    watched_now,
)

T = 1_770_000_000.0


def live(sid: int, started: float) -> LiveRace:
    return LiveRace(sid, sid + 1, 5893, datetime.fromtimestamp(started, UTC))


def test_new_races_get_one_roster_read_oldest_first_and_known_ones_none() -> None:
    step = on_live_list({}, [live(2, T - 60), live(1, T - 600)], T)
    assert step.rosters == (1, 2)
    kept = on_roster(step.watches[1], [7, 8], frozenset({8}), T)
    ignored = on_roster(step.watches[2], [9], frozenset({8}), T)
    assert (kept.phase, kept.drivers, ignored.phase) == ("live", frozenset({8}), "ignored")
    again = on_live_list({1: kept, 2: ignored}, [live(2, T - 60), live(1, T - 600)], T + 60)
    assert again.rosters == () and again.left == ()


def test_an_empty_roster_early_in_the_race_is_read_once_more_then_taken_as_it_is() -> None:
    w = Watch(1, started_at=T - 30)
    first = on_roster(w, [], frozenset({8}), T)
    assert first.phase == "roster" and first.roster_reads == 1  # read again with the next list
    assert on_roster(first, [], frozenset({8}), T + 60).phase == "ignored"
    late = Watch(1, started_at=T - 900)
    assert on_roster(late, [], frozenset({8}), T).phase == "ignored"  # late in the race: not again


def test_a_roster_that_keeps_failing_is_left_to_the_safety_net() -> None:
    w = Watch(1, T)
    for _ in range(3):
        w = on_roster_failed(w)
    assert w.phase == "unread"


def test_a_kept_race_that_leaves_the_list_is_asked_for_results_a_minute_later() -> None:
    w = Watch(1, T - 1800, phase="live", drivers=frozenset({8}))
    step = on_live_list({1: w}, [], T)
    assert step.left == (1,)
    waiting = step.watches[1]
    assert waiting.phase == "awaiting" and waiting.next_try == T + 60
    assert results_due(step.watches, T + 59) == []
    assert results_due(step.watches, T + 60) == [1]
    assert watched_now(step.watches) == 1


def test_a_race_over_before_its_roster_was_read_is_unread() -> None:
    step = on_live_list({1: Watch(1, T - 60)}, [], T)
    assert step.watches[1].phase == "unread"


def test_results_are_asked_each_minute_for_ten_minutes_then_backing_off_then_given_up() -> None:
    assert [results_wait(n) for n in range(10)] == [60.0] * 10
    assert [results_wait(n) for n in (10, 11, 12, 13, 20)] == [120.0, 240.0, 480.0, 600.0, 600.0]
    w = Watch(1, T - 1800, phase="awaiting", left_at=T, next_try=T + 60)
    w = on_results(w, False, T + 60)
    assert (w.phase, w.tries, w.next_try) == ("awaiting", 1, T + 120)
    assert on_results(w, True, T + 120).phase == "done"
    assert on_results(w, False, T + GIVE_UP_AFTER).phase == "given_up"


def test_settled_races_are_forgotten_after_a_day_waiting_ones_never() -> None:
    old_done = Watch(1, T - 2 * 86_400, phase="done")
    old_waiting = Watch(2, T - 2 * 86_400, phase="awaiting", left_at=T - 60, next_try=T)
    step = on_live_list({1: old_done, 2: old_waiting}, [], T)
    assert set(step.watches) == {2}


def test_what_counts_as_a_miss_and_why() -> None:
    trusted_since = [(-math.inf, T - 3600)]  # the watcher was healthy from an hour ago
    assert miss_of(None, int(T - 600), trusted_since).code == "not_listed"  # type: ignore[union-attr]
    assert miss_of(None, int(T - 7200), trusted_since) is None  # started before the watcher watched
    ignored = Watch(1, T - 600, phase="ignored")
    assert miss_of(ignored, int(T - 600), trusted_since).code == "no_tracked_driver"  # type: ignore[union-attr]
    assert miss_of(Watch(1, T - 600, phase="given_up"), int(T - 600), trusted_since).code == "no_results"  # type: ignore[union-attr]
    for phase in ("live", "awaiting", "done"):
        assert miss_of(Watch(1, T - 600, phase=phase), int(T - 600), trusted_since) is None  # type: ignore[arg-type]
    degraded = [(-math.inf, T - 3600), (T - 900, math.inf)]
    assert miss_of(None, int(T - 600), degraded) is None  # it started while every driver was polled


def facts(**kw: object) -> HealthFacts:
    base: dict[str, object] = {
        "now": T,
        "period": 60.0,
        "last_list_at": T - 30,
        "last_list_error": None,
        "last_list_races": 80,
        "roster_failures": 0,
        "miss_times": (),
    }
    base.update(kw)
    return HealthFacts(**base)  # type: ignore[arg-type]


def test_health_in_plain_words() -> None:
    assert assess(facts()).healthy
    assert assess(facts(last_list_at=None, last_list_error="IRacingError")).reason == "no live list yet (IRacingError)"
    stale = assess(facts(last_list_at=T - 300, last_list_error="iRacing maintenance"))
    assert not stale.healthy and stale.reason == "no live list for 5 min (iRacing maintenance)"
    assert assess(facts(last_list_races=0)).reason == "the live list holds no race"
    assert assess(facts(roster_failures=3)).reason == "3 roster reads failed in a row"
    assert assess(facts(miss_times=(T - 4000, T - 100))).healthy  # one miss in the last hour
    assert assess(facts(miss_times=(T - 200, T - 100))).reason == "2 races missed in the last hour"
