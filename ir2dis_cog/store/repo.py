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
    PendingPost,
    PostRecord,
    TrackedDriver,
    Watermark,
)

from .claims import LeasedClaims
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


def _chunks(values: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def _marks(n: int) -> str:
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
        for chunk in _chunks(ids):
            rows = await self._db.fetchall(
                f"SELECT {_GUILD_COLUMNS} FROM guild WHERE guild_id IN ({_marks(len(chunk))})",  # noqa: S608
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
        for chunk in _chunks(ids):
            rows = await self._db.fetchall(
                "SELECT guild_id, cust_id, created_at FROM tracked_driver "  # noqa: S608
                f"WHERE active = 1 AND cust_id IN ({_marks(len(chunk))})",
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
            for chunk in _chunks(sorted({validate_id(c, "cust_id") for c in cust_ids})):
                rows += await self._db.fetchall(
                    "SELECT cust_id, guild_id FROM tracked_driver "  # noqa: S608 - placeholders only
                    f"WHERE active = 1 AND cust_id IN ({_marks(len(chunk))})",
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
        for chunk in _chunks(ids):
            rows = await self._db.fetchall(
                "SELECT guild_id, cust_id, last_finish_at, last_subsession_id FROM last_seen "  # noqa: S608
                f"WHERE cust_id IN ({_marks(len(chunk))})",
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


_POST_COLUMNS = (
    "guild_id, subsession_id, channel_id, card_json, race_finished_at, attempts, last_error, image_json, mentions"
)


class PostRepo:
    """post_history as an outbox: claim (the unique key decides), send, record."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._claims = LeasedClaims(db, "post_history", ("guild_id", "subsession_id"))

    async def claim(self, post: PendingPost, owner: str, *, now: int, lease_seconds: int = 300) -> bool:
        """True when this caller won the (guild, subsession) and must publish it."""
        values = {
            "guild_id": validate_id(post.guild_id, "guild id"),
            "subsession_id": validate_id(post.subsession_id, "subsession id"),
            "channel_id": validate_id(post.channel_id, "channel id"),
            "card_json": post.card_json,
            "image_json": post.image_json,
            "race_finished_at": post.race_finished_at,
            "mentions": post.mentions,
        }
        return await self._claims.claim_leased(values, owner, now=now, lease_seconds=lease_seconds)

    async def record(self, guild_id: int, subsession_id: int, message_id: int, *, now: int) -> bool:
        validate_id(message_id, "message id")
        return await self._claims.record((guild_id, subsession_id), message_id, now=now)

    async def fail(self, guild_id: int, subsession_id: int, error: str, *, now: int, retry_after: int = 0) -> None:
        """Keep the claim for a later try; count the attempt and remember why."""
        await self._claims.fail((guild_id, subsession_id), error, now=now, retry_after=retry_after)

    async def take_over(
        self, guild_id: int, subsession_id: int, owner: str, *, now: int, lease_seconds: int = 300
    ) -> bool:
        """Lease an unresolved claim whose lease ran out; True for exactly one caller."""
        return await self._claims.take_over((guild_id, subsession_id), owner, now=now, lease_seconds=lease_seconds)

    async def release_earlier_lives(self, instance: str, current_owner: str) -> int:
        """A restart settles at once the claims its dead predecessor held (see ``LeasedClaims``)."""
        return await self._claims.release_earlier_lives(instance, current_owner)

    async def unresolved(self, *, now: int, limit: int = 1000) -> list[PendingPost]:
        """Claims without a message whose lease has run out (crashed, or failed and due again)."""
        rows = await self._claims.unresolved(_POST_COLUMNS, now=now, limit=limit)
        return [
            PendingPost(int(g), int(s), int(c or 0), str(j or ""), int(t or 0), int(a or 0), e, i, m)
            for g, s, c, j, t, a, e, i, m in rows
        ]

    async def drop(self, guild_id: int, subsession_id: int, reason: str, *, now: int) -> None:
        await self._claims.drop((guild_id, subsession_id), reason, now=now)

    async def skip_too_old(self, guild_id: int, subsession_id: int, reason: str, *, finished_at: int, now: int) -> bool:
        """Record a race never posted because it ended too long ago; True the first time only.

        The row (state ``dropped``, with its reason) is what makes it reported once, across
        restarts and processes, and what ``/iracing status`` counts.
        """
        validate_id(guild_id, "guild id")
        validate_id(subsession_id, "subsession id")
        sql = self._db.insert_ignore(
            "post_history",
            (
                "guild_id",
                "subsession_id",
                "race_finished_at",
                "claimed_at",
                "attempts",
                "state",
                "last_error",
                "last_error_at",
            ),
        )
        won = await self._db.execute(sql, (guild_id, subsession_id, finished_at, now, 0, "dropped", reason[:255], now))
        return won == 1

    async def decided(self, guild_id: int, subsession_ids: Iterable[int]) -> frozenset[int]:
        """Which of these races this server's outbox already holds (posted, pending or dropped)."""
        validate_id(guild_id, "guild id")
        ids = sorted({validate_id(s, "subsession id") for s in subsession_ids})
        found: set[int] = set()
        for chunk in _chunks(ids):
            rows = await self._db.fetchall(
                "SELECT subsession_id FROM post_history WHERE guild_id = ? "  # noqa: S608
                f"AND subsession_id IN ({_marks(len(chunk))})",
                [guild_id, *chunk],
            )
            found.update(int(r[0]) for r in rows)
        return frozenset(found)

    async def dropped_count(self, guild_id: int, *, since: int) -> int:
        """Races of this server given up on since ``since``: too old to post, or never postable."""
        sql = "SELECT COUNT(*) FROM post_history WHERE guild_id = ? AND state = 'dropped' AND last_error_at >= ?"
        return int(await self._db.fetchval(sql, (validate_id(guild_id, "guild id"), since)) or 0)

    async def get(self, guild_id: int, subsession_id: int) -> PostRecord | None:
        row = await self._db.fetchone(
            "SELECT guild_id, subsession_id, state, message_id, attempts, last_error FROM post_history "
            "WHERE guild_id = ? AND subsession_id = ?",
            (validate_id(guild_id, "guild id"), validate_id(subsession_id, "subsession id")),
        )
        if not row:
            return None
        g, s, state, message_id, attempts, error = row
        return PostRecord(int(g), int(s), str(state), int(message_id) if message_id else None, int(attempts), error)

    async def pending_count(self, guild_id: int | None = None) -> int:
        """Posts claimed and waiting (a channel unavailable, Discord failing), with their copies in
        other channels: of one server, or of every server (None)."""
        where, params = (
            ("guild_id = ? AND ", (validate_id(guild_id, "guild id"),)) if guild_id is not None else ("", ())
        )
        total = 0
        for table in ("post_history", "post_copy"):
            sql = f"SELECT COUNT(*) FROM {table} WHERE {where}state = 'pending'"  # noqa: S608
            total += int(await self._db.fetchval(sql, params) or 0)
        return total

    async def last_failure(self, guild_id: int, *, since: int = 0) -> str | None:
        """Why the newest post still unposted (waiting, or dropped) since ``since`` failed.

        A failure that a later retry got through is no news for the server's admins.
        """
        row = await self._db.fetchone(
            "SELECT last_error FROM post_history WHERE guild_id = ? AND last_error IS NOT NULL "
            "AND state <> 'posted' AND last_error_at >= ? ORDER BY last_error_at DESC LIMIT 1",
            (validate_id(guild_id, "guild id"), since),
        )
        return str(row[0]) if row else None


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
