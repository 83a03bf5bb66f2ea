"""Claims: a row per key that exactly one caller wins (the unique key and an insert-ignore decide),
then settles. The outbox's tables also lease a claim, so a crashed or failing sender's row is taken
over later and never sent twice. Table and key names are the code's own, never a user's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .database import Database


class Claims:
    """Rows claimed once per key; a notice or a digest, settled with its message."""

    def __init__(self, db: Database, table: str, key: Sequence[str]) -> None:
        self._db = db
        self._table = table
        self._key = tuple(key)
        self._where = " AND ".join(f"{k} = ?" for k in self._key)

    async def claim(self, values: Mapping[str, Any], owner: str, *, now: int) -> bool:
        """True for exactly one caller per key: it sends what the row stands for."""
        return await self._insert({**values, "claimed_at": now, "claim_owner": owner[:64], "state": "pending"})

    async def _insert(self, row: Mapping[str, Any]) -> bool:
        won = await self._db.execute(self._db.insert_ignore(self._table, tuple(row)), tuple(row.values()))
        return won == 1

    async def settle(self, key: Sequence[Any], message_id: int | None, *, state: str) -> None:
        await self._db.execute(
            f"UPDATE {self._table} SET message_id = ?, state = ?, claim_owner = NULL WHERE {self._where}",  # noqa: S608
            (message_id, state, *key),
        )

    async def state(self, key: Sequence[Any]) -> str | None:
        value = await self._db.fetchval(f"SELECT state FROM {self._table} WHERE {self._where}", tuple(key))  # noqa: S608
        return str(value) if value is not None else None


class LeasedClaims(Claims):
    """An outbox table: a pending claim holds a lease; record, fail (retry later), drop, take over."""

    async def claim_leased(self, values: Mapping[str, Any], owner: str, *, now: int, lease_seconds: int) -> bool:
        """True when this caller won the key and must publish it."""
        row = {**values, "state": "pending", "claimed_at": now, "claim_owner": owner[:64]}
        return await self._insert({**row, "lease_until": now + lease_seconds, "attempts": 0})

    async def _pending(self, sets: str, params: Sequence[Any], key: Sequence[Any]) -> int:
        sql = f"UPDATE {self._table} SET {sets} WHERE {self._where} AND state = 'pending'"  # noqa: S608
        return await self._db.execute(sql, (*params, *key))

    async def record(self, key: Sequence[Any], message_id: int, *, now: int) -> bool:
        sets = "message_id = ?, posted_at = ?, state = 'posted', claim_owner = NULL, lease_until = NULL"
        return await self._pending(sets, (message_id, now), key) == 1

    async def fail(self, key: Sequence[Any], error: str, *, now: int, retry_after: int) -> None:
        """Keep the claim for a later try; count the attempt and remember why."""
        sets = "attempts = attempts + 1, last_error = ?, last_error_at = ?, claim_owner = NULL, lease_until = ?"
        await self._pending(sets, (error[:255], now, now + retry_after), key)

    async def drop(self, key: Sequence[Any], reason: str, *, now: int) -> None:
        sets = "state = 'dropped', last_error = ?, last_error_at = ?, claim_owner = NULL, lease_until = NULL"
        await self._pending(sets, (reason[:255], now), key)

    async def take_over(self, key: Sequence[Any], owner: str, *, now: int, lease_seconds: int) -> bool:
        """Lease an unresolved claim whose lease ran out; True for exactly one caller."""
        changed = await self._db.execute(
            f"UPDATE {self._table} SET claim_owner = ?, claimed_at = ?, lease_until = ? "  # noqa: S608
            f"WHERE {self._where} AND state = 'pending' AND (lease_until IS NULL OR lease_until <= ?)",
            (owner[:64], now, now + lease_seconds, *key, now),
        )
        return changed == 1

    async def release_earlier_lives(self, instance: str, current_owner: str) -> int:
        """Free the leases of claims this instance's earlier processes held when they died.

        Owners are ``"<instance>:<process>"``. One instance (one data folder) runs one process at a
        time, so a claim of the same instance under another process id is a dead one: a restart can
        settle it at once instead of waiting out its lease. Other instances' claims are untouched.
        """
        if not instance or any(ch in instance for ch in "%_:"):
            raise ValueError("an instance id is a non-empty string without % _ or :")
        return await self._db.execute(
            f"UPDATE {self._table} SET lease_until = NULL, claim_owner = NULL "  # noqa: S608
            "WHERE state = 'pending' AND claim_owner LIKE ? AND claim_owner <> ?",
            (f"{instance}:%", current_owner[:64]),
        )

    async def unresolved(self, columns: str, *, now: int, limit: int) -> list[tuple[Any, ...]]:
        """Claims without a message whose lease has run out (crashed, or failed and due again)."""
        return await self._db.fetchall(
            f"SELECT {columns} FROM {self._table} WHERE state = 'pending' "  # noqa: S608
            "AND (lease_until IS NULL OR lease_until <= ?) ORDER BY race_finished_at, subsession_id LIMIT ?",
            (now, limit),
        )
