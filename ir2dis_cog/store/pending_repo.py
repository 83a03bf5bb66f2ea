"""pending_race: the races found and still owed, so a store outage or a dead process delays a
post and loses none. Every method is one atomic statement."""

from __future__ import annotations

from collections.abc import Iterable

from ir2dis_cog.core.records import PendingRace

from .database import Database
from .repo import validate_id

_COLUMNS = (
    "subsession_id, started_at, found_at, found_by, tries, next_try_at, first_failure_at, not_found_at, "
    "last_error, gave_up_at, give_up_reason"
)


def _row(r: tuple[object, ...]) -> PendingRace:
    s, started, found, by, tries, nxt, first, nf, err, gave, reason = r

    def opt(v: object) -> int | None:
        return None if v is None else int(str(v))

    return PendingRace(
        int(str(s)),
        int(str(started)),
        int(str(found)),
        str(by),
        int(str(tries)),
        int(str(nxt)),
        opt(first),
        opt(nf),
        None if err is None else str(err),
        opt(gave),
        None if reason is None else str(reason),
    )


class PendingRaceRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, race: PendingRace) -> bool:
        """Write a race found; True when it was not owed already (a second finder changes nothing)."""
        validate_id(race.subsession_id, "subsession id")
        sql = self._db.insert_ignore(
            "pending_race", ("subsession_id", "started_at", "found_at", "found_by", "tries", "next_try_at")
        )
        won = await self._db.execute(
            sql, (race.subsession_id, race.started_at, race.found_at, race.found_by[:16], 0, race.next_try_at)
        )
        return won == 1

    async def get(self, subsession_id: int) -> PendingRace | None:
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM pending_race WHERE subsession_id = ?",  # noqa: S608
            (validate_id(subsession_id, "subsession id"),),
        )
        return _row(row) if row else None

    async def known(self, subsession_ids: Iterable[int]) -> dict[int, PendingRace]:
        """The rows of these races (waiting or given up)."""
        ids = sorted({validate_id(s, "subsession id") for s in subsession_ids})
        out: dict[int, PendingRace] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = await self._db.fetchall(
                f"SELECT {_COLUMNS} FROM pending_race "  # noqa: S608
                f"WHERE subsession_id IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            out.update((r.subsession_id, r) for r in map(_row, rows))
        return out

    async def every(self) -> dict[int, PendingRace]:
        """Every row (waiting or given up); few, as settled rows go and given-up ones are purged."""
        rows = await self._db.fetchall(f"SELECT {_COLUMNS} FROM pending_race")  # noqa: S608
        return {r.subsession_id: r for r in map(_row, rows)}

    async def due(self, *, now: int, limit: int = 100) -> list[PendingRace]:
        """Races still owed whose next try has come, oldest first (a dead process's too)."""
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM pending_race WHERE gave_up_at IS NULL AND next_try_at <= ? "  # noqa: S608
            "ORDER BY next_try_at, subsession_id LIMIT ?",
            (now, limit),
        )
        return [_row(r) for r in rows]

    async def take(self, subsession_id: int, *, now: int, until: int) -> bool:
        """Lease a due race until ``until``: one process asks iRacing for it at a time."""
        changed = await self._db.execute(
            "UPDATE pending_race SET next_try_at = ? WHERE subsession_id = ? AND gave_up_at IS NULL "
            "AND next_try_at <= ?",
            (until, subsession_id, now),
        )
        return changed == 1

    async def hold(self, subsession_ids: Iterable[int], *, until: int) -> None:
        """The live watcher still has these races in hand: nobody else asks before ``until``."""
        ids = sorted({validate_id(s, "subsession id") for s in subsession_ids})
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            await self._db.execute(
                "UPDATE pending_race SET next_try_at = ? WHERE gave_up_at IS NULL "  # noqa: S608
                f"AND subsession_id IN ({', '.join('?' * len(chunk))})",
                [until, *chunk],
            )

    async def failed(self, race: PendingRace) -> None:
        """Keep the outcome of a failed try (tries, the next try, the first failure, a first 'not found')."""
        await self._db.execute(
            "UPDATE pending_race SET tries = ?, next_try_at = ?, first_failure_at = ?, not_found_at = ?, "
            "last_error = ? WHERE subsession_id = ? AND gave_up_at IS NULL",
            (
                race.tries,
                race.next_try_at,
                race.first_failure_at,
                race.not_found_at,
                (race.last_error or "")[:64] or None,
                race.subsession_id,
            ),
        )

    async def give_up(self, subsession_id: int, reason: str, *, now: int) -> bool:
        """True for the one caller that gave it up (it is logged and counted once)."""
        changed = await self._db.execute(
            "UPDATE pending_race SET gave_up_at = ?, give_up_reason = ? WHERE subsession_id = ? AND gave_up_at IS NULL",
            (now, reason[:32], subsession_id),
        )
        return changed == 1

    async def settle(self, subsession_id: int) -> None:
        """Every server's post of it is settled: no longer owed."""
        await self._db.execute(
            "DELETE FROM pending_race WHERE subsession_id = ? AND gave_up_at IS NULL",
            (validate_id(subsession_id, "subsession id"),),
        )

    async def waiting(self) -> int:
        return int(await self._db.fetchval("SELECT COUNT(*) FROM pending_race WHERE gave_up_at IS NULL") or 0)

    async def given_up(self, *, since: int) -> list[PendingRace]:
        """Races given up since ``since``, newest first (``/iracing status`` lists the last week's)."""
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM pending_race WHERE gave_up_at >= ? "  # noqa: S608
            "ORDER BY gave_up_at DESC, subsession_id DESC",
            (since,),
        )
        return [_row(r) for r in rows]

    async def purge(self, *, before: int) -> int:
        """Forget races given up before ``before`` (a week back)."""
        return await self._db.execute("DELETE FROM pending_race WHERE gave_up_at < ?", (before,))
