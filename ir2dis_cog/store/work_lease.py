"""The tables of running big: who is alive and sharing the drivers (work_lease), and one saved
iRacing session per account (account_auth_state)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .database import Database


@dataclass(frozen=True)
class LeaseRow:
    """One process's heartbeat, as stored."""

    process_id: str
    instance_id: str | None
    started_at: int
    heartbeat_at: int
    drivers: int = 0
    watcher: str | None = None  # the state of the live watcher this process runs, if any
    watcher_requests: int = 0


class WorkLeaseRepo:
    """work_lease: one row per live process, refreshed by its heartbeat; every write is one row."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def beat(self, row: LeaseRow) -> None:
        """Insert or refresh this process's row (never touches another's)."""
        pid = row.process_id[:64]
        sql = self._db.insert_ignore(
            "work_lease",
            ("process_id", "instance_id", "started_at", "heartbeat_at", "drivers", "watcher", "watcher_requests"),
        )
        values = (row.drivers, row.watcher, row.watcher_requests)
        inserted = await self._db.execute(sql, (pid, row.instance_id, row.started_at, row.heartbeat_at, *values))
        if inserted == 0:
            await self._db.execute(
                "UPDATE work_lease SET heartbeat_at = ?, drivers = ?, watcher = ?, watcher_requests = ? "
                "WHERE process_id = ?",
                (row.heartbeat_at, *values, pid),
            )

    async def all(self) -> list[LeaseRow]:
        rows = await self._db.fetchall(
            "SELECT process_id, instance_id, started_at, heartbeat_at, drivers, watcher, watcher_requests "
            "FROM work_lease ORDER BY process_id"
        )
        return [LeaseRow(str(r[0]), r[1], int(r[2]), int(r[3]), int(r[4] or 0), r[5], int(r[6] or 0)) for r in rows]

    async def leave(self, process_id: str) -> None:
        """A clean stop: the others take this process's share at their next look."""
        await self._db.execute("DELETE FROM work_lease WHERE process_id = ?", (process_id[:64],))

    async def forget_earlier_lives(self, instance_id: str, current: str) -> int:
        """A restart of the same instance: its previous life is dead for sure, drop it at once."""
        return await self._db.execute(
            "DELETE FROM work_lease WHERE instance_id = ? AND process_id <> ?", (instance_id[:64], current[:64])
        )

    async def prune(self, *, before: int) -> int:
        """Rows of processes dead long ago (keeps the table as small as the set of processes)."""
        return await self._db.execute("DELETE FROM work_lease WHERE heartbeat_at < ?", (before,))


class AccountAuthStateRepo:
    """One saved iRacing session per key (an account, or an account in one process); the
    ``AuthStateStore`` interface for each key through ``for_key``."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    def for_key(self, key: str) -> KeyedAuthState:
        return KeyedAuthState(self, key[:64])

    async def load(self, key: str) -> dict[str, Any] | None:
        text = await self._db.fetchval("SELECT state_json FROM account_auth_state WHERE account_key = ?", (key,))
        if not text:
            return None
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return None  # a damaged row means "log in again", never a crash
        return data if isinstance(data, dict) else None

    async def save(self, key: str, state: dict[str, Any]) -> None:
        text = json.dumps(state, separators=(",", ":"), sort_keys=True)
        now = int(self._clock())
        sql = self._db.insert_ignore("account_auth_state", ("account_key", "state_json", "updated_at"))
        if await self._db.execute(sql, (key, text, now)) == 0:
            await self._db.execute(
                "UPDATE account_auth_state SET state_json = ?, updated_at = ? WHERE account_key = ?", (text, now, key)
            )


@dataclass(frozen=True)
class KeyedAuthState:
    """The saved session of one key (what an authenticator loads and saves)."""

    repo: AccountAuthStateRepo
    key: str

    async def load(self) -> dict[str, Any] | None:
        return await self.repo.load(self.key)

    async def save(self, state: dict[str, Any]) -> None:
        await self.repo.save(self.key, state)
