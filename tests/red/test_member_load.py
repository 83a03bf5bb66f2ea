"""One member flooding autocomplete and /iracing lastrace while races finish (benchmarks/member_load.py,
shortened): the real handlers, client, engine and fake iRacing; the numbers of the full minute are in
benchmarks/RESULTS.md."""

from __future__ import annotations

import pytest

from benchmarks.member_load import run


@pytest.mark.slow  # a benchmark on the wall clock: two seconds of it
async def test_a_member_flooding_commands_cannot_stall_the_poller() -> None:
    seen = await run(seconds=20.0, speed=10.0, drivers=30)
    assert seen["rate_limited_429"] == 0
    assert seen["interactive_most_in_any_window"] <= seen["interactive_cap_per_window"]
    assert seen["races_posted"] == seen["races"] == 2
    assert seen["throttle_sentences"] > 0
    assert seen["throttle_sentences_private"] == seen["throttle_sentences"]
    assert seen["text_answers_public"] == 0 and seen["cards_private"] == 0
    assert seen["cards_posted_publicly"] >= 1
    assert seen["autocomplete_events"] == 200 and seen["autocomplete_with_choices"] > 150
