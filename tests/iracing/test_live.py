"""The live list and rosters: parsing rules, the contract against recorded answers, and the
client over real HTTP against the fake iRacing (a race live, then over, then published)."""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from ir2dis_cog.iracing.client import IRacingClient
from ir2dis_cog.iracing.errors import NotFoundError, ParseError
from ir2dis_cog.iracing.live import LiveRace, RosterEntry, parse_live_races, parse_roster
from tests.fakes.iracing import FakeIRacing
from tests.samples import load_sample


def test_the_recorded_live_list_gives_its_races_only() -> None:
    sample = load_sample("season_spectator_subsessions_detail.json")
    races = parse_live_races(sample)
    assert len(races) == 83  # of 303 live subsessions; practice, qualifying and time trials are left out
    first = next(r for r in sample["subsessions"] if r["event_type"] == 5)
    assert races[0] == LiveRace(
        subsession_id=first["subsession_id"],
        session_id=first["session_id"],
        season_id=first["season_id"],
        start_time=datetime.fromisoformat(first["start_time"]).astimezone(UTC),
        race_week_num=first["race_week_num"],
    )
    assert races[0].start_time.tzinfo is not None
    assert len({r.subsession_id for r in races}) == 83


def test_the_recorded_roster_gives_every_driver() -> None:
    sample = load_sample("session_reg_drivers_list.json")
    roster = parse_roster(sample)
    assert len(roster) == 12
    assert roster[0] == RosterEntry(
        1378194, "REDACTED", car_class_id=4016, reg_status="reg_joined", irating=1702, category_id=6
    )
    assert all(e.irating is not None and e.irating > 0 for e in roster)  # the field's strength, before results
    assert {e.cust_id for e in roster} == {e["cust_id"] for e in sample["entries"]}


def test_an_empty_roster_and_an_empty_list_are_answers_not_errors() -> None:
    assert parse_roster({"subscribed": False, "subsession_id": 1, "entries": [], "success": True}) == []
    assert parse_live_races({"success": True, "subsessions": []}) == []


@pytest.mark.parametrize(
    ("payload", "place"),
    [
        ({"success": True}, "body.subsessions"),
        ({"subsessions": [{"event_type": 5, "subsession_id": "x"}]}, "subsessions[0].subsession_id"),
        (
            {
                "subsessions": [
                    {"subsession_id": 1, "session_id": 2, "season_id": 3, "start_time": "soon", "event_type": 5}
                ]
            },
            "start_time",
        ),
        ({"subsessions": ["not an object"]}, "subsessions[0]"),
    ],
)
def test_a_broken_live_list_is_one_parse_error_naming_the_place(payload: Any, place: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_live_races(payload)
    assert "spectator_subsessionids_detail" in str(caught.value) and place in str(caught.value)


def test_a_broken_roster_is_one_parse_error() -> None:
    sample = copy.deepcopy(load_sample("session_reg_drivers_list.json"))
    del sample["entries"][3]["cust_id"]
    with pytest.raises(ParseError) as caught:
        parse_roster(sample)
    assert "reg_drivers_list" in str(caught.value) and "entries[3].cust_id" in str(caught.value)


async def test_a_race_is_listed_with_its_roster_while_live_then_gone_then_published(
    fake: FakeIRacing, client: IRacingClient
) -> None:
    now = time.time()
    live = fake.add_race([101, 102, 103], session_start_time=now - 600, race_minutes=20, results_delay=120)
    unlisted = fake.add_race([104], session_start_time=now - 300, race_minutes=20, live_listed=False)
    fake.add_race([105], session_start_time=now - 3600, race_minutes=30)  # over, results out
    fake.world.live_noise.append(
        {
            "subsession_id": 1,
            "session_id": 2,
            "season_id": 5893,
            "start_time": "2026-01-06T08:18:58Z",
            "race_week_num": 3,
            "event_type": 2,
        }
    )

    races = await client.get_live_races()
    assert [r.subsession_id for r in races] == [live]  # the practice noise and the unlisted race are not races here
    assert races[0].start_time == datetime.fromtimestamp(int(now - 600), UTC)
    assert [e.cust_id for e in await client.get_roster(live)] == [101, 102, 103]
    assert [e.cust_id for e in await client.get_roster(unlisted)] == [104]  # not listed, but live
    assert await client.get_roster(99_999_999) == []
    with pytest.raises(NotFoundError):
        await client.get_subsession(live)  # still running: no results yet
    queries = [r.query for r in fake.requests if r.path == "/data/season/spectator_subsessionids_detail"]
    assert queries == ["event_types=5"]
    with pytest.raises(ValueError, match="positive whole number"):
        await client.get_roster(0)


async def test_after_the_end_the_roster_is_empty_and_results_come_after_the_delay(
    fake: FakeIRacing, client: IRacingClient
) -> None:
    clock = {"t": 1_770_000_000.0}
    fake.clock = lambda: clock["t"]
    sid = fake.add_race([201, 202], session_start_time=clock["t"] - 600, race_minutes=15, results_delay=180)
    assert fake.recent_race_ids(201) == []
    clock["t"] += 301  # the race ended a second ago
    assert await client.get_live_races() == []
    assert await client.get_roster(sid) == []
    with pytest.raises(NotFoundError):
        await client.get_subsession(sid)
    assert (await client.get_recent_races(201)) == []
    clock["t"] += 180
    assert (await client.get_subsession(sid)).subsession_id == sid
    assert [r.subsession_id for r in await client.get_recent_races(201)] == [sid]
