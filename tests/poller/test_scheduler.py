"""Who is due, how the budget caps a cycle, and how the pacer spaces requests."""

from __future__ import annotations

import asyncio
import itertools
import math

from ir2dis_cog.iracing.ratelimit import RateBudget
from ir2dis_cog.poller.scheduler import (
    BULK,
    DAY,
    URGENT,
    DriverTiming,
    Pacer,
    Scheduler,
    cycle_capacity,
    overdue,
    pacing_delay,
    pick_due,
    poll_period,
)
from tests.poller.conftest import ManualClock

INTERVAL, MAX_IDLE = 300.0, 1800.0
NOW = 1_770_000_000.0


def test_recent_racers_every_cycle_idle_ones_less_often_up_to_the_cap() -> None:
    assert poll_period(600, INTERVAL, MAX_IDLE) == INTERVAL
    assert poll_period(DAY, INTERVAL, MAX_IDLE) == INTERVAL
    assert poll_period(1.5 * DAY, INTERVAL, MAX_IDLE) == 2 * INTERVAL
    assert poll_period(3.2 * DAY, INTERVAL, MAX_IDLE) == 4 * INTERVAL
    assert poll_period(40 * DAY, INTERVAL, MAX_IDLE) == MAX_IDLE
    assert poll_period(None, INTERVAL, MAX_IDLE) == MAX_IDLE
    # a cap below the interval cannot make polls more frequent than the cycle
    assert poll_period(40 * DAY, INTERVAL, 60) == INTERVAL


def test_due_follows_the_period() -> None:
    active = DriverTiming(last_polled=NOW - INTERVAL, last_active=NOW - 3600)
    idle = DriverTiming(last_polled=NOW - INTERVAL, last_active=NOW - 10 * DAY)
    assert overdue(active, NOW, INTERVAL, MAX_IDLE) >= 1
    assert overdue(idle, NOW, INTERVAL, MAX_IDLE) < 1
    assert overdue(DriverTiming(NOW - MAX_IDLE, NOW - 10 * DAY), NOW, INTERVAL, MAX_IDLE) >= 1
    assert overdue(DriverTiming(), NOW, INTERVAL, MAX_IDLE) == math.inf


def test_pick_due_most_overdue_first_within_capacity() -> None:
    timings = {
        1: DriverTiming(NOW - INTERVAL, NOW - 600),  # due (ratio 1.5)
        2: DriverTiming(NOW - 3 * INTERVAL, NOW - 600),  # more overdue
        3: DriverTiming(NOW - 60, NOW - 600),  # just polled
        4: DriverTiming(None, None),  # never polled
    }
    due, left = pick_due(timings, NOW, INTERVAL, MAX_IDLE, capacity=2)
    assert due == [4, 2] and left == 1
    due, left = pick_due(timings, NOW, INTERVAL, MAX_IDLE, capacity=10)
    assert due == [4, 2, 1] and left == 0


def test_nobody_starves_when_the_budget_is_short() -> None:
    sched = Scheduler(interval=INTERVAL, max_idle=MAX_IDLE, window=60)
    drivers = range(1, 101)
    activity = {c: int(NOW - 3600) for c in drivers}
    now = NOW
    polled_at: dict[int, list[float]] = {c: [] for c in drivers}
    for _ in range(12):
        picked = sched.due_now(drivers, now, activity, limit=4)  # 4/min: room for 17 polls a cycle
        assert picked.capacity < 100
        for c in picked.due:
            sched.polled(c, now)
            polled_at[c].append(now)
        now += INTERVAL
    # everyone got polled, and nobody waited much longer than the others
    counts = [len(v) for v in polled_at.values()]
    assert min(counts) >= 1
    assert max(counts) - min(counts) <= 1


def test_capacity_keeps_room_for_results_and_follows_the_limit() -> None:
    # 240/min over a 5 minute interval at 90 %: 1080 requests
    assert cycle_capacity(240, 300, 60, 0.9, 0) == 1080 - 54
    assert cycle_capacity(240, 300, 60, 0.9, 100) == 1080 - 150
    assert cycle_capacity(None, 300, 60, 0.9, 0) == cycle_capacity(240, 300, 60, 0.9, 0)
    assert cycle_capacity(1, 1, 60, 0.9, 0) == 1


def test_seen_in_a_race_makes_a_driver_active() -> None:
    sched = Scheduler(interval=INTERVAL, max_idle=MAX_IDLE, spare_share=0)  # a budget always tight
    sched.due_now([5], NOW, {5: int(NOW - 20 * DAY)}, 240)
    sched.polled(5, NOW)
    assert sched.due_now([5], NOW + INTERVAL, {}, 240).due == ()
    sched.saw_race(5, NOW)
    assert sched.due_now([5], NOW + INTERVAL, {}, 240).due == (5,)
    sched.forget_poll(5)
    assert sched.due_now([5], NOW + 1, {}, 240).due == (5,)


def test_with_budget_to_spare_idle_drivers_are_polled_every_cycle_too() -> None:
    # 240 requests a minute: about 1,000 polls fit in a 5-minute cycle, half of that is spare.
    idle_for_weeks = {c: int(NOW - 20 * DAY) for c in range(1, 501)}
    few = Scheduler(interval=INTERVAL, max_idle=MAX_IDLE)
    few.due_now(idle_for_weeks, NOW, idle_for_weeks, 240)
    for c in idle_for_weeks:
        few.polled(c, NOW)
    assert len(few.due_now(idle_for_weeks, NOW + INTERVAL, {}, 240).due) == 500
    # Twice as many: the budget is tight, so idle drivers wait their longer period.
    many_drivers = {c: int(NOW - 20 * DAY) for c in range(1, 1001)}
    many = Scheduler(interval=INTERVAL, max_idle=MAX_IDLE)
    many.due_now(many_drivers, NOW, many_drivers, 240)
    for c in many_drivers:
        many.polled(c, NOW)
    assert many.due_now(many_drivers, NOW + INTERVAL, {}, 240).due == ()


def test_pacing_spreads_requests_over_what_is_left_of_the_window() -> None:
    common = {"blocked_until": 0.0, "window": 60.0, "reserve": 0, "margin": 1.0}
    budget = RateBudget(240, 240, NOW + 60)
    assert pacing_delay(budget, NOW, in_flight=0, last_start=None, **common) == 0
    assert math.isclose(pacing_delay(budget, NOW, in_flight=0, last_start=NOW, **common), 0.25)
    # in-flight requests count as spent
    assert pacing_delay(RateBudget(240, 4, NOW + 60), NOW, in_flight=4, last_start=NOW, **common) == 61
    # spent budget: wait for the reset plus the margin
    assert pacing_delay(RateBudget(240, 0, NOW + 10), NOW, in_flight=0, last_start=None, **common) == 11
    # a window that has rolled over is full again
    assert math.isclose(pacing_delay(RateBudget(240, 0, NOW - 1), NOW, in_flight=0, last_start=NOW, **common), 0.25)
    # nothing known: go
    assert pacing_delay(RateBudget(None, None, None), NOW, in_flight=0, last_start=NOW, **common) == 0
    # after a 429: nothing before the block ends
    assert pacing_delay(budget, NOW, in_flight=0, last_start=None, **{**common, "blocked_until": NOW + 5}) == 5


async def test_pacer_keeps_a_window_within_its_limit() -> None:
    clock = ManualClock(NOW)
    sent: list[float] = []
    state = {"budget": RateBudget(None, None, None)}
    limit, window = 20, 60.0

    def answer() -> None:
        # what the server would announce: a fixed window of `limit` requests
        index = math.floor(clock.now() / window)
        in_window = sum(1 for t in sent if math.floor(t / window) == index)
        state["budget"] = RateBudget(limit, limit - in_window, (index + 1) * window)

    pacer = Pacer(lambda: state["budget"], clock, window=window, reserve=2, margin=0.5)
    for _ in range(100):
        async with pacer.slot():
            sent.append(clock.now())
            answer()
    per_window: dict[int, int] = {}
    for t in sent:
        per_window[math.floor(t / window)] = per_window.get(math.floor(t / window), 0) + 1
    assert max(per_window.values()) <= limit
    # spread: no two requests in a window closer than a third of the even spacing
    gaps = [b - a for a, b in itertools.pairwise(sent[1:])]
    assert min(gaps) > window / limit / 3
    assert pacer.requests == 100


async def test_urgent_requests_pass_the_queued_bulk_ones_and_nothing_is_lost() -> None:
    """The live watcher's request waits for the one in front, not for the per-driver polls queued
    before it; among equals the order of arrival holds, and a waiter cancelled in the queue
    leaves the gate to the others."""
    clock = ManualClock(NOW)
    limit, window = 12, 60.0  # 5 s between requests
    state = {"budget": RateBudget(limit, limit, NOW + window)}
    pacer = Pacer(lambda: state["budget"], clock, window=window, reserve=0, margin=0.0)
    order: list[str] = []

    async def request(name: str, rank: int) -> None:
        async with pacer.slot(rank):
            order.append(name)
            remaining = state["budget"].remaining or 0
            state["budget"] = RateBudget(limit, remaining - 1, NOW + window)

    bulk = [asyncio.create_task(request(f"poll{i}", BULK)) for i in range(5)]
    dropped = asyncio.create_task(request("dropped", BULK))
    urgent = asyncio.create_task(request("live", URGENT))
    # poll0 goes at once; poll1 takes the gate for its 5 s wait; the rest queue, "live" first.
    await asyncio.sleep(0)
    dropped.cancel()
    await asyncio.gather(*bulk, urgent, dropped, return_exceptions=True)
    assert order == ["poll0", "poll1", "live", "poll2", "poll3", "poll4"]
    assert pacer.requests == 6
