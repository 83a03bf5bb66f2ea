"""The engine against the fake iRacing on loopback, the real client, SQLite and an in-memory Discord."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ir2dis_cog.config.settings import Settings
from ir2dis_cog.iracing.client import IRacingClient
from ir2dis_cog.iracing.errors import IRacingError, ParseError
from ir2dis_cog.observability.metrics import Metrics
from ir2dis_cog.store import Store
from tests.fakes.iracing import FakeIRacing, RaceEntry
from tests.poller.conftest import EngineFactory, ManualClock, MemoryPublisher, World, cycle_that_dies

G1, G2, G3 = 111_111_111_111, 222_222_222_222, 333_333_333_333
C1, C2, C3 = 9001, 9002, 9003
A, B, C, D = 401, 402, 403, 404  # cust_ids
LEASE = 300  # the engine's default claim lease


def calls(fake: FakeIRacing, endpoint: str) -> list[str]:
    return [r.query for r in fake.requests if r.kind == "data" and r.path == f"/data/{endpoint}"]


async def world(store: Store, fake: FakeIRacing, clock: ManualClock) -> World:
    w = World(store, fake, clock)
    fake.add_race([A, B, C, D], session_start_time=clock.now() - 5 * 86_400)  # history before tracking
    return w


async def world_tracking_a(store: Store, fake: FakeIRacing, clock: ManualClock) -> World:
    """The common start: server G1 posts to C1 and tracks driver A."""
    w = await world(store, fake, clock)
    await w.server(G1, C1)
    await w.track(G1, A)
    return w


async def test_one_cycle_every_new_race_once_per_server_with_every_tracked_driver(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
) -> None:
    w = await world(sqlite_store, fake, clock)
    await w.server(G1, C1)
    await w.server(G2, C2)
    for cust in (A, B):
        await w.track(G1, cust)
    for cust in (A, C):
        await w.track(G2, cust)
    # A raced twice since the last poll; B and C shared the second race with A; C also in a team race
    first = w.race([A, 900], minutes_ago=120)
    shared = w.race([B, 901, A, C], minutes_ago=50)
    team = w.race([RaceEntry((C, 950), team_name="Team C"), 951], minutes_ago=45)
    fake.requests.clear()

    report = await make_engine(sqlite_store).run_cycle()

    assert report.outcome == "ok"
    assert publisher.posted(C1) == [first, shared]  # chronological, every race, not only the latest
    assert publisher.posted(C2) == [first, shared, team]
    assert {d.cust_id for e in publisher.card(C1, shared).entries for d in e.drivers} == {A, B}
    assert {d.cust_id for e in publisher.card(C2, shared).entries for d in e.drivers} == {A, C}
    # one recent-races call per unique driver, one results/get per new subsession
    assert sorted(calls(fake, "stats/member_recent_races")) == sorted(f"cust_id={c}" for c in (A, B, C))
    assert sorted(calls(fake, "results/get")) == sorted(f"subsession_id={s}" for s in (first, shared, team))
    assert report.counts.posts_published == 5 and report.counts.subsessions_fetched == 3

    # a second cycle finds nothing new and posts nothing
    clock.advance(300)
    again = await make_engine(sqlite_store).run_cycle()
    assert again.counts.posts_published == 0
    assert publisher.all_posts() == sorted([(C1, first), (C1, shared), (C2, first), (C2, shared), (C2, team)])
    assert (await sqlite_store.last_seen.get(G1, A)).last_subsession_id == shared


async def test_a_driver_in_the_results_counts_as_seen_without_being_polled(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
) -> None:
    w = await world(sqlite_store, fake, clock)
    await w.server(G1, C1)
    await w.server(G3, C3)
    await w.track(G1, A)
    await w.track(G1, B)
    await w.track(G3, B)  # server 3 only tracks B
    engine = make_engine(sqlite_store, spare_share=0)  # as if the budget were tight: B waits
    await engine.run_cycle()  # both polled once; nothing new
    # A raced an hour ago, B looks idle for weeks: the next cycle polls only A
    engine._scheduler._active[A] = clock.now() - 3600
    engine._scheduler._active[B] = clock.now() - 30 * 86_400
    clock.advance(300)
    shared = w.race([A, B], minutes_ago=45)
    fake.requests.clear()

    await engine.run_cycle()

    assert calls(fake, "stats/member_recent_races") == [f"cust_id={A}"]
    assert publisher.posted(C1) == [shared]
    assert {d.cust_id for e in publisher.card(C1, shared).entries for d in e.drivers} == {A, B}
    assert publisher.posted(C3) == [shared]  # B's own server got it from A's race too
    # B is now active again, and when B is polled the race is not posted a second time
    clock.advance(300)
    fake.requests.clear()
    report = await engine.run_cycle()
    assert f"cust_id={B}" in calls(fake, "stats/member_recent_races")
    assert calls(fake, "results/get") == []
    assert report.counts.posts_published == 0 and report.counts.dedupe_skips >= 2
    assert publisher.all_posts() == [(C1, shared), (C3, shared)]


async def test_no_backlog_and_nothing_for_a_server_without_channel(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
) -> None:
    w = await world(sqlite_store, fake, clock)
    for minutes in (300, 200, 100):
        w.race([A], minutes_ago=minutes)
    await w.server(G1, C1)
    await w.server(G2)  # no channel set
    await w.track(G1, A)
    await w.track(G2, B)
    await w.track(G2, A)
    engine = make_engine(sqlite_store)
    assert (await engine.run_cycle()).counts.posts_published == 0
    assert publisher.all_posts() == []

    clock.advance(300)
    fresh = w.race([A, B], minutes_ago=40)
    fake.requests.clear()
    await engine.run_cycle()
    assert publisher.all_posts() == [(C1, fresh)]
    # B is tracked only by the server without a channel: never polled
    assert f"cust_id={B}" not in calls(fake, "stats/member_recent_races")


async def test_a_pair_without_watermark_starts_at_the_latest_race(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
) -> None:
    w = await world(sqlite_store, fake, clock)
    old = w.race([A], minutes_ago=100)
    await w.server(G1, C1)
    await sqlite_store.drivers.track(G1, A, "A", None, now=int(clock.now()))  # no watermark written
    engine = make_engine(sqlite_store)
    await engine.run_cycle()
    assert publisher.all_posts() == []
    assert (await sqlite_store.last_seen.get(G1, A)).last_subsession_id == old
    clock.advance(300)
    new = w.race([A], minutes_ago=40)
    await engine.run_cycle()
    assert publisher.all_posts() == [(C1, new)]


@dataclass
class FlakySource:
    """The real client, except for chosen drivers and subsessions that fail."""

    inner: IRacingClient
    bad_drivers: set[int] = field(default_factory=set)
    bad_subsessions: set[int] = field(default_factory=set)

    async def get_recent_races(self, cust_id: int) -> list[Any]:
        if cust_id in self.bad_drivers:
            raise IRacingError("boom for one driver")
        return await self.inner.get_recent_races(cust_id)

    async def get_subsession(self, subsession_id: int) -> Any:
        if subsession_id in self.bad_subsessions:
            raise ParseError("results/get", "broken row")
        return await self.inner.get_subsession(subsession_id)

    @property
    def budget(self) -> Any:
        return self.inner.budget


async def test_one_driver_or_one_subsession_failing_does_not_stop_the_others(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    client: IRacingClient,
    metrics: Metrics,
) -> None:
    w = await world(sqlite_store, fake, clock)
    await w.server(G1, C1)
    for cust in (A, B, C):
        await w.track(G1, cust)
    broken = w.race([A], minutes_ago=90)
    after_broken = w.race([A], minutes_ago=45)
    of_b = w.race([B], minutes_ago=60)
    of_c = w.race([C], minutes_ago=60)
    source = FlakySource(client, bad_drivers={B}, bad_subsessions={broken})
    engine = make_engine(sqlite_store, source=source)

    report = await engine.run_cycle()

    assert report.outcome == "ok" and report.counts.driver_errors == 1 and report.counts.subsession_errors == 1
    assert sorted(publisher.posted(C1)) == sorted([after_broken, of_c])
    assert metrics.poll_errors_total.labels("recent_races")._value.get() == 1
    assert metrics.poll_errors_total.labels("subsession_parse")._value.get() == 1
    # the broken subsession is owed, not passed over: it comes once it reads again, as B's race
    # comes once B answers again
    source.bad_drivers.clear()
    source.bad_subsessions.clear()
    clock.advance(300)
    await engine.run_cycle()
    assert sorted(publisher.posted(C1)) == sorted([after_broken, of_c, of_b, broken])


async def test_an_unavailable_channel_keeps_settings_retries_later_and_spares_others(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    metrics: Metrics,
) -> None:
    w = await world(sqlite_store, fake, clock)
    await w.server(G1, C1)
    await w.server(G2, C2)
    await w.track(G1, A)
    await w.track(G2, A)
    publisher.unavailable[C1] = "missing permission: Send Messages"
    one = w.race([A], minutes_ago=60)
    two = w.race([A], minutes_ago=40)
    engine = make_engine(sqlite_store)

    report = await engine.run_cycle()

    assert publisher.posted(C2) == [one, two]
    assert publisher.posted(C1) == []
    assert report.counts.post_failures == 2
    assert (await sqlite_store.guilds.get(G1)).channel_id == C1  # settings kept
    assert await sqlite_store.posts.pending_count(G1) == 2
    assert "Send Messages" in (await sqlite_store.posts.last_failure(G1) or "")
    assert metrics.post_failures_total.labels("channel_unavailable")._value.get() == 2
    assert engine.status().pending_posts == 2

    # still unavailable next cycle: retried, still kept
    clock.advance(300)
    await engine.run_cycle()
    assert await sqlite_store.posts.pending_count(G1) == 2
    # back: posted once each, in order, with no iRacing call needed
    del publisher.unavailable[C1]
    clock.advance(300)
    fake.requests.clear()
    await engine.run_cycle()
    assert publisher.posted(C1) == [one, two]
    assert calls(fake, "results/get") == []
    assert await sqlite_store.posts.pending_count(G1) == 0
    clock.advance(300)
    await engine.run_cycle()
    assert publisher.posted(C1) == [one, two] and publisher.posted(C2) == [one, two]


async def test_results_older_than_the_post_age_are_dropped_not_flooded(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    caplog: Any,
) -> None:
    w = await world_tracking_a(sqlite_store, fake, clock)
    publisher.unavailable[C1] = "the results channel no longer exists"
    w.race([A], minutes_ago=60)
    engine = make_engine(sqlite_store)
    await engine.run_cycle()
    assert await sqlite_store.posts.pending_count(G1) == 1
    clock.advance(25 * 3600)  # the channel comes back a day later
    del publisher.unavailable[C1]
    fresh = w.race([A], minutes_ago=40)
    caplog.set_level("INFO", logger="red.ir2dis.poller")
    report = await engine.run_cycle()
    assert report.counts.posts_dropped == 1
    assert publisher.posted(C1) == [fresh]
    assert await sqlite_store.posts.pending_count(G1) == 0
    assert sum("dropped a result" in r.getMessage() for r in caplog.records) == 1


async def test_a_stored_card_that_cannot_be_read_is_dropped_once_not_retried_forever(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    caplog: Any,
) -> None:
    w = await world_tracking_a(sqlite_store, fake, clock)
    publisher.unavailable[C1] = "missing permission: Send Messages"
    s = w.race([A], minutes_ago=30)
    engine = make_engine(sqlite_store)
    await engine.run_cycle()
    await sqlite_store.db.execute(
        "UPDATE post_history SET card_json = ? WHERE guild_id = ? AND subsession_id = ?", ('{"v": 999', G1, s)
    )
    del publisher.unavailable[C1]
    clock.advance(600)
    caplog.set_level("INFO", logger="red.ir2dis.poller")
    caplog.clear()
    report = await engine.run_cycle()
    assert report.counts.posts_dropped == 1 and publisher.posted(C1) == []
    record = await sqlite_store.posts.get(G1, s)
    assert record is not None and record.state == "dropped" and record.last_error == "stored card unreadable"
    failed = [r for r in caplog.records if getattr(r, "event", None) == "post_failed"]
    assert [(r.subsession_id, r.reason) for r in failed] == [(s, "stored card unreadable")]
    clock.advance(600)
    assert (await engine.run_cycle()).counts.posts_dropped == 0


async def test_key_events_are_logged_with_their_fields(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    caplog: Any,
) -> None:
    w = await world_tracking_a(sqlite_store, fake, clock)
    first = w.race([A], minutes_ago=30)
    caplog.set_level("INFO", logger="red.ir2dis")
    # the process dies between Discord's answer and the record
    await cycle_that_dies(make_engine(sqlite_store, process="engine-a"), publisher, after_publish=True)
    clock.advance(LEASE + 1)
    second = w.race([A], minutes_ago=5)
    await make_engine(sqlite_store, process="engine-b").run_cycle()

    events = [(r.event, r.__dict__) for r in caplog.records if hasattr(r, "event")]
    skips = [(f["subsession_id"], f["reason"]) for e, f in events if e == "dedupe_skip"]
    assert skips == [(first, "found_in_channel")]
    published = [(f["guild_id"], f["subsession_id"], f["channel_id"]) for e, f in events if e == "post_published"]
    assert published == [(G1, second, C1)]
    cycles = [f for e, f in events if e == "cycle_done"]
    assert len(cycles) == 1 and cycles[0]["posts"] == 1 and cycles[0]["dedupe_skips"] >= 1
    assert cycles[0]["drivers_polled"] == 1 and cycles[0]["requests"] >= 2 and "duration_seconds" in cycles[0]
    assert publisher.posted(C1) == [first, second]


async def test_maintenance_skips_the_cycle_cleanly(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    metrics: Metrics,
) -> None:
    w = await world(sqlite_store, fake, clock)
    await w.server(G1, C1)
    for cust in (A, B, C, D):
        await w.track(G1, cust)
    race = w.race([A, B], minutes_ago=45)
    fake.fault("maintenance", count=50)
    engine = make_engine(sqlite_store)
    report = await engine.run_cycle()
    assert report.outcome == "maintenance"
    assert engine.status().maintenance
    assert publisher.all_posts() == []
    assert metrics.poll_cycles_total.labels("maintenance")._value.get() == 1
    fake.clear_faults()
    clock.advance(300)
    assert (await engine.run_cycle()).outcome == "ok"
    assert publisher.all_posts() == [(C1, race)]
    assert not engine.status().maintenance


async def test_idle_drivers_are_polled_less_often_than_active_ones(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    make_engine: EngineFactory,
) -> None:
    w = World(sqlite_store, fake, clock)
    fake.add_race([A], session_start_time=clock.now() - 3600)  # raced an hour ago
    fake.add_race([B], session_start_time=clock.now() - 20 * 86_400)  # idle for weeks
    await w.server(G1, C1)
    await w.track(G1, A)
    await w.track(G1, B)
    engine = make_engine(sqlite_store, spare_share=0)  # as if the budget were tight
    fake.requests.clear()
    for _ in range(12):  # an hour of cycles
        await engine.run_cycle()
        clock.advance(300)
    polls = calls(fake, "stats/member_recent_races")
    assert polls.count(f"cust_id={A}") == 12
    assert 2 <= polls.count(f"cust_id={B}") <= 3  # at most every MAX_IDLE_POLL_MINUTES (30)
    assert engine.status().drivers_due >= 1


async def test_with_budget_to_spare_a_driver_back_from_a_break_is_posted_next_cycle(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
) -> None:
    w = World(sqlite_store, fake, clock)
    fake.add_race([B], session_start_time=clock.now() - 20 * 86_400)  # idle for weeks
    await w.server(G1, C1)
    await w.track(G1, B)
    engine = make_engine(sqlite_store)
    await engine.run_cycle()
    clock.advance(300)
    back = w.race([B], minutes_ago=3)  # the league race after the break
    fake.requests.clear()
    await engine.run_cycle()
    assert calls(fake, "stats/member_recent_races") == [f"cust_id={B}"]
    assert publisher.posted(C1) == [back]


async def test_a_cycle_larger_than_a_window_stays_within_the_rate_limit(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
) -> None:
    fake.rate_limit = 25  # per 60 s window; 60 drivers need three windows
    w = World(sqlite_store, fake, clock)
    await w.server(G1, C1)
    drivers = list(range(5000, 5060))
    for cust in drivers:
        await w.track(G1, cust)
    for cust in drivers[:10]:
        w.race([cust], minutes_ago=40)
    engine = make_engine(sqlite_store)
    report = await engine.run_cycle()
    assert report.counts.drivers_polled == 60
    assert fake.stats["rate_limited"] == 0
    assert len(publisher.all_posts()) == 10
    # requests were spread: never more than the limit in one window
    per_window: dict[int, int] = {}
    for r in fake.requests:
        if r.kind == "data":
            per_window[int(r.at // 60)] = per_window.get(int(r.at // 60), 0) + 1
    assert max(per_window.values()) <= 25
    assert len(per_window) >= 3


async def test_counters_and_status(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    metrics: Metrics,
) -> None:
    w = await world_tracking_a(sqlite_store, fake, clock)
    await w.track(G1, B)
    w.race([A, B], minutes_ago=45)
    engine = make_engine(sqlite_store)
    await engine.run_cycle()
    clock.advance(300)
    engine._outbox._handled.clear()  # as after a restart: the store must still stop a second post
    w2 = w.race([A], minutes_ago=40)
    await sqlite_store.last_seen.set(G1, A, 1, 1)  # as if the watermark had not been advanced
    await engine.run_cycle()
    assert publisher.posted(C1)[-1] == w2
    text = metrics.exposition().decode()
    assert 'ir2dis_poll_cycles_total{outcome="ok"} 2.0' in text
    assert "ir2dis_posts_published_total 2.0" in text
    assert "ir2dis_results_fetched_total" in text and "ir2dis_results_fetched_total 0.0" not in text
    assert "ir2dis_dedupe_skips_total 1.0" in text
    assert "ir2dis_cycle_duration_seconds_count 2.0" in text
    status = engine.status()
    assert clock.now() - 300 < status.last_cycle_at <= clock.now() and status.last_outcome == "ok"
    assert status.drivers_tracked == 2


async def test_changed_settings_keep_what_the_scheduler_learnt(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    make_engine: EngineFactory,
    settings: Settings,
    client: IRacingClient,
) -> None:
    await world_tracking_a(sqlite_store, fake, clock)
    engine = make_engine(sqlite_store)
    await engine.run_cycle()
    from dataclasses import replace

    engine.replace_source(client, replace(settings, poll_interval_seconds=600))
    assert engine._scheduler.interval == 600
    assert engine._scheduler._polled == {A: clock.now()}
    engine.notice_tracked(A)
    assert engine._scheduler._polled == {}


def daytona_field(tracked_driver: int, cars: int = 60) -> list[RaceEntry]:
    """A Daytona 24 split as it runs: 60 cars in 3 classes, 3 or 4 drivers a car; ours finishes 7th."""
    classes = (4029, 4030, 4031)
    entries = []
    for i in range(cars):
        crew = tuple(70_000 + i * 4 + k for k in range(3 + i % 2))
        if i == 6:
            crew = (tracked_driver, *crew[1:])
        entries.append(
            RaceEntry(
                crew,
                team_name=f"Endurance Team {i + 1}",
                car_class_id=classes[i % 3],
                laps_complete=800 - i,
                car_name="Fake GTP" if i % 3 == 0 else "Fake GT3",
            )
        )
    return entries


DAYTONA_CLASSES = [(4029, "GTP"), (4030, "LMP2"), (4031, "GT3")]


async def test_a_24_hour_team_race_that_just_ended_is_posted_once(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
) -> None:
    w = await world_tracking_a(sqlite_store, fake, clock)
    # started 24 h 55 min ago (gridding included), ended 3 minutes ago, results out now
    daytona = w.race(
        daytona_field(A),
        minutes_ago=24 * 60 + 55,
        race_minutes=24 * 60 + 52,
        laps=800,
        series_name="Daytona 24",
        car_classes=DAYTONA_CLASSES,
    )
    engine = make_engine(sqlite_store)

    report = await engine.run_cycle()

    assert publisher.posted(C1) == [daytona] and report.counts.races_too_old == 0
    [entry] = publisher.card(C1, daytona).entries
    assert entry.team is not None and entry.team.name == "Endurance Team 7"
    assert [d.cust_id for d in entry.drivers] == [A]
    mark = await sqlite_store.last_seen.get(G1, A)
    assert mark is not None and mark.last_subsession_id == daytona
    assert mark.last_finish_at == int(clock.now()) - 3 * 60  # when it finished, not when it started
    clock.advance(300)
    assert (await engine.run_cycle()).counts.posts_published == 0 and publisher.posted(C1) == [daytona]


async def test_a_race_that_ended_too_long_ago_is_reported_once_counted_and_shown(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    metrics: Metrics,
    caplog: Any,
) -> None:
    w = await world_tracking_a(sqlite_store, fake, clock)
    # a 40-minute race that ended 25 hours ago, published only now (a long maintenance)
    late = w.race([A, 950], minutes_ago=25 * 60 + 40, race_minutes=40)
    fresh = w.race([A, 951], minutes_ago=40)
    caplog.set_level("INFO", logger="red.ir2dis.poller")
    engine = make_engine(sqlite_store)

    report = await engine.run_cycle()

    assert publisher.posted(C1) == [fresh] and report.counts.races_too_old == 1
    events = [r for r in caplog.records if getattr(r, "event", None) == "race_too_old"]
    assert [(r.guild_id, r.subsession_id) for r in events] == [(G1, late)]
    assert "ended 25 h ago" in events[0].reason
    assert metrics.races_too_old_total._value.get() == 1
    record = await sqlite_store.posts.get(G1, late)
    assert record is not None and record.state == "dropped"
    assert await sqlite_store.posts.dropped_count(G1, since=int(clock.now()) - 7 * 86_400) == 1
    # never again, also not from a new process on the same database
    clock.advance(300)
    caplog.clear()
    assert (await make_engine(sqlite_store, process="engine-b").run_cycle()).counts.races_too_old == 0
    assert not [r for r in caplog.records if getattr(r, "event", None) == "race_too_old"]


async def test_a_race_that_surely_ended_too_long_ago_is_reported_without_fetching_it(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
) -> None:
    w = await world_tracking_a(sqlite_store, fake, clock)
    ancient = w.race([A], minutes_ago=3 * 24 * 60)  # started three days ago: ended two days ago at least
    fake.requests.clear()
    report = await make_engine(sqlite_store).run_cycle()
    assert report.counts.races_too_old == 1 and publisher.posted(C1) == []
    assert calls(fake, "results/get") == []
    assert (await sqlite_store.last_seen.get(G1, A)).last_subsession_id == ancient


async def test_a_sprint_raced_during_the_teams_24_hour_race_does_not_hide_it(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
) -> None:
    w = await world_tracking_a(sqlite_store, fake, clock)
    clock.advance(600)
    engine = make_engine(sqlite_store)
    # the team race starts; later A does a 30-minute sprint while the teammates drive
    start = clock.now()
    daytona_id = fake._next_subsession
    fake._next_subsession += 1
    clock.advance(3 * 3600)
    sprint = w.race([A, 960], minutes_ago=30)
    await engine.run_cycle()
    assert publisher.posted(C1) == [sprint]
    clock.advance(21 * 3600 + 55 * 60)
    daytona = fake.add_race(
        daytona_field(A),
        session_start_time=start,
        race_minutes=24 * 60 + 52,
        subsession_id=daytona_id,
        car_classes=DAYTONA_CLASSES,
        laps=800,
    )
    clock.advance(300)
    await engine.run_cycle()
    assert publisher.posted(C1) == [sprint, daytona]
    clock.advance(300)
    fresh_engine = make_engine(sqlite_store, process="engine-b")  # nothing remembered in memory
    await fresh_engine.run_cycle()
    assert publisher.posted(C1) == [sprint, daytona]


async def test_a_waiting_post_is_dropped_by_the_age_of_the_races_end(
    sqlite_store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
) -> None:
    w = await world_tracking_a(sqlite_store, fake, clock)
    publisher.unavailable[C1] = "missing permission: Send Messages"
    daytona = w.race(
        daytona_field(A), minutes_ago=24 * 60 + 55, race_minutes=24 * 60 + 52, car_classes=DAYTONA_CLASSES, laps=800
    )
    engine = make_engine(sqlite_store)
    await engine.run_cycle()
    clock.advance(23 * 3600)  # started 48 h ago, ended 23 h ago: still worth posting
    del publisher.unavailable[C1]
    report = await engine.run_cycle()
    assert report.counts.posts_dropped == 0 and publisher.posted(C1) == [daytona]
