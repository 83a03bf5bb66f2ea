"""Where the recorded iRacing answers are: IR2DIS_SAMPLES, else the copy kept in tests/fixtures."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "iracing-samples"
# The workspace's shared copy, when the repository is checked out beside it (CI): contract tests
# parse it too, so a newer recording there is checked against the models.
SHARED = Path(__file__).resolve().parents[2] / "shared" / "iracing-samples"


def samples_dir() -> Path:
    return Path(os.environ.get("IR2DIS_SAMPLES") or FIXTURES)


def load_sample(name: str) -> Any:
    return json.loads((samples_dir() / name).read_text(encoding="utf-8"))
