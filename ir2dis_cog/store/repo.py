"""One repository per table. Every method is one or two atomic statements; no read-then-write races.

Ids are validated before they reach SQL; every value is a parameter.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from ir2dis_cog.core.records import (
    DEFAULT_POST_STYLE,
    POST_STYLES,
    GuildConfig,
    TrackedDriver,
    Watermark,
)

from .database import Database

MAX_ID = 2**63 - 1
_IN_CHUNK = 500  # values per IN (...) list: well under every driver's parameter limit


class InvalidIdError(ValueError):
    """An id that is not a positive 64-bit integer."""


def validate_id(value: object, what: str = "id") -> int:
    """A positive integer below 2**63 (Discord snowflakes, iRacing cust_ids and subsession ids)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidIdError(f"{what} must be a whole number")
    if not 0 < value <= MAX_ID:
        raise InvalidIdError(f"{what} must be a positive number below 2^63")
    return value


def chunks(values: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def marks(n: int) -> str:
    return ", ".join("?" * n)


_GUILD_COLUMNS = "guild_id, channel_id, timezone, post_style"


def _guild_config(row: Sequence[Any]) -> GuildConfig:
    guild_id, channel_id, timezone, style = row
    # An unknown stored style (a newer version's) reads as the default rather than failing the post.
    return GuildConfig(guild_id, channel_id, timezone, style if style in POST_STYLES else DEFAULT_POST_STYLE)


class GuildRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def _ensure(self, guild_id: int, now: int) -> None:
        sql = self._db.insert_ignore("guild", ("guild_id", "created_at", "updated_at"))
        await self._db.execute(sql, (guild_id, now, now))

    async def set_channel(self, guild_id: int, channel_id: int, *, now: int) -> None:
        validate_id(guild_id, "guild id")
        validate_id(channel_id, "channel id")
        await self._ensure(guild_id, now)
        await self._db.execute(
            "UPDATE guild SET channel_id = ?, updated_at = ? WHERE guild_id = ?", (channel_id, now, guild_id)
        )

    async def set_timezone(self, guild_id: int, timezone: str, *, now: int) -> None:
        validate_id(guild_id, "guild id")
        if not timezone or len(timezone) > 64:
            raise ValueError("time zone name must be 1 to 64 characters")
        await self._ensure(guild_id, now)
        await self._db.execute(
            "UPDATE guild SET timezone = ?, updated_at = ? WHERE guild_id = ?", (timezone, now, guild_id)
        )

    async def set_post_style(self, guild_id: int, style: str, *, now: int) -> None:
        validate_id(guild_id, "guild id")
        if style not in POST_STYLES:
            raise ValueError(f"post style must be one of {', '.join(POST_STYLES)}")
        await self._ensure(guild_id, now)
        await self._db.execute(
            "UPDATE guild SET post_style = ?, updated_at = ? WHERE guild_id = ?", (style, now, guild_id)
        )

    async def get(self, guild_id: int) -> GuildConfig | None:
        validate_id(guild_id, "guild id")
        row = await self._db.fetchone(f"SELECT {_GUILD_COLUMNS} FROM guild WHERE guild_id = ?", (guild_id,))  # noqa: S608
        return _guild_config(row) if row else None

    async def get_many(self, guild_ids: Iterable[int]) -> dict[int, GuildConfig]:
        ids = sorted({validate_id(g, "guild id") for g in guild_ids})
        found: dict[int, GuildConfig] = {}
        for chunk in chunks(ids):
            rows = await self._db.fetchall(
                f"SELECT {_GUILD_COLUMNS} FROM guild WHERE guild_id IN ({marks(len(chunk))})",  # noqa: S608
                chunk,
            )
            found.update((r[0], _guild_config(r)) for r in rows)
        return found


class TrackedDriverRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def track(self, guild_id: int, cust_id: int, display_name: str, created_by: int | None, *, now: int) -> bool:
        """Start tracking. True when the driver is new to this guild or tracked again; idempotent."""
        validate_id(guild_id, "guild id")
        validate_id(cust_id, "cust_id")
        if created_by is not None:
            validate_id(created_by, "user id")
        name = display_name[:255]
        sql = self._db.insert_ignore(
            "tracked_driver", ("guild_id", "cust_id", "display_name", "active", "created_by", "created_at")
        )
        if await self._db.execute(sql, (guild_id, cust_id, name, 1, created_by, now)) == 1:
            return True
        revived = await self._db.execute(
            "UPDATE tracked_driver SET active = 1, display_name = ?, created_by = ?, created_at = ? "
            "WHERE guild_id = ? AND cust_id = ? AND active = 0",
            (name, created_by, now, guild_id, cust_id),
        )
        if revived:
            return True
        await self._db.execute(
            "UPDATE tracked_driver SET display_name = ? WHERE guild_id = ? AND cust_id = ?",
            (name, guild_id, cust_id),
        )
        return False

    async def untrack(self, guild_id: int, cust_id: int) -> bool:
        """Stop tracking; the row stays (soft delete) so history and watermarks are kept."""
        validate_id(guild_id, "guild id")
        validate_id(cust_id, "cust_id")
        changed = await self._db.execute(
            "UPDATE tracked_driver SET active = 0 WHERE guild_id = ? AND cust_id = ? AND active = 1",
            (guild_id, cust_id),
        )
        return changed == 1

    async def list_for_guild(self, guild_id: int) -> list[TrackedDriver]:
        validate_id(guild_id, "guild id")
        rows = await self._db.fetchall(
            "SELECT guild_id, cust_id, display_name, created_by, created_at FROM tracked_driver "
            "WHERE guild_id = ? AND active = 1 ORDER BY display_name, cust_id",
            (guild_id,),
        )
        return [TrackedDriver(*r) for r in rows]

    async def tracked_since(self, cust_ids: Iterable[int]) -> dict[tuple[int, int], int]:
        """(guild, cust_id) -> when the server (last) started tracking that driver."""
        ids = sorted({validate_id(c, "cust_id") for c in cust_ids})
        found: dict[tuple[int, int], int] = {}
        for chunk in chunks(ids):
            rows = await self._db.fetchall(
                "SELECT guild_id, cust_id, created_at FROM tracked_driver "  # noqa: S608
                f"WHERE active = 1 AND cust_id IN ({marks(len(chunk))})",
                chunk,
            )
            found.update(((int(g), int(c)), int(t)) for g, c, t in rows)
        return found

    async def is_tracked(self, guild_id: int, cust_id: int) -> bool:
        row = await self._db.fetchone(
            "SELECT 1 FROM tracked_driver WHERE guild_id = ? AND cust_id = ? AND active = 1",
            (validate_id(guild_id, "guild id"), validate_id(cust_id, "cust_id")),
        )
        return row is not None

    async def active_tracking(self, cust_ids: Iterable[int] | None = None) -> dict[int, frozenset[int]]:
        """Every actively tracked cust_id with the guilds that track it (only these drivers', if given:
        the live watcher asks about one race's field, not about every server's list)."""
        if cust_ids is None:
            rows = await self._db.fetchall("SELECT cust_id, guild_id FROM tracked_driver WHERE active = 1")
        else:
            rows = []
            for chunk in chunks(sorted({validate_id(c, "cust_id") for c in cust_ids})):
                rows += await self._db.fetchall(
                    "SELECT cust_id, guild_id FROM tracked_driver "  # noqa: S608 - placeholders only
                    f"WHERE active = 1 AND cust_id IN ({marks(len(chunk))})",
                    chunk,
                )
        guilds: defaultdict[int, set[int]] = defaultdict(set)
        for cust_id, guild_id in rows:
            guilds[int(cust_id)].add(int(guild_id))
        return {cust: frozenset(gs) for cust, gs in guilds.items()}

    async def forget_user(self, user_id: int) -> int:
        """Red's data deletion: drop who added a driver; the tracking itself is the server's data."""
        validate_id(user_id, "user id")
        return await self._db.execute("UPDATE tracked_driver SET created_by = NULL WHERE created_by = ?", (user_id,))


class LastSeenRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, guild_id: int, cust_id: int) -> Watermark | None:
        row = await self._db.fetchone(
            "SELECT last_finish_at, last_subsession_id FROM last_seen WHERE guild_id = ? AND cust_id = ?",
            (validate_id(guild_id, "guild id"), validate_id(cust_id, "cust_id")),
        )
        return Watermark(int(row[0]), int(row[1])) if row else None

    async def for_cust_ids(self, cust_ids: Iterable[int]) -> dict[tuple[int, int], Watermark]:
        ids = sorted({validate_id(c, "cust_id") for c in cust_ids})
        found: dict[tuple[int, int], Watermark] = {}
        for chunk in chunks(ids):
            rows = await self._db.fetchall(
                "SELECT guild_id, cust_id, last_finish_at, last_subsession_id FROM last_seen "  # noqa: S608
                f"WHERE cust_id IN ({marks(len(chunk))})",
                chunk,
            )
            found.update(((int(g), int(c)), Watermark(int(f), int(s))) for g, c, f, s in rows)
        return found

    async def set(self, guild_id: int, cust_id: int, subsession_id: int, finish_at: int) -> None:
        """Put the watermark exactly here (tracking starts: only later races are posted)."""
        validate_id(guild_id, "guild id")
        validate_id(cust_id, "cust_id")
        sql = self._db.insert_ignore("last_seen", ("guild_id", "cust_id", "last_subsession_id", "last_finish_at"))
        if await self._db.execute(sql, (guild_id, cust_id, subsession_id, finish_at)) == 0:
            await self._db.execute(
                "UPDATE last_seen SET last_subsession_id = ?, last_finish_at = ? WHERE guild_id = ? AND cust_id = ?",
                (subsession_id, finish_at, guild_id, cust_id),
            )

    async def advance(self, guild_id: int, cust_id: int, subsession_id: int, finish_at: int) -> None:
        """Move the watermark forward only (by subsession id); an older race never moves it back."""
        validate_id(guild_id, "guild id")
        validate_id(cust_id, "cust_id")
        sql = self._db.insert_ignore("last_seen", ("guild_id", "cust_id", "last_subsession_id", "last_finish_at"))
        if await self._db.execute(sql, (guild_id, cust_id, subsession_id, finish_at)) == 1:
            return
        await self._db.execute(
            "UPDATE last_seen SET last_subsession_id = ?, last_finish_at = ? "
            "WHERE guild_id = ? AND cust_id = ? AND last_subsession_id < ?",
            (subsession_id, finish_at, guild_id, cust_id, subsession_id),
        )

    async def latest_activity(self) -> dict[int, int]:
        """cust_id -> when the newest race seen for any guild finished (the scheduler's memory)."""
        rows = await self._db.fetchall("SELECT cust_id, MAX(last_finish_at) FROM last_seen GROUP BY cust_id")
        return {int(c): int(t) for c, t in rows}

    async def newest_finish(self) -> int | None:
        """When the newest race settled for any pair finished: the bot ran until about then."""
        rows = await self._db.fetchall("SELECT MAX(last_finish_at) FROM last_seen")
        return int(rows[0][0]) if rows and rows[0][0] is not None else None


class AuthStateRepo:
    """The iRacing session (OAuth token pair or legacy cookies): one row, replaced whole."""

    _ROW_ID = 1

    def __init__(self, db: Database, *, clock: Any = None) -> None:
        self._db = db
        self._clock = clock

    def _now(self) -> int:
        import time

        return int(self._clock() if self._clock else time.time())

    async def load(self) -> dict[str, Any] | None:
        text = await self._db.fetchval("SELECT cookies_json FROM auth_state WHERE id = ?", (self._ROW_ID,))
        if not text:
            return None
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return None  # a damaged row means "log in again", never a crash
        return data if isinstance(data, dict) else None

    async def save(self, state: dict[str, Any]) -> None:
        text = json.dumps(state, separators=(",", ":"), sort_keys=True)
        now = self._now()
        sql = self._db.insert_ignore("auth_state", ("id", "cookies_json", "updated_at"))
        if await self._db.execute(sql, (self._ROW_ID, text, now)) == 0:
            await self._db.execute(
                "UPDATE auth_state SET cookies_json = ?, updated_at = ? WHERE id = ?", (text, now, self._ROW_ID)
            )

    async def clear(self) -> None:
        await self._db.execute("DELETE FROM auth_state WHERE id = ?", (self._ROW_ID,))
