"""The league calls and search_hosted over real HTTP against the fake iRacing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ir2dis_cog.iracing.client import IRacingClient
from ir2dis_cog.iracing.errors import NotFoundError
from tests.fakes.iracing import FakeIRacing


async def test_a_league_its_seasons_and_its_sessions_with_results(fake: FakeIRacing, client: IRacingClient) -> None:
    fake.add_league(637, "Super Formula Lights League", [(128114, "SFL - 2026 Season 1")])
    fake.add_league(700, "Other Cup", [(9, "S1")])
    sid = fake.add_race([1, 2, 3], league_id=637, session_name="Round 1", race_minutes=40)
    found = await client.search_leagues("formula lights")
    assert [(lg.league_id, lg.league_name) for lg in found] == [(637, "Super Formula Lights League")]
    league = await client.get_league(637)
    assert league.readable and league.league_name == "Super Formula Lights League"
    seasons = await client.get_league_seasons(637)
    assert [(s.season_id, s.active) for s in seasons] == [(128114, True)]
    sessions = await client.get_league_sessions(637, 128114)
    assert [(s.subsession_id, s.has_results) for s in sessions] == [(sid, True)]
    sub = await client.get_subsession(sid)
    assert sub.kind == "league" and not sub.official
    assert (sub.league_name, sub.league_season_name, sub.session_name) == (
        "Super Formula Lights League",
        "SFL - 2026 Season 1",
        "Round 1",
    )
    # Unofficial: nobody's rating moved.
    assert all(d.old_irating == d.new_irating and d.old_sub_level == d.new_sub_level for _, d in sub.driver_rows())


async def test_an_unknown_league_is_not_found(client: IRacingClient) -> None:
    with pytest.raises(NotFoundError):
        await client.get_league(424242)
    assert await client.search_leagues("nothing like it") == []


async def test_search_hosted_finds_league_and_hosted_races_after_the_begin(
    fake: FakeIRacing, client: IRacingClient
) -> None:
    fake.add_league(637, "SFL", [(1, "S1")])
    old = fake.add_race([5, 6], hosted=True, session_start_time=datetime.now(UTC) - timedelta(days=3))
    league = fake.add_race([5, 7], league_id=637)
    hosted = fake.add_race([5, 8], hosted=True, session_name="Friday fun")
    rows = await client.search_hosted(5, datetime.now(UTC) - timedelta(days=1))
    assert sorted(r.subsession_id for r in rows) == [league, hosted]
    assert all(r.has_race for r in rows)
    by_id = {r.subsession_id: r for r in rows}
    assert by_id[league].league_id == 637 and by_id[hosted].league_id is None
    # The client clamps a begin older than iRacing's 90 days (the fake refuses such a range).
    everything = await client.search_hosted(5, datetime.now(UTC) - timedelta(days=400))
    assert sorted(r.subsession_id for r in everything) == [old, league, hosted]
