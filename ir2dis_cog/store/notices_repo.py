"""live_notice: "on track now", at most one notice per (server, race)."""

from __future__ import annotations

from .claims import Claims
from .database import Database
from .repo import validate_id


class LiveNoticeRepo:
    """live_notice: "on track now", at most one notice per (server, race)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._claims = Claims(db, "live_notice", ("guild_id", "subsession_id"))

    async def claim(self, guild_id: int, subsession_id: int, channel_id: int, owner: str, *, now: int) -> bool:
        """True for exactly one caller per (server, race): it sends that race's notice."""
        values = {
            "guild_id": validate_id(guild_id, "guild id"),
            "subsession_id": validate_id(subsession_id, "subsession id"),
            "channel_id": validate_id(channel_id, "channel id"),
        }
        return await self._claims.claim(values, owner, now=now)

    async def record(self, guild_id: int, subsession_id: int, message_id: int | None, *, state: str) -> None:
        await self._claims.settle((guild_id, subsession_id), message_id, state=state[:16])

    async def state(self, guild_id: int, subsession_id: int) -> str | None:
        return await self._claims.state((guild_id, subsession_id))

    async def forget_before(self, when: int) -> int:
        """Notices of races long over are no use any more (a live race lasts a day at most)."""
        return await self._db.execute("DELETE FROM live_notice WHERE claimed_at < ?", (when,))
