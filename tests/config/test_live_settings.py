"""LIVE_WATCH and LIVE_POLL_SECONDS: from the environment or config.json; bad values get one sentence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ir2dis_cog.config.settings import SettingsError, load_settings

NOWHERE = "/nonexistent/config.json"


def test_the_watcher_is_on_by_default_every_minute() -> None:
    s = load_settings({}, NOWHERE, mode="cog")
    assert (s.live_watch, s.live_poll_seconds) == (True, 60)


@pytest.mark.parametrize(("word", "on"), [("off", False), ("false", False), ("0", False), ("ON", True), ("yes", True)])
def test_on_and_off_in_the_words_an_operator_writes(word: str, on: bool) -> None:
    assert load_settings({"LIVE_WATCH": word}, NOWHERE, mode="cog").live_watch is on


def test_config_json_may_say_true_or_false(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"LIVE_WATCH": False, "LIVE_POLL_SECONDS": 120}))
    s = load_settings({}, path, mode="cog")
    assert (s.live_watch, s.live_poll_seconds) == (False, 120)


def test_bad_values_get_one_sentence_each() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"LIVE_WATCH": "sometimes", "LIVE_POLL_SECONDS": "10"}, NOWHERE, mode="cog")
    assert caught.value.problems == [
        "LIVE_WATCH: must be on or off (true/false), got 'sometimes'",
        "LIVE_POLL_SECONDS: must be between 30 and 600, got 10",
    ]
