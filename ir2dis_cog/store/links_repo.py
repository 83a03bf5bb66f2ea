"""member_link: "this iRacing driver is me", confirmed by the server's admins."""

from __future__ import annotations

from dataclasses import dataclass

from .database import Database
from .repo import validate_id


@dataclass(frozen=True)
class MemberLink:
    guild_id: int
    cust_id: int
    user_id: int
    confirmed: bool
    created_at: int


class LinkTakenError(ValueError):
    """The driver is linked to another member of the server (or the member to another driver)."""


class LinkRepo:
    """member_link: "this iRacing driver is me", one member per driver and one driver per member."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def link(self, guild_id: int, cust_id: int, user_id: int, *, now: int) -> bool:
        """True when made; False when the member already has this very link. Raises LinkTakenError
        when the driver or the member is linked otherwise (the unique keys decide, atomically)."""
        validate_id(guild_id, "guild id")
        validate_id(cust_id, "cust_id")
        validate_id(user_id, "user id")
        current = await self.of_user(guild_id, user_id)
        if current is not None and current.cust_id == cust_id:
            return False
        if current is not None:
            raise LinkTakenError("member")
        sql = self._db.insert_ignore("member_link", ("guild_id", "cust_id", "user_id", "confirmed", "created_at"))
        try:
            won = await self._db.execute(sql, (guild_id, cust_id, user_id, 0, now))
        except Exception as exc:  # the unique (guild, user) index: the member linked another driver just now
            if "unique" in str(exc).lower() or "duplicate" in str(exc).lower():
                raise LinkTakenError("member") from None
            raise
        if won != 1:
            raise LinkTakenError("driver")
        return True

    async def of_user(self, guild_id: int, user_id: int) -> MemberLink | None:
        row = await self._db.fetchone(
            "SELECT guild_id, cust_id, user_id, confirmed, created_at FROM member_link "
            "WHERE guild_id = ? AND user_id = ?",
            (validate_id(guild_id, "guild id"), validate_id(user_id, "user id")),
        )
        return MemberLink(int(row[0]), int(row[1]), int(row[2]), bool(row[3]), int(row[4])) if row else None

    async def for_guild(self, guild_id: int) -> list[MemberLink]:
        rows = await self._db.fetchall(
            "SELECT guild_id, cust_id, user_id, confirmed, created_at FROM member_link WHERE guild_id = ? "
            "ORDER BY cust_id",
            (validate_id(guild_id, "guild id"),),
        )
        return [MemberLink(int(g), int(c), int(u), bool(k), int(t)) for g, c, u, k, t in rows]

    async def confirmed(self, guild_id: int) -> dict[int, int]:
        """cust_id -> user id of the links the server's admins confirmed (the only ones pinged)."""
        return {link.cust_id: link.user_id for link in await self.for_guild(guild_id) if link.confirmed}

    async def confirm(self, guild_id: int, user_id: int) -> bool:
        changed = await self._db.execute(
            "UPDATE member_link SET confirmed = 1 WHERE guild_id = ? AND user_id = ? AND confirmed = 0",
            (validate_id(guild_id, "guild id"), validate_id(user_id, "user id")),
        )
        return changed == 1

    async def remove(self, guild_id: int, user_id: int) -> bool:
        changed = await self._db.execute(
            "DELETE FROM member_link WHERE guild_id = ? AND user_id = ?",
            (validate_id(guild_id, "guild id"), validate_id(user_id, "user id")),
        )
        return changed == 1

    async def forget_user(self, user_id: int) -> int:
        """Red's data deletion: every link of this user, in every server."""
        return await self._db.execute("DELETE FROM member_link WHERE user_id = ?", (validate_id(user_id, "user id"),))
