"""digest_row (what the weekly digest counts) and digest_sent (its claim, once per server and week)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ir2dis_cog.core.digest import DigestRow

from .claims import Claims
from .database import Database
from .repo import validate_id


class DigestRepo:
    """digest_row (what the digest counts) and digest_sent (once per server and week)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._weeks = Claims(db, "digest_sent", ("guild_id", "week"))

    async def add_rows(self, rows: Iterable[DigestRow]) -> int:
        sql = self._db.insert_ignore(
            "digest_row",
            (
                "guild_id",
                "subsession_id",
                "cust_id",
                "name",
                "finished_at",
                "series_id",
                "series_name",
                "category_id",
                "class_position",
                "class_start",
                "incidents",
                "old_irating",
                "new_irating",
            ),
        )
        added = 0
        for r in rows:
            validate_id(r.guild_id, "guild id")
            validate_id(r.subsession_id, "subsession id")
            validate_id(r.cust_id, "cust_id")
            added += await self._db.execute(
                sql,
                (
                    r.guild_id,
                    r.subsession_id,
                    r.cust_id,
                    r.name[:255],
                    r.finished_at,
                    r.series_id,
                    r.series_name[:255],
                    r.category_id,
                    r.class_position,
                    r.class_start,
                    r.incidents,
                    r.old_irating,
                    r.new_irating,
                ),
            )
        return added

    async def rows(self, guild_id: int, *, since: int, until: int) -> list[DigestRow]:
        found = await self._db.fetchall(
            f"SELECT {_ROW_COLUMNS} FROM digest_row "  # noqa: S608
            "WHERE guild_id = ? AND finished_at >= ? AND finished_at < ? ORDER BY finished_at, subsession_id, cust_id",
            (validate_id(guild_id, "guild id"), since, until),
        )
        return [_row(r) for r in found]

    async def last_race(self, guild_id: int, cust_id: int) -> DigestRow | None:
        """The newest race posted in this server with this driver."""
        found = await self._db.fetchall(
            f"SELECT {_ROW_COLUMNS} FROM digest_row WHERE guild_id = ? AND cust_id = ? "  # noqa: S608
            "ORDER BY finished_at DESC, subsession_id DESC LIMIT 1",
            (validate_id(guild_id, "guild id"), validate_id(cust_id, "cust_id")),
        )
        return _row(found[0]) if found else None

    async def series(self, guild_id: int, *, limit: int = 200) -> list[tuple[int, str]]:
        """(series id, name) of the races this server was posted, the most raced first."""
        rows = await self._db.fetchall(
            "SELECT series_id, MAX(series_name), COUNT(*) FROM digest_row WHERE guild_id = ? AND series_id IS NOT NULL "
            "GROUP BY series_id ORDER BY COUNT(*) DESC, series_id LIMIT ?",
            (validate_id(guild_id, "guild id"), limit),
        )
        return [(int(s), str(n)) for s, n, _ in rows]

    async def claim_week(self, guild_id: int, week: str, channel_id: int, owner: str, *, now: int) -> bool:
        """True for exactly one caller per (server, week): it sends that week's digest."""
        values = {"guild_id": validate_id(guild_id, "guild id"), "week": week[:10], "channel_id": channel_id}
        return await self._weeks.claim(values, owner, now=now)

    async def record_week(self, guild_id: int, week: str, message_id: int | None, *, state: str) -> None:
        await self._weeks.settle((guild_id, week), message_id, state=state)

    async def week_state(self, guild_id: int, week: str) -> str | None:
        return await self._weeks.state((guild_id, week))


def _opt(value: Any) -> int | None:
    return int(value) if value is not None else None


_ROW_COLUMNS = (
    "guild_id, subsession_id, cust_id, name, finished_at, series_name, class_position, class_start, "
    "incidents, old_irating, new_irating, series_id, category_id"
)


def _row(r: tuple[Any, ...]) -> DigestRow:
    g, s, c, n, f, sn, p, st, i, o, nw, si, ci = r
    return DigestRow(
        int(g),
        int(s),
        int(c),
        str(n),
        int(f),
        str(sn),
        _opt(p),
        _opt(st),
        int(i),
        _opt(o),
        _opt(nw),
        _opt(si),
        _opt(ci),
    )
