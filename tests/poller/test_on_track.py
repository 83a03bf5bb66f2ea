"""On track now through the live watcher's hook, against the fake iRacing's live list (real client,
every backend): a tracked driver's race going live gets one short notice in the servers that chose
a channel, at most once per (server, race) across a restart and a second process; it pings the
confirmed linked member only when pings are on; filters and bad channels are respected; the
series and track come from one schedule request per season (none when nobody gets a notice, a
notice without them when the schedule fails); the result card follows as usual."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ir2dis_cog.core.filters import Filters
from ir2dis_cog.core.routing import Mentions
from ir2dis_cog.observability.metrics import Metrics
from ir2dis_cog.poller.live_watcher import LiveWatcher
from ir2dis_cog.poller.on_track import OnTrackNotices, notice_marker
from ir2dis_cog.poller.ports import ChannelUnavailableError
from ir2dis_cog.poller.schedules import SeasonSchedules
from ir2dis_cog.store import Store
from tests.fakes.iracing import FakeIRacing
from tests.poller.conftest import EngineFactory, ManualClock, MemoryPublisher, World

G1, G2, G3 = 111_111_111_111, 222_222_222_222, 333_333_333_333
C1, C2, C3 = 9001, 9002, 9003  # results channels
L1, L3 = 9101, 9103  # on-track channels
A, B = 401, 402
MEMBER = 5_000_001


@dataclass
class Notices:
    """Discord for notices: channel -> (title, lines, marker, mentions)."""

    sent: list[tuple[int, str, list[str], str, Any]] = field(default_factory=list)
    unavailable: set[int] = field(default_factory=set)

    async def publish_notice(
        self, channel_id: int, title: str, lines: list[str], marker: str, mentions: Any = None
    ) -> int:
        if channel_id in self.unavailable:
            raise ChannelUnavailableError("missing permission: Send Messages")
        self.sent.append((channel_id, title, lines, marker, mentions))
        return 70_000 + len(self.sent)


async def world(store: Store, fake: FakeIRacing, clock: ManualClock) -> World:
    w = World(store, fake, clock)
    fake.add_member(A, "Alice Apex", irating=2600)
    fake.add_member(B, "Bruno Brake", irating=2400)
    fake.add_race([A, B], session_start_time=clock.now() - 5 * 86_400)  # history before tracking
    for g, c in ((G1, C1), (G2, C2), (G3, C3)):
        await w.server(g, c)
        await w.track(g, A)
    await w.track(G2, B)
    now = int(clock.now())
    await store.choices.set(G1, now=now, live_channel=L1, ping_members=1)
    await store.links.link(G1, A, MEMBER, now=now)
    await store.links.confirm(G1, MEMBER)
    await store.links.link(G3, A, MEMBER + 3, now=now)  # G3 never turned pings on: no mention there
    await store.choices.set(G3, now=now, live_channel=L3)
    # G2 has no on-track channel: it hears of the race when its card comes, as before.
    fake.add_race(list(range(700, 720)), session_start_time=clock.now() - 60, race_minutes=600)
    return w


def watcher_with_notices(
    make_engine: EngineFactory, store: Store, clock: ManualClock, notices: Notices, process: str
) -> tuple[Any, LiveWatcher, OnTrackNotices]:
    engine = make_engine(store, process=process)
    metrics = Metrics()
    schedules = SeasonSchedules(engine, metrics, clock)
    hook = OnTrackNotices(
        store, notices, metrics, clock, owner=f"inst:{process}", safe=lambda t: t, schedules=schedules
    )
    return engine, LiveWatcher(engine, Metrics(), clock, poll_seconds=60, on_track=hook.on_roster), hook


async def test_a_live_race_gets_one_notice_per_chosen_server_across_a_restart_and_a_second_process(
    store: Store, fake: FakeIRacing, clock: ManualClock, publisher: MemoryPublisher, make_engine: EngineFactory
) -> None:
    await world(store, fake, clock)
    notices = Notices()
    engine, watcher, hook = watcher_with_notices(make_engine, store, clock, notices, "first")
    await engine.run_cycle()
    await watcher.tick()
    sid = fake.add_race([900, A, B, 901], session_start_time=clock.now() - 300, race_minutes=20, results_delay=120)
    clock.advance(60)
    await watcher.tick()
    await hook.wait()

    by_channel = {n[0]: n for n in notices.sent}
    assert sorted(by_channel) == [L1, L3] and len(notices.sent) == 2
    _, title, lines, marker, mentions = by_channel[L1]
    assert title == "On track now: Alice Apex" and marker == notice_marker(sid)
    assert lines[0].startswith("Fake Mazda Cup at Fake Raceway Park · Grand Prix, started <t:")
    assert lines[1].startswith("Split 1 of 1, SOF about ")
    assert mentions == Mentions((MEMBER,))  # pings on in G1: its confirmed member, nobody else
    assert by_channel[L3][4] is None  # pings off in G3: no mention at all
    assert await store.live_notices.state(G1, sid) == "posted"
    assert await store.live_notices.state(G2, sid) is None

    # A restart (the watcher's memory gone) and a second process both see the race live: no more.
    for process in ("restarted", "second"):
        _, other, other_hook = watcher_with_notices(make_engine, store, clock, notices, process)
        await other.tick()
        await other_hook.wait()
    assert len(notices.sent) == 2

    # The result card follows as usual, in the results channels.
    clock.advance(20 * 60)
    for _ in range(8):
        await watcher.tick()
        clock.advance(60)
    await engine.run_cycle()
    assert publisher.all_posts() == sorted([(C1, sid), (C2, sid), (C3, sid)])
    assert len(notices.sent) == 2


async def test_filters_and_an_unavailable_channel_keep_the_notice_out_once(
    store: Store, fake: FakeIRacing, clock: ManualClock, make_engine: EngineFactory
) -> None:
    await world(store, fake, clock)
    now = int(clock.now())
    await store.choices.set_filters(G3, Filters(min_sof=9000), now=now)  # G3 wants strong fields only
    notices = Notices(unavailable={L1})
    engine, watcher, hook = watcher_with_notices(make_engine, store, clock, notices, "first")
    await engine.run_cycle()
    await watcher.tick()
    sid = fake.add_race([A, 900, 901], session_start_time=clock.now() - 120, race_minutes=20)
    clock.advance(60)
    await watcher.tick()
    await hook.wait()
    assert notices.sent == []
    assert await store.live_notices.state(G1, sid) == "failed"  # not retried: news of the moment
    assert await store.live_notices.state(G3, sid) is None  # filtered: nothing claimed
    notices.unavailable.clear()
    _, again, again_hook = watcher_with_notices(make_engine, store, clock, notices, "restarted")
    await again.tick()
    await again_hook.wait()
    assert notices.sent == []


def schedule_requests(fake: FakeIRacing) -> list[str]:
    return [r.query for r in fake.requests if r.path == "/data/series/season_schedule"]


async def test_two_races_of_one_season_cost_one_schedule_request_and_series_filters_apply(
    store: Store, fake: FakeIRacing, clock: ManualClock, make_engine: EngineFactory
) -> None:
    await world(store, fake, clock)
    now = int(clock.now())
    await store.choices.set_filters(G3, Filters(series_out=frozenset({139})), now=now)  # G3: no Mazda
    notices = Notices()
    engine, watcher, hook = watcher_with_notices(make_engine, store, clock, notices, "first")
    await engine.run_cycle()
    await watcher.tick()
    await hook.wait()
    assert schedule_requests(fake) == []  # the long race at start-up has no tracked driver on it
    start = clock.now() - 120
    first = fake.add_race([A, 900], session_start_time=start, race_minutes=20, season_id=6100, track_name="Spa")
    second = fake.add_race([A, 901], session_start_time=start, race_minutes=20, season_id=6100)  # its other split
    clock.advance(60)
    await watcher.tick()
    await hook.wait()

    assert schedule_requests(fake) == ["season_id=6100"]  # two races, one season: one request
    assert sorted((n[0], n[3]) for n in notices.sent) == sorted(
        [(L1, notice_marker(first)), (L1, notice_marker(second))]
    )
    assert all(n[2][0].startswith("Fake Mazda Cup at Spa · Grand Prix, started") for n in notices.sent)
    assert await store.live_notices.state(G3, first) is None  # its series exclusion kept the notice out

    # Another race of that season the next hour: the schedule is kept, nothing asked.
    clock.advance(3600)
    fake.add_race([A], session_start_time=clock.now() - 60, race_minutes=20, season_id=6100)
    clock.advance(60)
    await watcher.tick()
    await hook.wait()
    assert schedule_requests(fake) == ["season_id=6100"] and len(notices.sent) == 3


async def test_nobody_to_tell_costs_no_schedule_request(
    store: Store, fake: FakeIRacing, clock: ManualClock, make_engine: EngineFactory
) -> None:
    await world(store, fake, clock)
    now = int(clock.now())
    for g in (G1, G3):
        await store.choices.set(g, now=now, live_channel=None)  # on track now off everywhere
    notices = Notices()
    engine, watcher, hook = watcher_with_notices(make_engine, store, clock, notices, "first")
    await engine.run_cycle()
    await watcher.tick()
    fake.add_race([A, B], session_start_time=clock.now() - 120, race_minutes=20, season_id=6200)
    clock.advance(60)
    await watcher.tick()
    await hook.wait()
    assert notices.sent == [] and schedule_requests(fake) == []


async def test_a_failing_or_malformed_schedule_still_gives_the_notice_without_names(
    store: Store, fake: FakeIRacing, clock: ManualClock, make_engine: EngineFactory
) -> None:
    await world(store, fake, clock)
    notices = Notices()
    engine, watcher, hook = watcher_with_notices(make_engine, store, clock, notices, "first")
    await engine.run_cycle()
    await watcher.tick()
    fake.broken_endpoints.append("series/season_schedule")  # iRacing answers 500, every retry
    sid = fake.add_race([A, 900], session_start_time=clock.now() - 120, race_minutes=20, season_id=6300)
    clock.advance(60)
    await watcher.tick()
    await hook.wait()
    assert sorted(n[0] for n in notices.sent) == [L1, L3]
    assert all(n[2][0].startswith("Race started <t:") and n[3] == notice_marker(sid) for n in notices.sent)
    failed = [r for r in fake.requests if r.path == "/data/series/season_schedule"]
    assert failed and {r.status for r in failed} == {500}

    # A malformed answer (a week without its track) the same: notice, no names, asked once.
    fake.broken_endpoints.clear()
    fake.add_race([A], session_start_time=clock.now() - 60, race_minutes=20, season_id=6400)
    del fake.world.schedules[6400][3]["track"]
    clock.advance(60)
    await watcher.tick()
    await hook.wait()
    assert len(notices.sent) == 4 and all(n[2][0].startswith("Race started <t:") for n in notices.sent[2:])
    assert schedule_requests(fake).count("season_id=6400") == 1
