"""Hosted and league races through the engine's pipeline: real client, fake iRacing over HTTP,
a real store; one card per (server, race) whatever found it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ir2dis_cog.core.cards import FIELD_TOP
from ir2dis_cog.iracing.accounts import AccountPool
from ir2dis_cog.iracing.client import IRacingClient
from ir2dis_cog.iracing.errors import ParseError
from ir2dis_cog.iracing.leagues import LeagueSeason, LeagueSession
from ir2dis_cog.iracing.models import HostedSession, Subsession
from ir2dis_cog.observability.metrics import Metrics
from ir2dis_cog.poller.engine import PollEngine
from ir2dis_cog.poller.unofficial import UnofficialRaces, UnofficialSource
from ir2dis_cog.store import Store, open_store
from tests.fakes.iracing import FakeIRacing
from tests.poller.conftest import EngineFactory, ManualClock, MemoryPublisher, World

G1, G2, G3 = 111_111_111_111, 222_222_222_222, 333_333_333_333
C1, C2, C3 = 9001, 9002, 9003
A, B = 401, 402
LEAGUE, SEASON = 637, 128114


@pytest.fixture
async def store(db_url: str, tmp_path: Path) -> AsyncIterator[Store]:
    s = await open_store(db_url, data_dir=tmp_path)
    try:
        yield s
    finally:
        await s.close()


def _engine(
    make_engine: EngineFactory, store: Store, clock: ManualClock, metrics: Metrics | None = None
) -> tuple[PollEngine, UnofficialRaces]:
    engine = make_engine(store)
    hook = UnofficialRaces(engine, store, clock, metrics=metrics)
    engine.attach_unofficial(hook)
    return engine, hook


async def _track(w: World, guild_id: int, cust_id: int) -> None:
    await w.track(guild_id, cust_id)
    await w.store.hosted.start(cust_id, int(w.clock.now()))  # as the track command does


async def test_a_hosted_race_of_a_tracked_driver_is_posted_once_and_no_backlog(
    store: Store, fake: FakeIRacing, clock: ManualClock, publisher: MemoryPublisher, make_engine: EngineFactory
) -> None:
    w = World(store, fake, clock)
    before = w.race([A, 900], hosted=True, minutes_ago=60)  # finished before the tracking
    await w.server(G1, C1)
    await _track(w, G1, A)
    engine, hook = _engine(make_engine, store, clock)
    await engine.run_cycle()
    assert publisher.all_posts() == []
    clock.advance(600)
    practice = w.race([A, 901], hosted=True, laps=0, minutes_ago=20, race_minutes=10)  # a session without a race
    sid = w.race([A, 902, 903], hosted=True, session_name="Friday fun", minutes_ago=35)
    await engine.run_cycle()
    await engine.run_cycle()
    assert publisher.all_posts() == [(C1, sid)]
    assert before != sid and practice != sid and hook.skipped_no_race >= 1
    card = publisher.card(C1, sid)
    assert not card.official and [d.cust_id for e in card.entries for d in e.drivers] == [A]
    watch = (await store.hosted.get_many([A]))[A]
    assert watch.learned and watch.last_race_at is not None


async def test_the_account_pool_as_the_engines_source_finds_hosted_races_itself(
    store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    client: IRacingClient,
) -> None:
    # As the cog wires it: no source of its own, the engine's (the pool) asks iRacing.
    w = World(store, fake, clock)
    await w.server(G1, C1)
    await _track(w, G1, A)
    engine = make_engine(store, source=AccountPool([client]))
    engine.attach_unofficial(UnofficialRaces(engine, store, clock))
    clock.advance(600)
    sid = w.race([A, 902], hosted=True, minutes_ago=35)
    await engine.run_cycle()
    await engine.run_cycle()
    assert publisher.all_posts() == [(C1, sid)]
    assert any(r.path == "/data/results/search_hosted" for r in fake.requests)


async def test_a_followed_league_posts_every_race_whoever_raced_and_one_card_with_a_tracked_driver(
    store: Store, fake: FakeIRacing, clock: ManualClock, publisher: MemoryPublisher, make_engine: EngineFactory
) -> None:
    w = World(store, fake, clock)
    fake.add_league(LEAGUE, "SFL League", [(SEASON, "SFL - 2026 Season 1")])
    old = w.race([800, 801], league_id=LEAGUE, minutes_ago=300)
    await w.server(G1, C1)
    await w.server(G2, C2)
    await w.server(G3, C3)
    await store.leagues.follow(G1, LEAGUE, "SFL League", old, None, now=int(clock.now()))
    await store.leagues.follow(G2, LEAGUE, "SFL League", old, None, now=int(clock.now()))
    await _track(w, G2, B)  # G2 follows the league and tracks B
    await _track(w, G3, B)  # G3 only tracks B
    engine, _ = _engine(make_engine, store, clock)
    await engine.run_cycle()
    assert publisher.all_posts() == []
    clock.advance(900)
    nobody = w.race([810, 811, 812], league_id=LEAGUE, minutes_ago=40)
    with_b = w.race([B, *range(820, 828)], league_id=LEAGUE, minutes_ago=35)
    for _ in range(3):
        await engine.run_cycle()
    assert publisher.all_posts() == sorted([(C1, nobody), (C1, with_b), (C2, nobody), (C2, with_b), (C3, with_b)])
    card = publisher.card(C2, with_b)
    assert [d.cust_id for e in card.entries for d in e.drivers] == [B]
    # A follower's card shows the whole field; a server that only tracks B, the top of it.
    assert card.kind == "league" and card.league_name == "SFL League" and len(card.field) == 9
    assert card.league_season_name == "SFL - 2026 Season 1"
    only_b = publisher.card(C3, with_b)
    assert len(only_b.field) == FIELD_TOP and only_b.more_field == 9 - FIELD_TOP
    assert [f.finish_position for f in publisher.card(C1, nobody).field] == [1, 2, 3]
    # One season read per cycle for the league, whatever the number of servers following it.
    reads = [r for r in fake.requests if r.path.endswith("league/season_sessions")]
    assert len(reads) == 4


async def test_a_quiet_driver_is_checked_seldom_and_a_server_wanting_official_races_gets_no_hosted_one(
    store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    metrics: Metrics,
    caplog: pytest.LogCaptureFixture,
) -> None:
    w = World(store, fake, clock)
    await w.server(G1, C1)
    await w.server(G2, C2)
    await _track(w, G1, A)
    await _track(w, G2, A)
    await store.race_kinds.set(G1, {"official"}, now=int(clock.now()))
    engine, _ = _engine(make_engine, store, clock, metrics)
    await engine.run_cycle()  # learns: no hosted race in 90 days, so A is checked every 6 h
    clock.advance(600)
    sid = w.race([A, 900], hosted=True, minutes_ago=35)
    await engine.run_cycle()
    assert publisher.all_posts() == []
    caplog.set_level(logging.INFO, logger="red.ir2dis.poller.unofficial")
    clock.advance(6 * 3600)
    await engine.run_cycle()
    await engine.run_cycle()
    assert publisher.all_posts() == [(C2, sid)]
    # G1 does not get it: decided, logged and counted once.
    assert _value(metrics, "ir2dis_unofficial_not_posted_total", reason="kind") == 1
    assert _value(metrics, "ir2dis_unofficial_races_found_total", kind="hosted", by="driver") == 1
    # Learnt at the first cycle, then not before 6 h; once it raced, every cycle.
    assert _value(metrics, "ir2dis_unofficial_requests_total", request="hosted_search") == 3
    refused = [r for r in caplog.records if getattr(r, "event", None) == "unofficial_not_posted"]
    assert [(r.guild_id, r.subsession_id, r.reason) for r in refused] == [(G1, sid, "kind")]  # type: ignore[attr-defined]


def _value(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def test_two_processes_post_a_league_race_once_per_server(
    db_url: str,
    tmp_path: Path,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
) -> None:
    one = await open_store(db_url, data_dir=tmp_path)
    two = await open_store(db_url, data_dir=tmp_path)
    try:
        w = World(one, fake, clock)
        fake.add_league(LEAGUE, "SFL League", [(SEASON, "S1")])
        await w.server(G1, C1)
        await one.leagues.follow(G1, LEAGUE, "SFL League", 0, None, now=int(clock.now()))
        await _track(w, G1, A)  # and a tracked driver in the race: found by both paths
        engines = []
        for i, s in enumerate((one, two)):
            e = make_engine(s, process=f"process-{i}")
            e.attach_unofficial(UnofficialRaces(e, s, clock))
            engines.append(e)
        clock.advance(600)
        sid = w.race([A, 900], league_id=LEAGUE, minutes_ago=35)
        for e in engines:
            await e.run_cycle()
        for e in engines:
            await e.run_cycle()
        assert publisher.all_posts() == [(C1, sid)]
    finally:
        await one.close()
        await two.close()


class OfficialOnly:
    """Like the cog's account pool: the per-driver and result calls, no hosted or league ones."""

    def __init__(self, client: IRacingClient) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        if name in ("search_hosted", "get_league_seasons", "get_league_sessions"):
            raise AttributeError(name)
        return getattr(self._client, name)


class BadResult:
    """The client, except that one race's results cannot be read."""

    def __init__(self, client: IRacingClient, bad: int) -> None:
        self._client, self.bad, self.asked = client, bad, 0

    async def search_hosted(self, cust_id: int, since: datetime) -> list[HostedSession]:
        return await self._client.search_hosted(cust_id, since)

    async def get_league_seasons(self, league_id: int) -> list[LeagueSeason]:
        return await self._client.get_league_seasons(league_id)

    async def get_league_sessions(self, league_id: int, season_id: int) -> list[LeagueSession]:
        return await self._client.get_league_sessions(league_id, season_id)

    async def get_subsession(self, subsession_id: int) -> Subsession:
        if subsession_id == self.bad:
            self.asked += 1
            raise ParseError("results/get", "rows[3].cust_id")
        return await self._client.get_subsession(subsession_id)


async def test_the_hosted_check_uses_the_source_it_is_given_and_an_unreadable_race_is_asked_again(
    store: Store,
    fake: FakeIRacing,
    clock: ManualClock,
    publisher: MemoryPublisher,
    make_engine: EngineFactory,
    client: IRacingClient,
    metrics: Metrics,
) -> None:
    w = World(store, fake, clock)
    await w.server(G1, C1)
    await _track(w, G1, A)
    engine = make_engine(store, source=OfficialOnly(client))  # as the cog's pool is today
    assert not isinstance(engine.source, UnofficialSource)
    clock.advance(600)
    bad = w.race([A, 900], hosted=True, minutes_ago=38)
    good = w.race([A, 901], hosted=True, minutes_ago=35)
    source = BadResult(client, bad)
    engine.attach_unofficial(UnofficialRaces(engine, store, clock, metrics=metrics, source=lambda: source))
    for _ in range(3):
        await engine.run_cycle()
        clock.advance(120)
    assert publisher.all_posts() == [(C1, good)]
    # A bad answer is transient: asked again once its backoff (1, then 2 min) is over, not given up.
    assert source.asked == 3
    assert _value(metrics, "ir2dis_unofficial_not_posted_total", reason="unreadable") == 0
    source.bad = 0  # the answer reads again: posted once
    clock.advance(300)
    await engine.run_cycle()
    await engine.run_cycle()
    assert publisher.all_posts() == sorted([(C1, good), (C1, bad)])
