"""The pure rules of a cycle: new races per pair, watermark moves, who shares a card."""

from __future__ import annotations

from datetime import UTC, datetime

from ir2dis_cog.core.records import GuildConfig, Watermark
from ir2dis_cog.core.tracking import RaceRef, baseline_mark
from ir2dis_cog.iracing.models import RecentRace
from ir2dis_cog.poller.detection import (
    age,
    also_new_for,
    card_audience,
    channel_tracking,
    finish_time,
    guilds_to_drivers,
    late_candidates,
    plan_pair,
    watermark_target,
)

NOW = 1_770_000_000


def race(subsession_id: int, started_at: int) -> RecentRace:
    return RecentRace(
        subsession_id=subsession_id,
        start_time=datetime.fromtimestamp(started_at, UTC),
        series_name="S",
        track_name="T",
        finish_position=1,
        start_position=1,
        laps=10,
        laps_led=0,
        incidents=0,
        points=None,
        strength_of_field=None,
        old_irating=None,
        new_irating=None,
        old_sub_level=None,
        new_sub_level=None,
        license_level=None,
    )


# newest first, as iRacing sends them
RACES = [race(105, NOW - 600), race(104, NOW - 3600), race(103, NOW - 7200), race(102, NOW - 90_000)]


def test_every_race_after_the_watermark_oldest_first() -> None:
    plan = plan_pair(1, 7, RACES, Watermark(NOW - 90_000, 102), oldest_postable=NOW - 86_400)
    assert [r.subsession_id for r in plan.post] == [103, 104, 105]
    assert plan.stale == () and plan.baseline is None


def test_nothing_new_when_the_watermark_is_the_latest_race() -> None:
    plan = plan_pair(1, 7, RACES, Watermark(NOW - 600, 105), oldest_postable=0)
    assert plan.post == () and plan.pending == ()


def test_a_missing_watermark_sets_the_baseline_and_posts_nothing() -> None:
    plan = plan_pair(1, 7, RACES, None, oldest_postable=0)
    assert plan.post == ()
    assert plan.baseline == RaceRef(NOW - 600, 105)
    assert plan_pair(1, 7, [], None, oldest_postable=0).baseline is None


def test_a_zero_watermark_means_every_race_is_new() -> None:
    # what the track command stores for a driver without any race yet
    plan = plan_pair(1, 7, RACES[:2], Watermark(0, 0), oldest_postable=0)
    assert [r.subsession_id for r in plan.post] == [104, 105]


def test_races_surely_ended_before_the_post_age_are_passed_over_not_posted() -> None:
    races = [*RACES, race(101, NOW - 200_000)]  # started 55 h ago: ended at least 25 h ago
    plan = plan_pair(1, 7, races, Watermark(0, 0), oldest_postable=NOW - 86_400)
    # 102 started 25 h ago: only its end (from its results) can tell whether it is too old
    assert [r.subsession_id for r in plan.post] == [102, 103, 104, 105]
    assert [r.subsession_id for r in plan.stale] == [101]
    assert [r.subsession_id for r in plan.pending] == [101, 102, 103, 104, 105]


def test_a_race_is_aged_from_its_end_never_from_its_start() -> None:
    oldest = NOW - 24 * 3600
    daytona = RaceRef(NOW - 24 * 3600 - 55 * 60, 900)  # a 24-hour race that ended minutes ago
    assert age(daytona, oldest) == "unknown"  # the start alone cannot tell
    assert age(daytona, oldest, finished_at=NOW - 180) == "young"
    sprint = RaceRef(NOW - 25 * 3600 - 40 * 60, 901)  # 40 minutes, ended 25 h ago
    assert age(sprint, oldest, finished_at=NOW - 25 * 3600) == "old"
    assert age(RaceRef(NOW - 40 * 3600 - 86_400, 902), oldest) == "old"  # started 64 h ago
    assert age(RaceRef(NOW - 600, 903), oldest) == "young"
    # published without an end time: aged from when this bot first saw it finished
    assert finish_time(None, first_seen=NOW) == NOW
    assert finish_time(datetime.fromtimestamp(NOW - 5, UTC), first_seen=NOW) == NOW - 5


def test_a_late_race_below_the_watermark_is_new_when_started_after_tracking() -> None:
    # The driver raced sprint 905 during their team's 24-hour race 900; the sprint was posted first.
    races = [race(905, NOW - 3 * 3600), race(900, NOW - 25 * 3600), race(880, NOW - 27 * 3600)]
    mark = Watermark(NOW - 2 * 3600, 905)
    tracked_since = NOW - 26 * 3600
    assert late_candidates(races, mark, tracked_since=tracked_since) == [900]  # 880 predates tracking
    plan = plan_pair(1, 7, races, mark, oldest_postable=NOW - 86_400, late=[900])
    assert [r.subsession_id for r in plan.post] == [900]
    assert late_candidates(races, None, tracked_since=0) == []
    # a race that started longer than any race lasts before the watermark's finish is old news
    assert late_candidates([race(870, NOW - 40 * 3600)], mark, tracked_since=0) == []


def test_tracking_starts_at_the_newest_race_without_backlog() -> None:
    assert baseline_mark(RaceRef.of(r) for r in RACES) == (105, NOW - 600)
    assert baseline_mark([]) == (0, 0)


def test_same_start_time_orders_by_subsession_id() -> None:
    twins = [race(201, NOW), race(200, NOW)]
    plan = plan_pair(1, 7, twins, Watermark(NOW, 200), oldest_postable=0)
    assert [r.subsession_id for r in plan.post] == [201]


def test_watermark_stops_before_the_first_unhandled_race() -> None:
    pending = [RaceRef(1, 11), RaceRef(2, 12), RaceRef(3, 13)]
    assert watermark_target(pending, {11, 12, 13}) == RaceRef(3, 13)
    assert watermark_target(pending, {11, 13}) == RaceRef(1, 11)
    assert watermark_target(pending, {12, 13}) is None
    assert watermark_target([], set()) is None


def test_channel_tracking_leaves_out_servers_without_a_channel() -> None:
    tracking = {7: frozenset({1, 2}), 8: frozenset({2}), 9: frozenset({3})}
    guilds = {1: GuildConfig(1, 100, None), 2: GuildConfig(2, None, None)}
    assert channel_tracking(tracking, guilds) == {7: frozenset({1})}
    assert guilds_to_drivers({7: frozenset({1, 2}), 8: frozenset({2})}) == {1: frozenset({7}), 2: frozenset({7, 8})}


def test_card_audience_lists_every_tracked_driver_of_the_race_per_server() -> None:
    tracking = {7: frozenset({1, 2}), 8: frozenset({2}), 9: frozenset({3})}
    assert card_audience([7, 8, 50], tracking) == {1: frozenset({7}), 2: frozenset({7, 8})}


def test_also_new_for_a_server_through_a_driver_not_polled() -> None:
    ref = RaceRef(NOW - 600, 300)
    audience = {1: frozenset({7}), 2: frozenset({8}), 3: frozenset({9}), 4: frozenset({10})}
    marks = {
        (1, 7): Watermark(NOW - 9000, 250),  # behind: new for server 1
        (2, 8): Watermark(NOW - 600, 300),  # already there
        # (3, 9) has no watermark: its own poll sets the baseline
        (4, 10): Watermark(NOW - 9000, 250),
    }
    assert also_new_for(ref, audience, marks, young=True) == {1, 4}
    assert also_new_for(ref, audience, marks, young=False) == frozenset()
