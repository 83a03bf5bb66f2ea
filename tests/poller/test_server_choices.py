"""A server's choices in the engine, over real HTTP to the fake iRacing and on every backend:
a min-SOF filter keeps a race out (decided once, never fetched again), a category's channel gets its
races, a podium also goes to the podium channel once (across a crash between publish and record),
and a podium pings exactly the confirmed linked member."""

from __future__ import annotations

from ir2dis_cog.core.filters import Filters
from ir2dis_cog.core.routing import Mentions
from ir2dis_cog.observability.metrics import Metrics
from ir2dis_cog.store import Store
from tests.fakes.iracing import FakeIRacing
from tests.poller.conftest import EngineFactory, ManualClock, MemoryPublisher, World, cycle_that_dies

G = 111_111_111_111
RESULTS, PODIUM, SPORTS = 9001, 9002, 9003
A, B = 401, 402
MEMBER = 5_000_001
LEASE = 300


async def _world(store: Store, fake: FakeIRacing, clock: ManualClock) -> World:
    w = World(store, fake, clock)
    fake.add_member(A, "Alice Apex", irating=3000)
    fake.add_member(B, "Bruno Brake", irating=1000)
    fake.add_race([A, B], session_start_time=clock.now() - 3 * 3600)
    await w.server(G, RESULTS)
    await w.track(G, A)
    await w.track(G, B)
    return w


def _fetches(fake: FakeIRacing, subsession_id: int) -> int:
    return sum(1 for r in fake.requests if r.path.endswith("/results/get") and str(subsession_id) in r.query)


async def test_a_min_sof_filter_keeps_a_race_out_once_and_it_is_not_fetched_again(
    store: Store, fake: FakeIRacing, clock: ManualClock, publisher: MemoryPublisher, make_engine: EngineFactory
) -> None:
    w = await _world(store, fake, clock)
    await store.choices.set_filters(G, Filters(min_sof=5000), now=int(clock.now()))
    metrics = Metrics()
    engine = make_engine(store, metrics_=metrics)
    weak = w.race([A, B], minutes_ago=40)
    await engine.run_cycle()
    assert publisher.all_posts() == []
    record = await store.posts.get(G, weak)
    assert record is not None and record.state == "dropped" and record.last_error is not None
    assert record.last_error.startswith("filtered out: SOF")
    assert metrics.races_filtered_total.labels("sof")._value.get() == 1
    fetched = _fetches(fake, weak)
    clock.advance(600)
    await engine.run_cycle()
    await make_engine(store, process="engine-b").run_cycle()  # another process, without this one's memory
    assert publisher.all_posts() == [] and _fetches(fake, weak) == fetched
    assert metrics.races_filtered_total.labels("sof")._value.get() == 1

    await store.choices.set_filters(G, Filters(), now=int(clock.now()))
    later = w.race([A, B], minutes_ago=35)
    clock.advance(600)
    await engine.run_cycle()
    assert publisher.all_posts() == [(RESULTS, later)]


async def test_a_podium_goes_to_its_category_channel_and_the_podium_channel_once_each(
    store: Store, fake: FakeIRacing, clock: ManualClock, publisher: MemoryPublisher, make_engine: EngineFactory
) -> None:
    w = await _world(store, fake, clock)
    now = int(clock.now())
    await store.choices.set_category_channels(G, {"sports_car": SPORTS}, now=now)
    await store.choices.set(G, now=now, podium_channel=PODIUM)
    podium = w.race([A, B], minutes_ago=40)  # Alice wins, Bruno second: one card, a podium
    off_podium = w.race([9101, 9102, 9103, B], minutes_ago=38)
    await cycle_that_dies(make_engine(store, process="before-crash"), publisher, after_publish=True)
    clock.advance(LEASE + 1)
    restarted = make_engine(store, process="after-restart")
    await restarted.resolve_unfinished()
    await restarted.run_cycle()
    clock.advance(600)
    await restarted.run_cycle()
    assert publisher.all_posts() == sorted([(SPORTS, podium), (SPORTS, off_podium), (PODIUM, podium)])
    assert await store.copies.state(G, podium, PODIUM) == "posted"
    assert await store.copies.state(G, off_podium, PODIUM) is None
    rows = await store.digest.rows(G, since=0, until=2**40)
    assert {(r.subsession_id, r.cust_id) for r in rows} == {(podium, A), (podium, B), (off_podium, B)}


async def test_a_podium_pings_exactly_the_confirmed_linked_member(
    store: Store, fake: FakeIRacing, clock: ManualClock, publisher: MemoryPublisher, make_engine: EngineFactory
) -> None:
    w = await _world(store, fake, clock)
    now = int(clock.now())
    await store.choices.set(G, now=now, ping_members=1)
    await store.links.link(G, A, MEMBER, now=now)
    await store.links.link(G, B, MEMBER + 1, now=now)
    await store.links.confirm(G, MEMBER)  # Bruno's member is not confirmed: never pinged
    race = w.race([9101, 9102, A, B], minutes_ago=40)  # Alice third: a podium
    await make_engine(store).run_cycle()
    assert publisher.all_posts() == [(RESULTS, race)]
    assert publisher.pinged == {(RESULTS, race): Mentions((MEMBER,), ())}


async def test_a_restart_of_the_same_instance_settles_its_dead_copies_at_once(
    store: Store, fake: FakeIRacing, clock: ManualClock, publisher: MemoryPublisher, make_engine: EngineFactory
) -> None:
    w = await _world(store, fake, clock)
    await store.choices.set(G, now=int(clock.now()), podium_channel=PODIUM)
    podium = w.race([A, B], minutes_ago=40)
    # The copy is claimed first, then the main post reaches Discord and the process dies.
    await cycle_that_dies(make_engine(store, process="first-life", instance="inst1"), publisher, after_publish=True)
    assert publisher.all_posts() == [(RESULTS, podium)]
    assert await store.copies.state(G, podium, PODIUM) == "pending"
    # Another instance on the database respects the dead claim's lease...
    await make_engine(store, process="p", instance="inst2").resolve_unfinished()
    assert publisher.all_posts() == [(RESULTS, podium)]
    # ...the same instance, restarted, settles the copy now (no wait for the lease), and only once.
    restarted = make_engine(store, process="second-life", instance="inst1")
    await restarted.resolve_unfinished()
    assert publisher.all_posts() == sorted([(RESULTS, podium), (PODIUM, podium)])
    assert await store.copies.state(G, podium, PODIUM) == "posted"
    await restarted.run_cycle()
    assert publisher.all_posts() == sorted([(RESULTS, podium), (PODIUM, podium)])
