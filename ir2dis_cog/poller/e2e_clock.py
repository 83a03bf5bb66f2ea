"""A clock the end-to-end test can move, for the weekly digest only. Not a setting for users.

With ``IR2DIS_E2E_CLOCK_FILE`` set (only the e2e test sets it), the cog's digest runner reads the
time as the real time plus the number of seconds written in that file, read again on every call:
the test moves the digest to its hour without waiting a week, across a restart too. Everything
else in the cog keeps the real clock (races finish now, leases and retries run on real time).
Unset (always, outside that test), the digest runs on the system clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from pathlib import Path

from .ports import Clock, SystemClock

ENV = "IR2DIS_E2E_CLOCK_FILE"


class FileOffsetClock:
    """The real time plus the offset (seconds, a number) in ``path``; 0 while it is absent or unreadable."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def offset(self) -> float:
        try:
            return float(self._path.read_text().strip() or 0)
        except (OSError, ValueError):
            return 0.0

    def now(self) -> float:
        return time.time() + self.offset()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


def digest_clock(environ: Mapping[str, str]) -> Clock:
    path = environ.get(ENV, "").strip()
    return FileOffsetClock(Path(path)) if path else SystemClock()
