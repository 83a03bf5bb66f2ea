"""The functional core and the engine never import discord.py or Red: only the cog's edge does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORE = [
    "ir2dis_cog",
    "ir2dis_cog.settings",
    "ir2dis_cog.store",
    "ir2dis_cog.iracing.models",
    "ir2dis_cog.iracing.client",
    "ir2dis_cog.cards",
    "ir2dis_cog.poller.engine",
    "ir2dis_cog.poller.scheduler",
    "ir2dis_cog.driver_input",
    "ir2dis_cog.status",
    "ir2dis_cog.observability.metrics",
    "ir2dis_cog.observability.health",
    "ir2dis_cog.observability.logging",
]


@pytest.mark.parametrize("module", CORE)
def test_core_module_imports_no_discord(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('discord', 'redbot'))\n"
        "assert not bad, bad"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
