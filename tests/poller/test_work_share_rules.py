"""The pure rules of work sharing: who owns a driver, how little moves, who is alive."""

from __future__ import annotations

from ir2dis_cog.poller.work_share import (
    WATCHER_KEY,
    heartbeat_period,
    lease_ttl,
    live_rows,
    owner_of,
    share_of,
    weight,
)
from ir2dis_cog.store.work_lease import LeaseRow

DRIVERS = range(100_001, 110_001)  # 10,000 drivers
WEIGHT_A_1 = 14809425904682091265


def test_the_shares_of_the_live_processes_partition_the_drivers_about_evenly() -> None:
    processes = ["a:1", "b:2", "c:3"]
    shares = [share_of(DRIVERS, p, processes) for p in processes]
    assert sum(len(s) for s in shares) == len(DRIVERS)
    assert frozenset().union(*shares) == frozenset(DRIVERS)
    assert all(3000 < len(s) < 3700 for s in shares), [len(s) for s in shares]


def test_a_process_leaving_moves_only_its_own_drivers() -> None:
    before = {p: share_of(DRIVERS, p, ["a", "b", "c"]) for p in "abc"}
    after = {p: share_of(DRIVERS, p, ["a", "b"]) for p in "ab"}
    for p in "ab":
        assert before[p] <= after[p]  # nobody's driver moves but the dead one's
    assert after["a"] | after["b"] == frozenset(DRIVERS)
    assert (after["a"] - before["a"]) | (after["b"] - before["b"]) == before["c"]


def test_a_process_alone_or_unseen_by_itself_polls_everything_of_its_share() -> None:
    assert share_of([1, 2, 3], "a", []) == frozenset({1, 2, 3})
    # A process not yet in its own view (its first beat failed) still counts itself.
    assert share_of(DRIVERS, "a", ["b"]) == share_of(DRIVERS, "a", ["a", "b"])


def test_weights_are_stable_across_processes_and_runs() -> None:
    # Not Python's salted hash: a fixed value, the same in every process.
    assert weight("a", "1") == WEIGHT_A_1
    assert owner_of(WATCHER_KEY, ["x", "y", "z"]) == owner_of(WATCHER_KEY, ["z", "y", "x"])


def test_a_process_silent_for_longer_than_the_ttl_is_dead() -> None:
    rows = [LeaseRow("a", None, 0, 1000), LeaseRow("b", None, 0, 910), LeaseRow("c", None, 0, 909)]
    assert [r.process_id for r in live_rows(rows, 1000, 90)] == ["a", "b"]


def test_the_heartbeat_is_several_times_a_poll_interval_and_takeover_fits_in_two() -> None:
    assert heartbeat_period(300) == 30
    assert heartbeat_period(60) == 12
    assert heartbeat_period(30) == 6  # the shortest interval the settings allow
    for interval in (30, 60, 300, 3600):
        assert lease_ttl(interval) + interval < 2 * interval
