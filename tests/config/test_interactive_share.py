"""IRACING_INTERACTIVE_SHARE: from the environment or config.json, a fraction in range or one sentence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ir2dis_cog.config.settings import SettingsError, load_settings


def test_default_env_and_config_file(tmp_path: Path) -> None:
    absent = tmp_path / "absent.json"
    assert load_settings({}, config_file=absent, mode="cog").iracing_interactive_share == 0.2
    assert (
        load_settings({"IRACING_INTERACTIVE_SHARE": "0.35"}, config_file=absent, mode="cog").iracing_interactive_share
        == 0.35
    )
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"IRACING_INTERACTIVE_SHARE": 0.1}))
    assert load_settings({}, config_file=config, mode="cog").iracing_interactive_share == 0.1


@pytest.mark.parametrize("raw", ["0.6", "0.01", "-0.2", "twenty", "nan", "inf", "20%", "٠.٢", "2e-1", "0.2_0"])
def test_a_bad_share_is_one_sentence(tmp_path: Path, raw: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({"IRACING_INTERACTIVE_SHARE": raw}, config_file=tmp_path / "absent.json", mode="cog")
    assert info.value.problems == [f"IRACING_INTERACTIVE_SHARE: must be a number between 0.05 and 0.5, got {raw!r}"]
