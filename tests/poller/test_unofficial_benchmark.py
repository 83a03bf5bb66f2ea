"""The hosted and league benchmark (benchmarks/unofficial.py), shortened: league racing beside the
official world through the real engine, client and fake iRacing; the full run's numbers are in
benchmarks/RESULTS.md."""

from __future__ import annotations

from benchmarks.unofficial import run


async def test_league_racing_beside_official_races_is_posted_once_without_a_429() -> None:
    seen = await run(servers=5, pairs=60, drivers=50, hours=3.0, speed=400.0, share=0.3, leagues=4)
    assert seen["rate_limited_429"] == 0
    assert seen["expected_posts"]["league"] > 0 and seen["expected_posts"]["hosted"] > 0
    assert seen["missed"] == {"official": 0, "hosted": 0, "league": 0}
    assert seen["posted_twice"] == 0 and seen["unexpected_posts"] == 0
    assert seen["requests_per_minute"]["league: season sessions"] > 0
