"""Hosted and league races in the store: per driver the hosted watermark, per server its followed
leagues and the kinds of race it gets (migration 0005)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from ir2dis_cog.core.kinds import decode_kinds, encode_kinds

from .database import Database
from .repo import validate_id

_IN_CHUNK = 500


@dataclass(frozen=True)
class HostedWatch:
    """Where a driver's next search_hosted starts, and when they last raced a hosted or league race."""

    cust_id: int
    finish_begin: int
    last_race_at: int | None
    learned: bool
    checked_at: int


@dataclass(frozen=True)
class LeagueFollow:
    guild_id: int
    league_id: int
    league_name: str
    after_subsession_id: int  # the newest race with results when the server followed: posted are later ones
    followed_at: int


class HostedWatchRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def start(self, cust_id: int, now: int) -> None:
        """A server tracks the driver: no backlog, the next search begins now (never moves back)."""
        validate_id(cust_id, "cust_id")
        sql = self._db.insert_ignore("hosted_watch", ("cust_id", "finish_begin", "learned", "checked_at"))
        if await self._db.execute(sql, (cust_id, now, 0, 0)) == 0:
            await self._db.execute(
                "UPDATE hosted_watch SET finish_begin = ? WHERE cust_id = ? AND finish_begin < ?", (now, cust_id, now)
            )

    async def get_many(self, cust_ids: Iterable[int]) -> dict[int, HostedWatch]:
        ids = sorted({validate_id(c, "cust_id") for c in cust_ids})
        found: dict[int, HostedWatch] = {}
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows = await self._db.fetchall(
                "SELECT cust_id, finish_begin, last_race_at, learned, checked_at FROM hosted_watch "  # noqa: S608
                f"WHERE cust_id IN ({marks})",
                chunk,
            )
            for c, begin, last, learned, checked in rows:
                found[int(c)] = HostedWatch(
                    int(c), int(begin), None if last is None else int(last), bool(learned), int(checked)
                )
        return found

    async def checked(self, cust_id: int, *, finish_begin: int, last_race_at: int | None, now: int) -> None:
        """After a search: the watermark only moves forward, the last race only to a later one."""
        validate_id(cust_id, "cust_id")
        await self._db.execute(
            "UPDATE hosted_watch SET learned = 1, checked_at = ?, "
            "finish_begin = CASE WHEN finish_begin < ? THEN ? ELSE finish_begin END, "
            "last_race_at = CASE WHEN last_race_at IS NULL OR last_race_at < ? THEN ? ELSE last_race_at END "
            "WHERE cust_id = ?",
            (now, finish_begin, finish_begin, last_race_at or 0, last_race_at, cust_id),
        )


class LeagueFollowRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def follow(
        self, guild_id: int, league_id: int, name: str, after_subsession_id: int, created_by: int | None, *, now: int
    ) -> bool:
        """True when the server did not follow the league yet (a second follow changes nothing)."""
        validate_id(guild_id, "guild id")
        validate_id(league_id, "league id")
        if created_by is not None:
            validate_id(created_by, "user id")
        sql = self._db.insert_ignore(
            "league_follow",
            ("guild_id", "league_id", "league_name", "after_subsession_id", "followed_at", "created_by"),
        )
        params = (guild_id, league_id, name[:255], max(0, after_subsession_id), now, created_by)
        return await self._db.execute(sql, params) == 1

    async def unfollow(self, guild_id: int, league_id: int) -> bool:
        validate_id(guild_id, "guild id")
        validate_id(league_id, "league id")
        sql = "DELETE FROM league_follow WHERE guild_id = ? AND league_id = ?"
        return await self._db.execute(sql, (guild_id, league_id)) == 1

    async def for_guild(self, guild_id: int) -> list[LeagueFollow]:
        validate_id(guild_id, "guild id")
        rows = await self._db.fetchall(
            "SELECT guild_id, league_id, league_name, after_subsession_id, followed_at FROM league_follow "
            "WHERE guild_id = ? ORDER BY league_name, league_id",
            (guild_id,),
        )
        return [LeagueFollow(int(g), int(lg), str(n), int(a), int(f)) for g, lg, n, a, f in rows]

    async def by_league(self) -> dict[int, list[LeagueFollow]]:
        """Every followed league with the servers following it (the poller's one read a cycle)."""
        rows = await self._db.fetchall(
            "SELECT guild_id, league_id, league_name, after_subsession_id, followed_at FROM league_follow"
        )
        out: defaultdict[int, list[LeagueFollow]] = defaultdict(list)
        for g, lg, n, a, f in rows:
            out[int(lg)].append(LeagueFollow(int(g), int(lg), str(n), int(a), int(f)))
        return dict(out)

    async def forget_user(self, user_id: int) -> int:
        validate_id(user_id, "user id")
        return await self._db.execute("UPDATE league_follow SET created_by = NULL WHERE created_by = ?", (user_id,))


class RaceKindsRepo:
    """``guild.race_kinds``: kept apart from GuildRepo so the poller reads it only where it matters."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def set(self, guild_id: int, kinds: Iterable[str], *, now: int) -> None:
        validate_id(guild_id, "guild id")
        stored = encode_kinds(kinds)
        await self._db.execute(
            self._db.insert_ignore("guild", ("guild_id", "created_at", "updated_at")), (guild_id, now, now)
        )
        await self._db.execute(
            "UPDATE guild SET race_kinds = ?, updated_at = ? WHERE guild_id = ?", (stored, now, guild_id)
        )

    async def get_many(self, guild_ids: Iterable[int]) -> dict[int, frozenset[str] | None]:
        """guild -> its kinds (None: all three). A server without a row gets every kind."""
        ids = sorted({validate_id(g, "guild id") for g in guild_ids})
        found: dict[int, frozenset[str] | None] = dict.fromkeys(ids)
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows = await self._db.fetchall(
                f"SELECT guild_id, race_kinds FROM guild WHERE guild_id IN ({marks})",  # noqa: S608
                chunk,
            )
            found.update((int(g), decode_kinds(k)) for g, k in rows)
        return found
