"""post_history: the outbox. A race is claimed once per server (the unique key decides), sent, then
recorded; a race too old or kept out by the server's filters is written as decided, never sent.
"""

from __future__ import annotations

from collections.abc import Iterable

from ir2dis_cog.core.records import PendingPost, PostRecord

from .claims import LeasedClaims
from .database import Database
from .repo import chunks, marks, validate_id

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
        return await insert_dropped(self._db, guild_id, subsession_id, reason, finished_at=finished_at, now=now)

    async def decided(self, guild_id: int, subsession_ids: Iterable[int]) -> frozenset[int]:
        """Which of these races this server's outbox already holds (posted, pending or dropped)."""
        validate_id(guild_id, "guild id")
        ids = sorted({validate_id(s, "subsession id") for s in subsession_ids})
        found: set[int] = set()
        for chunk in chunks(ids):
            rows = await self._db.fetchall(
                "SELECT subsession_id FROM post_history WHERE guild_id = ? "  # noqa: S608
                f"AND subsession_id IN ({marks(len(chunk))})",
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


async def insert_dropped(
    db: Database, guild_id: int, subsession_id: int, reason: str, *, finished_at: int, now: int
) -> bool:
    """Decide a (server, race) as never to be posted (state ``dropped``, with its reason); True the
    first time only: the row makes it reported once, across restarts and processes."""
    validate_id(guild_id, "guild id")
    validate_id(subsession_id, "subsession id")
    sql = db.insert_ignore(
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
    won = await db.execute(sql, (guild_id, subsession_id, finished_at, now, 0, "dropped", reason[:255], now))
    return won == 1
