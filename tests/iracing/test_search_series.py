"""results/search_series: the recorded answer parses (races only), and the client asks it over real
HTTP against the fake iRacing, which answers it chunked from its world."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from ir2dis_cog.iracing.client import IRacingClient
from ir2dis_cog.iracing.errors import ParseError
from ir2dis_cog.iracing.search_series import parse_search_series
from tests.fakes.iracing import FakeIRacing
from tests.samples import load_sample


def test_the_recorded_answer_gives_its_races_only() -> None:
    sample = load_sample("result_search_series.json")
    races = parse_search_series(sample)
    wanted = [r for r in sample if r["event_type"] == 5]
    assert wanted and len(sample) > len(wanted)  # the recording holds time trials too
    assert [r.subsession_id for r in races] == [r["subsession_id"] for r in wanted]
    first = races[0]
    assert first.end_time > first.start_time and first.end_time.tzinfo is UTC
    assert first.series_name == wanted[0]["series_name"] and first.official is True


def test_a_broken_row_is_one_parse_error_naming_the_place() -> None:
    with pytest.raises(ParseError, match=r"rows\[0\]\.end_time"):
        parse_search_series(
            [{"subsession_id": 1, "session_id": 2, "event_type": 5, "start_time": "2026-01-01T00:00:00Z"}]
        )
    assert parse_search_series([]) == []


async def test_the_client_gets_the_official_races_finished_in_the_range_from_chunks(
    fake: FakeIRacing, client: IRacingClient
) -> None:
    now = time.time()
    fake.hosted_chunk_size = 1  # one row per chunk: the client merges them
    a = fake.add_race([101], session_start_time=now - 3000, race_minutes=30)  # ended 20 min ago
    b = fake.add_race([102], session_start_time=now - 2400, race_minutes=30)  # ended 10 min ago
    fake.add_race([103], session_start_time=now - 9000, race_minutes=30)  # before the range
    fake.add_race([104], session_start_time=now - 2400, race_minutes=30, hosted=True)  # not official
    fake.add_race([105], session_start_time=now - 2000, race_minutes=30, results_delay=600)  # not out yet
    fake.add_race([106], session_start_time=now - 600, race_minutes=30)  # still running

    races = await client.search_series(datetime.fromtimestamp(now - 3600, UTC), datetime.fromtimestamp(now + 60, UTC))

    assert [r.subsession_id for r in races] == [a, b]
    query = next(r.query for r in fake.requests if r.path == "/data/results/search_series")
    assert "event_types=5" in query and "official_only=true" in query and "finish_range_end=" in query
