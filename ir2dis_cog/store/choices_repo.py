"""The repositories of a server's own choices: settings, extra channels' posts (post_copy),
member links, and the weekly digest's rows and claims. One or two atomic statements a method.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ir2dis_cog.core.choices import PODIUM, ServerChoices
from ir2dis_cog.core.digest import DigestRow
from ir2dis_cog.core.filters import CATEGORIES, Filters

from .database import Database
from .repo import validate_id

# Each setting is a column; only these names ever reach SQL text.
_SETTING_COLUMNS = (
    "categories",
    "min_sof",
    "series_in",
    "series_out",
    "category_channels",
    "podium_channel",
    "podium_top",
    "ping_members",
    "ping_role",
    "digest_channel",
    "digest_day",
    "digest_hour",
    "live_channel",
)


def _ids(text: str | None) -> frozenset[int]:
    return frozenset(int(x) for x in (text or "").split(",") if x.strip().isdigit())


def _id_text(ids: Iterable[int]) -> str | None:
    return ",".join(str(validate_id(i, "id")) for i in sorted(set(ids))) or None


def _channels(text: str | None) -> Mapping[str, int]:
    found: dict[str, int] = {}
    for part in (text or "").split(","):
        name, _, channel = part.partition(":")
        if name in CATEGORIES and channel.isdigit():
            found[name] = int(channel)
    return MappingProxyType(found)


def _choices(guild_id: int, row: tuple[Any, ...] | None) -> ServerChoices:
    if row is None:
        return ServerChoices(guild_id)
    cats, min_sof, s_in, s_out, chans, podium, top, ping_m, ping_r, d_ch, d_day, d_hour, live = row
    return ServerChoices(
        guild_id,
        Filters(
            categories=frozenset(c for c in (cats or "").split(",") if c in CATEGORIES),
            min_sof=int(min_sof or 0),
            series_in=_ids(s_in),
            series_out=_ids(s_out),
        ),
        category_channels=_channels(chans),
        podium_channel=int(podium) if podium else None,
        podium_top=int(top) if top in (1, 3) else PODIUM,
        ping_members=bool(ping_m),
        ping_role=int(ping_r) if ping_r else None,
        digest_channel=int(d_ch) if d_ch else None,
        digest_day=int(d_day) if d_day is not None and 0 <= int(d_day) <= 6 else 0,
        digest_hour=int(d_hour) if d_hour is not None and 0 <= int(d_hour) <= 23 else 9,
        live_channel=int(live) if live else None,
    )


class ChoicesRepo:
    """guild_choices: one row per server, a column per setting; absent row = the defaults."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, guild_id: int) -> ServerChoices:
        validate_id(guild_id, "guild id")
        row = await self._db.fetchone(
            f"SELECT {', '.join(_SETTING_COLUMNS)} FROM guild_choices WHERE guild_id = ?",  # noqa: S608
            (guild_id,),
        )
        return _choices(guild_id, row)

    async def get_many(self, guild_ids: Iterable[int]) -> dict[int, ServerChoices]:
        ids = sorted({validate_id(g, "guild id") for g in guild_ids})
        found = {g: ServerChoices(g) for g in ids}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = await self._db.fetchall(
                f"SELECT guild_id, {', '.join(_SETTING_COLUMNS)} FROM guild_choices "  # noqa: S608
                f"WHERE guild_id IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
            found.update((int(r[0]), _choices(int(r[0]), r[1:])) for r in rows)
        return found

    async def set(self, guild_id: int, *, now: int, **values: Any) -> None:
        """Change only the named settings (``None`` clears one back to its default)."""
        validate_id(guild_id, "guild id")
        unknown = set(values) - set(_SETTING_COLUMNS)
        if unknown or not values:
            raise ValueError(f"unknown settings: {sorted(unknown)}")
        sql = self._db.insert_ignore("guild_choices", ("guild_id", "updated_at"))
        await self._db.execute(sql, (guild_id, now))
        names = sorted(values)
        assignments = ", ".join(f"{n} = ?" for n in names)
        await self._db.execute(
            f"UPDATE guild_choices SET {assignments}, updated_at = ? WHERE guild_id = ?",  # noqa: S608
            [*(values[n] for n in names), now, guild_id],
        )

    async def set_filters(self, guild_id: int, filters: Filters, *, now: int) -> None:
        await self.set(
            guild_id,
            now=now,
            categories=",".join(c for c in CATEGORIES if c in filters.categories) or None,
            min_sof=filters.min_sof or None,
            series_in=_id_text(filters.series_in),
            series_out=_id_text(filters.series_out),
        )

    async def set_category_channels(self, guild_id: int, channels: Mapping[str, int], *, now: int) -> None:
        text = ",".join(f"{c}:{validate_id(channels[c], 'channel id')}" for c in CATEGORIES if c in channels)
        await self.set(guild_id, now=now, category_channels=text or None)

    async def with_digest(self) -> list[ServerChoices]:
        """The servers with a weekly digest on."""
        rows = await self._db.fetchall(
            f"SELECT guild_id, {', '.join(_SETTING_COLUMNS)} FROM guild_choices "  # noqa: S608
            "WHERE digest_channel IS NOT NULL ORDER BY guild_id"
        )
        return [_choices(int(r[0]), r[1:]) for r in rows]

    async def forget(self, guild_id: int) -> None:
        await self._db.execute("DELETE FROM guild_choices WHERE guild_id = ?", (validate_id(guild_id, "guild id"),))


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

    async def claim(self, row: CopyRow, owner: str, *, now: int, lease_seconds: int) -> bool:
        """True for exactly one caller: it must publish this copy."""
        validate_id(row.guild_id, "guild id")
        validate_id(row.subsession_id, "subsession id")
        validate_id(row.channel_id, "channel id")
        sql = self._db.insert_ignore(
            "post_copy",
            (
                "guild_id",
                "subsession_id",
                "channel_id",
                "card_json",
                "mentions",
                "race_finished_at",
                "state",
                "claimed_at",
                "claim_owner",
                "lease_until",
                "attempts",
            ),
        )
        values = (row.guild_id, row.subsession_id, row.channel_id, row.card_json, row.mentions)
        won = await self._db.execute(
            sql, (*values, row.race_finished_at, "pending", now, owner[:64], now + lease_seconds, 0)
        )
        return won == 1

    async def record(self, guild_id: int, subsession_id: int, channel_id: int, message_id: int, *, now: int) -> bool:
        validate_id(message_id, "message id")
        changed = await self._db.execute(
            "UPDATE post_copy SET message_id = ?, posted_at = ?, state = 'posted', claim_owner = NULL, "
            "lease_until = NULL WHERE guild_id = ? AND subsession_id = ? AND channel_id = ? AND state = 'pending'",
            (message_id, now, guild_id, subsession_id, channel_id),
        )
        return changed == 1

    async def fail(
        self, guild_id: int, subsession_id: int, channel_id: int, error: str, *, now: int, retry_after: int
    ) -> None:
        await self._db.execute(
            "UPDATE post_copy SET attempts = attempts + 1, last_error = ?, last_error_at = ?, claim_owner = NULL, "
            "lease_until = ? WHERE guild_id = ? AND subsession_id = ? AND channel_id = ? AND state = 'pending'",
            (error[:255], now, now + retry_after, guild_id, subsession_id, channel_id),
        )

    async def drop(self, guild_id: int, subsession_id: int, channel_id: int, reason: str, *, now: int) -> None:
        await self._db.execute(
            "UPDATE post_copy SET state = 'dropped', last_error = ?, last_error_at = ?, claim_owner = NULL, "
            "lease_until = NULL WHERE guild_id = ? AND subsession_id = ? AND channel_id = ? AND state = 'pending'",
            (reason[:255], now, guild_id, subsession_id, channel_id),
        )

    async def take_over(
        self, guild_id: int, subsession_id: int, channel_id: int, owner: str, *, now: int, lease_seconds: int
    ) -> bool:
        changed = await self._db.execute(
            "UPDATE post_copy SET claim_owner = ?, claimed_at = ?, lease_until = ? "
            "WHERE guild_id = ? AND subsession_id = ? AND channel_id = ? AND state = 'pending' "
            "AND (lease_until IS NULL OR lease_until <= ?)",
            (owner[:64], now, now + lease_seconds, guild_id, subsession_id, channel_id, now),
        )
        return changed == 1

    async def release_earlier_lives(self, instance: str, current_owner: str) -> int:
        """As ``PostRepo.release_earlier_lives``: a restart settles its dead predecessor's copies."""
        if not instance or any(ch in instance for ch in "%_:"):
            raise ValueError("an instance id is a non-empty string without % _ or :")
        return await self._db.execute(
            "UPDATE post_copy SET lease_until = NULL, claim_owner = NULL "
            "WHERE state = 'pending' AND claim_owner LIKE ? AND claim_owner <> ?",
            (f"{instance}:%", current_owner[:64]),
        )

    async def unresolved(self, *, now: int, limit: int = 1000) -> list[CopyRow]:
        rows = await self._db.fetchall(
            "SELECT guild_id, subsession_id, channel_id, card_json, mentions, race_finished_at, attempts "
            "FROM post_copy WHERE state = 'pending' AND (lease_until IS NULL OR lease_until <= ?) "
            "ORDER BY race_finished_at, subsession_id LIMIT ?",
            (now, limit),
        )
        return [CopyRow(int(g), int(s), int(c), str(j), m, int(t), int(a)) for g, s, c, j, m, t, a in rows]

    async def state(self, guild_id: int, subsession_id: int, channel_id: int) -> str | None:
        return await self._db.fetchval(  # type: ignore[no-any-return]
            "SELECT state FROM post_copy WHERE guild_id = ? AND subsession_id = ? AND channel_id = ?",
            (guild_id, subsession_id, channel_id),
        )

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


class DigestRepo:
    """digest_row (what the digest counts) and digest_sent (once per server and week)."""

    def __init__(self, db: Database) -> None:
        self._db = db

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
        sql = self._db.insert_ignore(
            "digest_sent", ("guild_id", "week", "claimed_at", "claim_owner", "channel_id", "state")
        )
        won = await self._db.execute(
            sql, (validate_id(guild_id, "guild id"), week[:10], now, owner[:64], channel_id, "pending")
        )
        return won == 1

    async def record_week(self, guild_id: int, week: str, message_id: int | None, *, state: str) -> None:
        await self._db.execute(
            "UPDATE digest_sent SET message_id = ?, state = ?, claim_owner = NULL WHERE guild_id = ? AND week = ?",
            (message_id, state, guild_id, week),
        )

    async def week_state(self, guild_id: int, week: str) -> str | None:
        value = await self._db.fetchval(
            "SELECT state FROM digest_sent WHERE guild_id = ? AND week = ?", (guild_id, week)
        )
        return str(value) if value is not None else None


class LiveNoticeRepo:
    """live_notice: "on track now", at most one notice per (server, race)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim(self, guild_id: int, subsession_id: int, channel_id: int, owner: str, *, now: int) -> bool:
        """True for exactly one caller per (server, race): it sends that race's notice."""
        sql = self._db.insert_ignore(
            "live_notice", ("guild_id", "subsession_id", "channel_id", "claimed_at", "claim_owner", "state")
        )
        won = await self._db.execute(
            sql,
            (
                validate_id(guild_id, "guild id"),
                validate_id(subsession_id, "subsession id"),
                validate_id(channel_id, "channel id"),
                now,
                owner[:64],
                "pending",
            ),
        )
        return won == 1

    async def record(self, guild_id: int, subsession_id: int, message_id: int | None, *, state: str) -> None:
        await self._db.execute(
            "UPDATE live_notice SET message_id = ?, state = ?, claim_owner = NULL "
            "WHERE guild_id = ? AND subsession_id = ?",
            (message_id, state[:16], guild_id, subsession_id),
        )

    async def state(self, guild_id: int, subsession_id: int) -> str | None:
        value = await self._db.fetchval(
            "SELECT state FROM live_notice WHERE guild_id = ? AND subsession_id = ?", (guild_id, subsession_id)
        )
        return str(value) if value is not None else None

    async def forget_before(self, when: int) -> int:
        """Notices of races long over are no use any more (a live race lasts a day at most)."""
        return await self._db.execute("DELETE FROM live_notice WHERE claimed_at < ?", (when,))


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
