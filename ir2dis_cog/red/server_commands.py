"""/iracing filter|route|link|me|pings|digest: what each server hears, where, and whom it pings.

A mixin attached to the /iracing group. Settings need Manage Server (or the bot's admin role);
``link`` and ``me`` are every member's. Bad input is one short private sentence, nothing changed.

Trust of member links: a member may link themselves to a driver the server tracks, one driver per
member and one member per driver. The link shows in ``/iracing me`` at once, but a ping names a
member in public as that driver, so only a link an admin confirmed is ever pinged; an admin can
also remove any link (a driver claimed by the wrong member is freed that way).
"""

from __future__ import annotations

import time

import discord
from discord import app_commands
from redbot.core import commands
from redbot.core.utils.chat_formatting import escape, humanize_list

from ir2dis_cog.core.choices import PODIUM, WIN, ServerChoices
from ir2dis_cog.core.digest import WEEKDAYS, next_digest, parse_day
from ir2dis_cog.core.driver_input import Candidate, autocomplete_choices, filter_tracked, match_tracked
from ir2dis_cog.core.filters import (
    CATEGORIES,
    CATEGORY_LABELS,
    MAX_SERIES,
    ChoiceError,
    Filters,
    parse_categories,
    parse_category,
    parse_min_sof,
)
from ir2dis_cog.core.kinds import describe as describe_kinds
from ir2dis_cog.red.errors import UserFacingError
from ir2dis_cog.red.iracing_commands import IRacingCommands
from ir2dis_cog.red.publisher import missing_permissions
from ir2dis_cog.store import LinkTakenError


def _name(text: str) -> str:
    return escape(text, formatting=True, mass_mentions=True)


def _channel(channel_id: int | None) -> str:
    return f"<#{channel_id}>" if channel_id else "none"


def describe_choices(c: ServerChoices, kinds: str, series_names: dict[int, str]) -> str:
    """``/iracing filter show``: every choice of the server in one message."""
    f = c.filters

    def series(ids: frozenset[int]) -> str:
        return ", ".join(_name(series_names.get(i, str(i))) for i in sorted(ids))

    cats = ", ".join(CATEGORY_LABELS[x] for x in CATEGORIES if x in f.categories) or "all"
    lines = [
        f"**Categories:** {cats}",
        f"**Minimum SOF:** {f.min_sof or 'none'}",
        f"**Series:** {'only ' + series(f.series_in) if f.series_in else 'all'}"
        + (f", except {series(f.series_out)}" if f.series_out else ""),
        f"**Kinds:** {kinds}",
    ]
    routes = ", ".join(f"{CATEGORY_LABELS[k]} → {_channel(v)}" for k, v in sorted(c.category_channels.items()))
    lines.append(f"**Channels by category:** {routes or 'none (all in the results channel)'}")
    threshold = "a win" if c.podium_top == WIN else "a class podium"
    lines.append(f"**Podium channel:** {_channel(c.podium_channel)} (for {threshold})")
    who = [w for w, on in (("linked members", c.ping_members), (_channel_role(c.ping_role), c.ping_role)) if on]
    lines.append(f"**Pings on {threshold}:** {humanize_list(who) if who else 'off'}")
    digest = (
        f"{WEEKDAYS[c.digest_day]} {c.digest_hour:02d}:00 in {_channel(c.digest_channel)}"
        if c.digest_channel
        else "off"
    )
    lines.append(f"**Weekly digest:** {digest}")
    lines.append(f"**On track now:** {_channel(c.live_channel) if c.live_channel else 'off'}")
    return "\n".join(lines)


def _channel_role(role_id: int | None) -> str:
    return f"<@&{role_id}>" if role_id else "no role"


class ServerCommands(IRacingCommands):
    """A server's own choices (issue 15); settings changed one at a time, each kept in the store."""

    def _postable(self, channel: discord.TextChannel) -> None:
        missing = missing_permissions(channel.permissions_for(channel.guild.me))
        if missing:
            raise UserFacingError(
                f"I can't post in {channel.mention}: I am missing {humanize_list(missing)} there. Nothing was changed."
            )

    async def _driver_name(self, guild_id: int, cust_id: int) -> str:
        """A tracked driver's name as this server shows it (escaped), else their customer id."""
        store, _, _ = self._ready()
        names = {d.cust_id: d.display_name for d in await store.drivers.list_for_guild(guild_id)}
        return _name(names[cust_id]) if cust_id in names else f"driver {cust_id}"

    async def _series_choices(self, guild_id: int, current: str) -> list[app_commands.Choice[str]]:
        if self.store is None:
            return []
        needle = current.strip().casefold()
        found = await self.store.digest.series(guild_id)
        return [
            app_commands.Choice(name=f"{name[:90]} ({sid})", value=str(sid))
            for sid, name in found
            if needle in name.casefold() or needle == str(sid)
        ][:25]

    # ----- /iracing filter -----

    @IRacingCommands.iracing.group(name="filter")
    async def iracing_filter(self, ctx: commands.Context) -> None:
        """Which races are posted here: categories, minimum SOF, series."""

    @iracing_filter.command(name="show")
    async def iracing_filter_show(self, ctx: commands.Context) -> None:
        """Everything this server chose: filters, channels, pings, digest."""
        store, _, _ = self._ready()
        guild_id = self._guild_id(ctx)
        choices = await store.choices.get(guild_id)
        kinds = (await store.race_kinds.get_many([guild_id])).get(guild_id)
        names = dict(await store.digest.series(guild_id, limit=500))
        await self._reply(ctx, describe_choices(choices, describe_kinds(kinds), names))

    @iracing_filter.command(name="category")
    @commands.admin_or_permissions(manage_guild=True)
    @app_commands.describe(
        categories="oval, sports_car, formula_car, dirt_oval, dirt_road (several with commas) or all"
    )
    async def iracing_filter_category(self, ctx: commands.Context, *, categories: str) -> None:
        """Post only races of these licence categories (all: every category)."""
        store, _, _ = self._ready()
        try:
            chosen = parse_categories(categories)
        except ChoiceError as exc:
            raise UserFacingError(f"{exc} Nothing was changed.") from None
        guild_id = self._guild_id(ctx)
        current = (await store.choices.get(guild_id)).filters
        await store.choices.set_filters(guild_id, _with(current, categories=chosen), now=int(time.time()))
        shown = ", ".join(CATEGORY_LABELS[c] for c in CATEGORIES if c in chosen) or "every category"
        await self._reply(ctx, f"Races posted here: {shown}. Older road races count as sports car and formula car.")

    @iracing_filter_category.autocomplete("categories")
    async def _category_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        head, _, last = current.rpartition(",")
        prefix = f"{head}, " if head else ""
        names = [c for c in (*CATEGORIES, "all") if c.startswith(last.strip().casefold())]
        return [app_commands.Choice(name=f"{prefix}{c}"[:100], value=f"{prefix}{c}"[:100]) for c in names]

    @iracing_filter.command(name="sof")
    @commands.admin_or_permissions(manage_guild=True)
    @app_commands.describe(minimum="The lowest strength of field posted here (0: no minimum)")
    async def iracing_filter_sof(self, ctx: commands.Context, minimum: str) -> None:
        """Post only races with at least this strength of field."""
        store, _, _ = self._ready()
        try:
            value = parse_min_sof(minimum)
        except ChoiceError as exc:
            raise UserFacingError(f"{exc} Nothing was changed.") from None
        guild_id = self._guild_id(ctx)
        current = (await store.choices.get(guild_id)).filters
        await store.choices.set_filters(guild_id, _with(current, min_sof=value), now=int(time.time()))
        await self._reply(ctx, f"Races posted here need an SOF of at least {value}." if value else "No minimum SOF.")

    @iracing_filter.command(name="series")
    @commands.admin_or_permissions(manage_guild=True)
    @app_commands.describe(
        action="only: post just the chosen series; exclude: never post it; allow: undo either; clear: all series",
        series="A series from this server's races (autocomplete), or its id",
    )
    @app_commands.choices(
        action=[
            app_commands.Choice(name="only (post just the chosen series)", value="only"),
            app_commands.Choice(name="exclude (never post this series)", value="exclude"),
            app_commands.Choice(name="allow (undo only/exclude for this series)", value="allow"),
            app_commands.Choice(name="clear (every series again)", value="clear"),
        ]
    )
    async def iracing_filter_series(self, ctx: commands.Context, action: str, series: str = "") -> None:
        """Choose series to post only, or to leave out."""
        store, _, _ = self._ready()
        guild_id = self._guild_id(ctx)
        current = (await store.choices.get(guild_id)).filters
        act = action.strip().casefold()
        if act == "clear":
            await store.choices.set_filters(
                guild_id, _with(current, series_in=frozenset(), series_out=frozenset()), now=int(time.time())
            )
            await self._reply(ctx, "Every series is posted again.")
            return
        if act not in ("only", "exclude", "allow"):
            raise UserFacingError("The action is only, exclude, allow or clear. Nothing was changed.")
        raw = series.strip()
        if not raw.isdigit() or not 0 < int(raw) < 1_000_000:
            raise UserFacingError("Pick a series from the list, or give its id. Nothing was changed.")
        sid = int(raw)
        s_in, s_out = set(current.series_in) - {sid}, set(current.series_out) - {sid}
        if act == "only":
            s_in.add(sid)
        elif act == "exclude":
            s_out.add(sid)
        if len(s_in) > MAX_SERIES or len(s_out) > MAX_SERIES:
            raise UserFacingError(f"A server can choose at most {MAX_SERIES} series each way. Nothing was changed.")
        new = _with(current, series_in=frozenset(s_in), series_out=frozenset(s_out))
        await store.choices.set_filters(guild_id, new, now=int(time.time()))
        names = dict(await store.digest.series(guild_id, limit=500))
        shown = _name(names.get(sid, f"series {sid}"))
        said = {"only": "is now among the only series posted", "exclude": "is no longer posted", "allow": "is allowed"}
        await self._reply(ctx, f"{shown} {said[act]}.")

    @iracing_filter_series.autocomplete("series")
    async def _series_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild_id is None:
            return []
        return await self._series_choices(interaction.guild_id, current)

    # ----- /iracing route -----

    @IRacingCommands.iracing.group(name="route")
    async def iracing_route(self, ctx: commands.Context) -> None:
        """Where races go: a channel per category, and a podium channel."""

    @iracing_route.command(name="category")
    @commands.admin_or_permissions(manage_guild=True)
    @app_commands.describe(
        category="A licence category", channel="Its channel (leave out: back to the results channel)"
    )
    @app_commands.choices(category=[app_commands.Choice(name=CATEGORY_LABELS[c], value=c) for c in CATEGORIES])
    async def iracing_route_category(
        self, ctx: commands.Context, category: str, channel: discord.TextChannel | None = None
    ) -> None:
        """Post this category's races in their own channel instead of the results channel."""
        store, _, _ = self._ready()
        try:
            key = parse_category(category)
        except ChoiceError as exc:
            raise UserFacingError(f"{exc} Nothing was changed.") from None
        if channel is not None:
            self._postable(channel)
        guild_id = self._guild_id(ctx)
        routes = dict((await store.choices.get(guild_id)).category_channels)
        if channel is None:
            routes.pop(key, None)
        else:
            routes[key] = channel.id
        await store.choices.set_category_channels(guild_id, routes, now=int(time.time()))
        where = channel.mention if channel else "the results channel"
        await self._reply(ctx, f"{CATEGORY_LABELS[key]} races will be posted in {where}.")

    @iracing_route.command(name="podium")
    @commands.admin_or_permissions(manage_guild=True)
    @app_commands.describe(
        channel="Where podiums are posted too (leave out: no podium channel)",
        threshold="podium: a class top 3 (default); win: a class win only",
    )
    @app_commands.choices(
        threshold=[
            app_commands.Choice(name="podium (class top 3)", value="podium"),
            app_commands.Choice(name="win (class win only)", value="win"),
        ]
    )
    async def iracing_route_podium(
        self, ctx: commands.Context, channel: discord.TextChannel | None = None, threshold: str = "podium"
    ) -> None:
        """Also post a race in which a tracked driver made the class podium (or won) in this channel."""
        store, _, _ = self._ready()
        top = {"podium": PODIUM, "win": WIN}.get(threshold.strip().casefold())
        if top is None:
            raise UserFacingError("The threshold is podium or win. Nothing was changed.")
        if channel is not None:
            self._postable(channel)
        await store.choices.set(
            self._guild_id(ctx), now=int(time.time()), podium_channel=channel.id if channel else None, podium_top=top
        )
        what = "a class win" if top == WIN else "a class podium"
        if channel is None:
            await self._reply(ctx, "No podium channel: podiums are posted like any other race.")
        else:
            await self._reply(ctx, f"Races with {what} of a tracked driver will also be posted in {channel.mention}.")

    # ----- pings -----

    @IRacingCommands.iracing.command(name="pings")
    @commands.admin_or_permissions(manage_guild=True)
    @app_commands.describe(
        members="Mention a confirmed linked member on their podium or win",
        role="A role to mention on a podium or win (leave out: none)",
    )
    async def iracing_pings(self, ctx: commands.Context, members: bool, role: discord.Role | None = None) -> None:
        """Mention linked members and/or a role when a tracked driver makes the podium (off by default)."""
        store, _, _ = self._ready()
        if role is not None:
            me = role.guild.me
            if role.is_default() or role.managed:
                raise UserFacingError("That role cannot be pinged. Nothing was changed.")
            if not role.mentionable and not (me is not None and me.guild_permissions.mention_everyone):
                raise UserFacingError(
                    f"I can't mention {role.mention}: make it mentionable or give me Mention All Roles."
                    " Nothing was changed."
                )
        await store.choices.set(
            self._guild_id(ctx),
            now=int(time.time()),
            ping_members=1 if members else 0,
            ping_role=role.id if role else None,
        )
        who = [w for w, on in (("confirmed linked members", members), (role.mention if role else "", role)) if on]
        await self._reply(ctx, f"Podiums will mention {humanize_list(who)}." if who else "Pings are off.")

    # ----- member links -----

    @IRacingCommands.iracing.group(name="link", fallback="driver", invoke_without_command=True)
    @app_commands.describe(driver="A driver this server tracks (name or customer id)")
    async def iracing_link(self, ctx: commands.Context, *, driver: str) -> None:
        """Say "this iRacing driver is me" (a driver this server tracks)."""
        store, _, _ = self._ready()
        guild_id = self._guild_id(ctx)
        tracked = [Candidate(d.cust_id, d.display_name) for d in await store.drivers.list_for_guild(guild_id)]
        found = match_tracked(driver, tracked)
        try:
            made = await store.links.link(guild_id, found.cust_id, ctx.author.id, now=int(time.time()))
        except LinkTakenError as exc:
            if str(exc) == "member":
                raise UserFacingError(
                    "You are linked to another driver already; a server admin can remove that link."
                    " Nothing was changed."
                ) from None
            raise UserFacingError(
                f"**{_name(found.display_name)}** is linked to another member already. Nothing was changed."
            ) from None
        name = _name(found.display_name)
        if not made:
            await self._reply(ctx, f"You are already linked to **{name}**.")
            return
        await self._reply(ctx, f"You are linked to **{name}**. Pings name you only once a server admin confirms it.")

    @iracing_link.autocomplete("driver")
    async def _link_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if self.store is None or interaction.guild_id is None:
            return []
        tracked = [
            Candidate(d.cust_id, d.display_name) for d in await self.store.drivers.list_for_guild(interaction.guild_id)
        ]
        return [app_commands.Choice(name=n, value=v) for n, v in autocomplete_choices(filter_tracked(current, tracked))]

    @iracing_link.command(name="confirm")
    @commands.admin_or_permissions(manage_guild=True)
    @app_commands.describe(member="A member who linked themselves to a driver")
    async def iracing_link_confirm(self, ctx: commands.Context, member: discord.Member) -> None:
        """Confirm a member's link (then their podiums can ping them)."""
        store, _, _ = self._ready()
        guild_id = self._guild_id(ctx)
        link = await store.links.of_user(guild_id, member.id)
        if link is None:
            raise UserFacingError(f"{member.mention} has not linked a driver.")
        await store.links.confirm(guild_id, member.id)
        driver = await self._driver_name(guild_id, link.cust_id)
        await self._reply(ctx, f"{member.mention} is confirmed as **{driver}**: their podiums can ping them.")

    @iracing_link.command(name="remove")
    @commands.admin_or_permissions(manage_guild=True)
    @app_commands.describe(member="A member whose link to a driver is removed")
    async def iracing_link_remove(self, ctx: commands.Context, member: discord.Member) -> None:
        """Remove a member's link to a driver."""
        store, _, _ = self._ready()
        if not await store.links.remove(self._guild_id(ctx), member.id):
            raise UserFacingError(f"{member.mention} has not linked a driver.")
        await self._reply(ctx, f"{member.mention}'s link is removed.")

    @IRacingCommands.iracing.command(name="me")
    async def iracing_me(self, ctx: commands.Context) -> None:
        """Your linked driver and their last race posted here."""
        store, _, _ = self._ready()
        guild_id = self._guild_id(ctx)
        link = await store.links.of_user(guild_id, ctx.author.id)
        if link is None:
            raise UserFacingError("You have not linked a driver: `/iracing link driver <name>`.")
        state = "confirmed" if link.confirmed else "not confirmed yet"
        last = await store.digest.last_race(guild_id, link.cust_id)
        if last is None:
            name = await self._driver_name(guild_id, link.cust_id)
            await self._reply(ctx, f"You are **{name}** ({state}). No race of yours was posted here yet.")
            return
        place = f"P{last.class_position}" if last.class_position else "no finishing place"
        incidents = f"{last.incidents} incidents" if last.incidents >= 0 else "incidents unknown"
        delta = last.irating_delta
        ir = f", iRating {'+' if delta and delta > 0 else ''}{delta}" if delta is not None else ""
        await self._reply(
            ctx,
            f"You are **{_name(last.name)}** ({state}). Last race: {_name(last.series_name or 'a race')},"
            f" <t:{last.finished_at}:R>: {place} in class, {incidents}{ir}.",
        )

    # ----- on track now -----

    @IRacingCommands.iracing.command(name="ontrack")
    @commands.admin_or_permissions(manage_guild=True)
    @app_commands.describe(channel="Where the notices go (leave out: no notices)")
    async def iracing_ontrack(self, ctx: commands.Context, channel: discord.TextChannel | None = None) -> None:
        """A short notice when a tracked driver's race goes live (off by default)."""
        store, _, settings = self._ready()
        if channel is not None:
            self._postable(channel)
        await store.choices.set(self._guild_id(ctx), now=int(time.time()), live_channel=channel.id if channel else None)
        if channel is None:
            await self._reply(ctx, "No on-track notices.")
            return
        said = f"When a tracked driver's race goes live, a short notice will be posted in {channel.mention}."
        if not settings.live_watch:
            said += " The bot owner has the live watcher off, so none come until it is on."
        await self._reply(ctx, said)

    # ----- weekly digest -----

    @IRacingCommands.iracing.command(name="digest")
    @commands.admin_or_permissions(manage_guild=True)
    @app_commands.describe(
        channel="Where the digest is posted (leave out: no digest)",
        day="Monday..Sunday (or 1..7, Monday is 1), in the server's time zone",
        hour="0..23, in the server's time zone",
    )
    async def iracing_digest(
        self, ctx: commands.Context, channel: discord.TextChannel | None = None, day: str = "Monday", hour: int = 9
    ) -> None:
        """A weekly summary: races, wins, podiums, iRating gains and losses, cleanest driver, best climb."""
        store, _, settings = self._ready()
        guild_id = self._guild_id(ctx)
        if channel is None:
            await store.choices.set(guild_id, now=int(time.time()), digest_channel=None)
            await self._reply(ctx, "No weekly digest.")
            return
        try:
            weekday = parse_day(day)
        except ValueError:
            raise UserFacingError(
                "The day is Monday to Sunday, or 1 to 7 (Monday is 1). Nothing was changed."
            ) from None
        if not 0 <= hour <= 23:
            raise UserFacingError("The hour is a whole number from 0 to 23. Nothing was changed.")
        self._postable(channel)
        await store.choices.set(
            guild_id, now=int(time.time()), digest_channel=channel.id, digest_day=weekday, digest_hour=hour
        )
        guild = await store.guilds.get(guild_id)
        zone = (guild.timezone if guild and guild.timezone else None) or settings.default_timezone
        when = next_digest(time.time(), zone, weekday, hour)
        await self._reply(
            ctx,
            f"A weekly digest will be posted in {channel.mention} on {WEEKDAYS[weekday]} at {hour:02d}:00"
            f" ({zone}), next <t:{when}:F>.",
        )


def _with(f: Filters, **changes: object) -> Filters:
    from dataclasses import replace

    return replace(f, **changes)  # type: ignore[arg-type]
