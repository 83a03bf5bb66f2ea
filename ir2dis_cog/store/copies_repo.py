"""post_copy: a race in one more channel of a server, leased like the outbox's own claims."""

from __future__ import annotations

from dataclasses import dataclass

from .claims import LeasedClaims
from .database import Database
from .posts_repo import insert_dropped
from .repo import validate_id


@dataclass(frozen=True)
class CopyRow:
    guild_id: int
    subsession_id: int
    channel_id: int
    card_json: str
    mentions: str | None
    race_finished_at: int
    attempts: int


class CopyRepo:
    """post_copy: a race in one more channel of a server, once per (server, channel, race)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._claims = LeasedClaims(db, "post_copy", ("guild_id", "subsession_id", "channel_id"))

    async def claim(self, row: CopyRow, owner: str, *, now: int, lease_seconds: int) -> bool:
        """True for exactly one caller: it must publish this copy."""
        values = {
            "guild_id": validate_id(row.guild_id, "guild id"),
            "subsession_id": validate_id(row.subsession_id, "subsession id"),
            "channel_id": validate_id(row.channel_id, "channel id"),
            "card_json": row.card_json,
            "mentions": row.mentions,
            "race_finished_at": row.race_finished_at,
        }
        return await self._claims.claim_leased(values, owner, now=now, lease_seconds=lease_seconds)

    async def record(self, guild_id: int, subsession_id: int, channel_id: int, message_id: int, *, now: int) -> bool:
        validate_id(message_id, "message id")
        return await self._claims.record((guild_id, subsession_id, channel_id), message_id, now=now)

    async def fail(
        self, guild_id: int, subsession_id: int, channel_id: int, error: str, *, now: int, retry_after: int
    ) -> None:
        await self._claims.fail((guild_id, subsession_id, channel_id), error, now=now, retry_after=retry_after)

    async def drop(self, guild_id: int, subsession_id: int, channel_id: int, reason: str, *, now: int) -> None:
        await self._claims.drop((guild_id, subsession_id, channel_id), reason, now=now)

    async def take_over(
        self, guild_id: int, subsession_id: int, channel_id: int, owner: str, *, now: int, lease_seconds: int
    ) -> bool:
        key = (guild_id, subsession_id, channel_id)
        return await self._claims.take_over(key, owner, now=now, lease_seconds=lease_seconds)

    async def release_earlier_lives(self, instance: str, current_owner: str) -> int:
        """As the outbox (see ``LeasedClaims``): a restart settles its dead predecessor's copies."""
        return await self._claims.release_earlier_lives(instance, current_owner)

    async def unresolved(self, *, now: int, limit: int = 1000) -> list[CopyRow]:
        columns = "guild_id, subsession_id, channel_id, card_json, mentions, race_finished_at, attempts"
        rows = await self._claims.unresolved(columns, now=now, limit=limit)
        return [CopyRow(int(g), int(s), int(c), str(j), m, int(t), int(a)) for g, s, c, j, m, t, a in rows]

    async def state(self, guild_id: int, subsession_id: int, channel_id: int) -> str | None:
        return await self._claims.state((guild_id, subsession_id, channel_id))

    async def image_json(self, guild_id: int, subsession_id: int) -> str | None:
        """The picture kept with the race's main claim (a copy shows the same picture)."""
        value = await self._db.fetchval(
            "SELECT image_json FROM post_history WHERE guild_id = ? AND subsession_id = ?", (guild_id, subsession_id)
        )
        return str(value) if value else None

    async def record_filtered(
        self, guild_id: int, subsession_id: int, reason: str, *, finished_at: int, now: int
    ) -> bool:
        """A race the server's filters keep out: decided (state ``dropped`` with the reason) in the
        outbox, so it is neither posted nor fetched again; True the first time only."""
        return await insert_dropped(self._db, guild_id, subsession_id, reason, finished_at=finished_at, now=now)
