"""The scale-out benchmark's small world, end to end: three accounts in three real engine processes
on one PostgreSQL database against one fake iRacing; correctness only (the numbers are in
benchmarks/RESULTS.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_three_processes_on_three_accounts_post_every_race_once_without_429(tmp_path: Path) -> None:
    out = tmp_path / "scale.json"
    subprocess.run(
        [sys.executable, "-m", "benchmarks.scale_out", "--smoke", "--runs", "3a3p", "--json", str(out)],
        cwd=ROOT,
        check=True,
        timeout=300,
        capture_output=True,
    )
    run = json.loads(out.read_text())["results"]["3 accounts, 3 processes"]
    assert run["expected"] > 20
    assert run["missed"] == 0
    assert run["duplicated"] == 0
    assert run["unexpected"] == 0
    assert run["r429"] == 0
    per_account = run["requests_per_account"]
    assert len(per_account) == 3
    assert min(per_account) > 0.6 * max(per_account)  # the polls spread over the accounts
    assert max(run["most_per_account_window"]) <= 240
