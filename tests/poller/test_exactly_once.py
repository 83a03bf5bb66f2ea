"""Exactly once on every backend: two engines on one database, and crashes between publish and record."""

from __future__ import annotations

import asyncio

from ir2dis_cog.store import Store
from tests.fakes.iracing import FakeIRacing
from tests.poller.conftest import EngineFactory, ManualClock, MemoryPublisher, World, cycle_that_dies

G1, G2 = 111_111_111_111, 222_222_222_222
C1, C2 = 9001, 9002
A, B, C = 401, 402, 403
LEASE = 300


async def seed(store: Store, fake: FakeIRacing, clock: ManualClock) -> tuple[World, list[int]]:
    w = World(store, fake, clock)
    fake.add_race([A, B, C], session_start_time=clock.now() - 3 * 3600)
    await w.server(G1, C1)
    await w.server(G2, C2)
    for g, cust in ((G1, A), (G1, B), (G2, B), (G2, C)):
        await w.track(g, cust)
    races = [w.race([A], minutes_ago=100), w.race([A, B, C], minutes_ago=60), w.race([C], minutes_ago=40)]
    return w, races


def expected(races: list[int]) -> list[tuple[int, int]]:
    first, shared, last = races
    return sorted([(C1, first), (C1, shared), (C2, shared), (C2, last)])


async def test_two_engines_running_the_same_cycle_post_each_race_once(
    stores: tuple[Store, Store],
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
) -> None:
    one, two = stores
    _, races = await seed(one, fake, clock)
    first = make_engine(one, process="process-1")
    second = make_engine(two, process="process-2")

    reports = await asyncio.gather(first.run_cycle(), second.run_cycle())

    assert publisher.all_posts() == expected(races)
    assert sum(r.counts.posts_published for r in reports) == 4
    clock.advance(300)
    await asyncio.gather(first.run_cycle(), second.run_cycle())
    assert publisher.all_posts() == expected(races)
    for g, s in [(G1, races[0]), (G1, races[1]), (G2, races[1]), (G2, races[2])]:
        record = await one.posts.get(g, s)
        assert record is not None and record.state == "posted" and record.message_id is not None


async def test_a_crash_between_publish_and_record_is_resolved_without_a_second_message(
    stores: tuple[Store, Store],
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
) -> None:
    one, two = stores
    _, races = await seed(one, fake, clock)
    await cycle_that_dies(make_engine(one, process="before-crash"), publisher, after_publish=True)
    in_discord = publisher.all_posts()
    assert len(in_discord) >= 1
    crashed = [(ch, s) for ch, s in in_discord]

    # the restarted process: another connection, another owner id, once the lease has run out
    clock.advance(LEASE + 1)
    restarted = make_engine(two, process="after-restart")
    await restarted.resolve_unfinished()
    after = publisher.all_posts()
    assert len(after) == len(set(after))  # nothing twice
    assert set(in_discord) <= set(after)  # found in the channel, not sent again
    assert publisher.finds >= 1
    for channel, s in crashed:
        g = G1 if channel == C1 else G2
        record = await two.posts.get(g, s)
        assert record is not None and record.state == "posted"
        assert record.message_id == next(m for m, c in publisher.messages[channel] if c.subsession_id == s)

    await restarted.run_cycle()
    clock.advance(300)
    await restarted.run_cycle()
    assert publisher.all_posts() == expected(races)


async def test_a_crash_after_claim_before_publish_is_published_once(
    stores: tuple[Store, Store],
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
) -> None:
    one, two = stores
    _, races = await seed(one, fake, clock)
    await cycle_that_dies(make_engine(one, process="before-crash"), publisher, after_publish=False)
    assert publisher.all_posts() == []

    # a second process cycling while the dead claim's lease still runs does not post it twice
    other = make_engine(two, process="other-process")
    await other.run_cycle()
    clock.advance(LEASE + 1)
    await other.resolve_unfinished()
    await other.run_cycle()
    assert publisher.all_posts() == expected(races)


async def test_a_restart_of_the_same_instance_settles_its_dead_claims_at_once(
    stores: tuple[Store, Store],
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
) -> None:
    one, two = stores
    _, races = await seed(one, fake, clock)
    # killed between Discord's answer and the record
    await cycle_that_dies(make_engine(one, process="first-life", instance="inst1"), publisher, after_publish=True)
    in_discord = publisher.all_posts()
    assert len(in_discord) >= 1

    # Another instance on the same database must still respect the dead claim's lease...
    neighbour = make_engine(two, process="p", instance="inst2")
    assert await neighbour.resolve_unfinished() == 0
    assert publisher.all_posts() == in_discord

    # ...but the same instance, restarted, settles its claims now: what reached the channel is found
    # there and not sent again; what was claimed but never sent is sent once.
    restarted = make_engine(two, process="second-life", instance="inst1")
    assert await restarted.resolve_unfinished() >= len(in_discord)
    after = publisher.all_posts()
    assert len(after) == len(set(after)) and set(in_discord) <= set(after)
    await restarted.run_cycle()
    assert publisher.all_posts() == expected(races)
    for channel, s in in_discord:
        record = await two.posts.get(G1 if channel == C1 else G2, s)
        assert record is not None and record.state == "posted"
