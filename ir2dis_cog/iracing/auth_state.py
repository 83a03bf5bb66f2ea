"""Where the iRacing session (OAuth token pair or legacy cookies) is kept between runs.

The database's ``auth_state`` repository fits ``AuthStateStore``; ``FileAuthStateStore`` is used
instead when ``IRACING_AUTH_STATE_FILE`` is set. Either way one process owns the state: a
refresh token is single-use, so the new pair must be saved before it is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger("red.ir2dis.iracing.auth")


@runtime_checkable
class AuthStateStore(Protocol):
    async def load(self) -> dict[str, Any] | None: ...

    async def save(self, state: dict[str, Any]) -> None: ...


class MemoryAuthStateStore:
    """Keeps the state in memory only (tests; a deployment without persistence)."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self._state = copy.deepcopy(state)
        self.saves = 0

    async def load(self) -> dict[str, Any] | None:
        return copy.deepcopy(self._state)

    async def save(self, state: dict[str, Any]) -> None:
        self._state = copy.deepcopy(state)
        self.saves += 1


class FileAuthStateStore:
    """A JSON file, mode 0600, replaced atomically (temp file in the same folder, then rename)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    async def load(self) -> dict[str, Any] | None:
        return await asyncio.to_thread(self._load)

    async def save(self, state: dict[str, Any]) -> None:
        await asyncio.to_thread(self._save, json.dumps(state, sort_keys=True))

    def _load(self) -> dict[str, Any] | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            # The content is never quoted: it holds tokens.
            log.warning(
                "iRacing auth state file is not valid JSON; starting without it", extra={"path": str(self.path)}
            )
            return None
        return data if isinstance(data, dict) else None

    def _save(self, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # mkstemp creates the file with mode 0600 before anything is written into it.
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise


def state_store_for(state_file: Path | None, database_store: AuthStateStore) -> AuthStateStore:
    """``IRACING_AUTH_STATE_FILE`` when set, else the database's ``auth_state`` repository."""
    return FileAuthStateStore(state_file) if state_file is not None else database_store
