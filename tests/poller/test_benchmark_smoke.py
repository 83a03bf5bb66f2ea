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


def test_sessions_world_watcher_posts_every_race_once_without_asking_each_driver(tmp_path: Path) -> None:
    """The live watcher in a world of official sessions (200 drivers, 30 minutes): every race
    published is posted once, found by the watcher, with no 429, while the per-driver poll asks
    for each driver's races about once (its first cycle), not once a cycle."""
    out = tmp_path / "sessions.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.poll_cycle",
            "--smoke",
            "--world",
            "sessions",
            "--strategy",
            "watcher",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        check=True,
        timeout=300,
        capture_output=True,
    )
    report = json.loads(out.read_text())
    [(size, runs)] = report["results"].items()
    drivers = int(size)
    watcher = runs["watcher"]
    assert watcher["expected"] > 5
    assert watcher["missed"] == 0
    assert watcher["duplicated"] == 0
    assert watcher["unexpected"] == 0
    assert watcher["r429_after_first_window"] == 0
    assert watcher["live_misses"] == 0
    assert watcher["found_by_watcher"] >= 5
    minutes = report["options"]["hours"] * 60 + 15
    recent_races = watcher["per_minute"]["member_recent_races"] * minutes
    assert recent_races <= 1.5 * drivers
