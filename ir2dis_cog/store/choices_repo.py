"""guild_choices: a server's own choices (filters, channels, pings, digest and live settings).
One or two atomic statements a method.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from ir2dis_cog.core.choices import PODIUM, ServerChoices
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
