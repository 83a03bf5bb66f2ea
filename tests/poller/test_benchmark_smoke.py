"""The benchmark's small world, end to end: three processes, real HTTP, SQLite; correctness only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_smoke_world_posts_every_race_once_without_429(tmp_path: Path) -> None:
    out = tmp_path / "smoke.json"
    subprocess.run(
        [sys.executable, "-m", "benchmarks.poll_cycle", "--smoke", "--strategy", "engine", "--json", str(out)],
        cwd=ROOT,
        check=True,
        timeout=300,
        capture_output=True,
    )
    engine = json.loads(out.read_text())["results"]["engine"]
    assert engine["expected"] > 5
    assert engine["missed"] == 0
    assert engine["duplicated"] == 0
    assert engine["unexpected"] == 0
    assert engine["r429_after_first_window"] == 0
    assert engine["ratio"] <= 1.05
