"""The /iracing hybrid group (also [p]iracing) and the owner's [p]iracingset: a mixin of the cog."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from redbot.core import commands
from redbot.core.utils.chat_formatting import humanize_list, pagify
from redbot.core.utils.views import SimpleMenu

from ir2dis_cog.config.settings import timezone_names, valid_timezone
from ir2dis_cog.core.driver_input import (
    MAX_NAME_LENGTH,
    Candidate,
    autocomplete_choices,
    filter_tracked,
    match_tracked,
    parse_driver_query,
    pick_candidate,
)
from ir2dis_cog.core.numbers import looks_like_number
from ir2dis_cog.core.records import DEFAULT_POST_STYLE, POST_STYLES
from ir2dis_cog.core.status_text import StatusView, format_status, store_outage_text
from ir2dis_cog.core.tracking import RaceRef, baseline_mark, newest_race
from ir2dis_cog.iracing.errors import IRacingError
from ir2dis_cog.poller.live_watcher import WATCHER_OFF
from ir2dis_cog.poller.owed import reason_words
from ir2dis_cog.red.abc import MixinMeta
from ir2dis_cog.red.answers import fit, shown
from ir2dis_cog.red.errors import UserFacingError, iracing_failure
from ir2dis_cog.red.permissions import missing_permissions
from ir2dis_cog.red.result_view import shown_result
from ir2dis_cog.red.scale_view import account_lines_of, work_lines_of
from ir2dis_cog.red.throttle import (
    IRACING_PER_SERVER,
    LASTRACE_PER_MEMBER,
    TRACK_PER_MEMBER,
    per_member,
    per_server,
)

if TYPE_CHECKING:
    from ir2dis_cog.config.settings import Settings
    from ir2dis_cog.iracing.client import IRacingClient
    from ir2dis_cog.iracing.models import Subsession
    from ir2dis_cog.store import Store

log = logging.getLogger("red.ir2dis.commands")

# Discord drops an autocomplete answer after 3 s: a lookup not back by then answers nothing.
AUTOCOMPLETE_SECONDS = 2.0

# What a member may type in a text option (Discord's max_length; a prefix call is held to it too).
DriverText = commands.Range[str, 1, MAX_NAME_LENGTH]
ZoneText = commands.Range[str, 1, 64]  # the longest IANA zone name is 32 characters
ChoiceText = commands.Range[str, 1, 20]  # an option with fixed choices (a prefix call may type anything)


class IRacingCommands(MixinMeta):
    """The /iracing group (also [p]iracing); the cog supplies its state (see ``MixinMeta``)."""

    # ----- helpers -----

    def _ready(self) -> tuple[Store, IRacingClient, Settings]:
        if self.store is None or self.client is None or self.settings is None:
            raise UserFacingError("ir2dis is still starting. Try again in a moment.")
        return self.store, self.client, self.settings

    def _credentials_ready(self) -> None:
        _, _, settings = self._ready()
        if settings.missing_iracing_credentials():
            raise UserFacingError("The bot owner has not given ir2dis its iRacing login yet.")

    async def _lookup(self, query: str) -> Candidate:
        """Resolve a cust_id or name to one existing iRacing member (members' lane, cached)."""
        _, client, _ = self._ready()
        self._credentials_ready()
        parsed = parse_driver_query(query)
        members_view = client.interactive()
        try:
            if isinstance(parsed, int):
                members = await members_view.get_members([parsed])
                if not members:
                    raise UserFacingError(f"No iRacing member has customer id {parsed}.")
                return Candidate(members[0].cust_id, members[0].display_name)
            found = await members_view.search_drivers(parsed)
        except IRacingError as exc:
            raise iracing_failure(exc) from None
        return pick_candidate(parsed, [Candidate(d.cust_id, d.display_name) for d in found])

    # ----- /iracing -----

    # discord.py types a group's callback as a method of a Cog; this mixin becomes one in IRacingCog.
    @commands.hybrid_group(name="iracing")  # type: ignore[arg-type]
    @commands.guild_only()
    async def iracing(self, ctx: commands.Context) -> None:
        """iRacing results: track drivers and get their races posted here."""

    @iracing.command(name="setchannel")
    @commands.admin_or_permissions(manage_guild=True)
    @app_commands.describe(channel="The channel where race results are posted")
    async def iracing_setchannel(self, ctx: commands.Context, channel: discord.TextChannel) -> None:
        """Set the channel where race results are posted."""
        store, _, _ = self._ready()
        missing = missing_permissions(channel.permissions_for(channel.guild.me))
        if missing:
            raise UserFacingError(
                f"I can't post results in {channel.mention}: I am missing {humanize_list(missing)} there."
                " Nothing was changed."
            )
        await store.guilds.set_channel(self._guild_id(ctx), channel.id, now=int(time.time()))
        note = ""
        if not channel.permissions_for(channel.guild.me).attach_files:
            note = " I am missing Attach Files there, so they go out without their picture until I have it."
        await self._reply(ctx, f"Race results will be posted in {channel.mention}.{note}")

    @iracing.command(name="track")
    @commands.admin_or_permissions(manage_guild=True)
    @per_member(*TRACK_PER_MEMBER)
    @per_server(*IRACING_PER_SERVER)
    @app_commands.describe(driver="The driver's iRacing customer id, or a name to search")
    async def iracing_track(self, ctx: commands.Context, *, driver: DriverText) -> None:
        """Track a driver: their new races are posted in the results channel."""
        store, client, _ = self._ready()
        await ctx.defer(ephemeral=True)
        found = await self._lookup(driver)
        # No backlog: only races after the driver's latest one are posted.
        try:
            races = await client.interactive().get_recent_races(found.cust_id)
        except IRacingError as exc:
            raise iracing_failure(exc) from None
        guild_id = self._guild_id(ctx)
        already = await store.drivers.is_tracked(guild_id, found.cust_id)
        if not already:
            await store.last_seen.set(guild_id, found.cust_id, *baseline_mark(RaceRef.of(r) for r in races))
            if not await store.drivers.active_tracking([found.cust_id]):
                # Hosted and league races from now on. A driver another server tracks keeps their
                # watermark: moving it would skip that server's races since the last search (this
                # server's backlog is kept out by when it started tracking, poller/hosted.py).
                await store.hosted.start(found.cust_id, int(time.time()))
        await store.drivers.track(guild_id, found.cust_id, found.display_name, ctx.author.id, now=int(time.time()))
        if self.engine is not None:
            self.engine.notice_tracked(found.cust_id)
        guild = await store.guilds.get(guild_id)
        where = (
            f"in <#{guild.channel_id}>"
            if guild and guild.channel_id
            else "once a channel is set with `/iracing setchannel`"
        )
        name = shown(found.display_name)
        verb = "Already tracking" if already else "Now tracking"
        await self._reply(ctx, f"{verb} **{name}** ({found.cust_id}). New races will be posted {where}.")

    @iracing_track.autocomplete("driver")
    async def _track_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        text = current.strip()
        # Ids and text no name can be (too short, too long) are not worth a request.
        if self.client is None or not 3 <= len(text) <= MAX_NAME_LENGTH or looks_like_number(text):
            return []
        # From the cache, or a lookup in the members' share that is back in time; never a queue.
        try:
            found = await self.client.interactive().search_within(current, AUTOCOMPLETE_SECONDS)
        except IRacingError:
            return []
        candidates = [Candidate(d.cust_id, d.display_name) for d in found]
        return [app_commands.Choice(name=n, value=v) for n, v in autocomplete_choices(candidates)]

    @iracing.command(name="untrack")
    @commands.admin_or_permissions(manage_guild=True)
    @app_commands.describe(driver="A tracked driver's name or customer id")
    async def iracing_untrack(self, ctx: commands.Context, *, driver: DriverText) -> None:
        """Stop tracking a driver."""
        store, _, _ = self._ready()
        drivers = await store.drivers.list_for_guild(self._guild_id(ctx))
        tracked = [Candidate(d.cust_id, d.display_name) for d in drivers]
        found = match_tracked(driver, tracked)
        await store.drivers.untrack(self._guild_id(ctx), found.cust_id)
        name = shown(found.display_name)
        await self._reply(ctx, f"Stopped tracking **{name}** ({found.cust_id}).")

    @iracing_untrack.autocomplete("driver")
    async def _untrack_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if self.store is None or interaction.guild_id is None:
            return []
        tracked = [
            Candidate(d.cust_id, d.display_name) for d in await self.store.drivers.list_for_guild(interaction.guild_id)
        ]
        return [app_commands.Choice(name=n, value=v) for n, v in autocomplete_choices(filter_tracked(current, tracked))]

    @iracing.command(name="list")
    async def iracing_list(self, ctx: commands.Context) -> None:
        """The drivers this server tracks, and the results channel."""
        # Private, as every other answer: the member asked, and ten asks in a second fill nobody's
        # channel (a cooldown would still let each one through publicly).
        store, _, _ = self._ready()
        guild = await store.guilds.get(self._guild_id(ctx))
        drivers = await store.drivers.list_for_guild(self._guild_id(ctx))
        channel = f"<#{guild.channel_id}>" if guild and guild.channel_id else "not set (`/iracing setchannel`)"
        zone = (guild.timezone if guild and guild.timezone else None) or (
            self.settings.default_timezone if self.settings else "UTC"
        )
        header = f"Results channel: {channel} · Time zone: {zone} · {len(drivers)} tracked"
        if not drivers:
            await self._reply(ctx, f"{header}\nNo drivers tracked yet: `/iracing track <name or id>`.")
            return
        lines = "\n".join(f"• {shown(d.display_name)} ({d.cust_id})" for d in drivers)
        pages: list[dict[str, str | discord.Embed] | discord.Embed | str] = [
            fit(f"{header}\n{page}") for page in pagify(lines, page_length=1800)
        ]
        if len(pages) == 1:
            await self._reply(ctx, str(pages[0]))
        else:
            await SimpleMenu(pages).start(ctx, ephemeral=True)

    @iracing.command(name="lastrace")
    @per_member(*LASTRACE_PER_MEMBER)
    @per_server(*IRACING_PER_SERVER)
    @app_commands.describe(driver="The driver's iRacing customer id, or a name to search")
    async def iracing_lastrace(self, ctx: commands.Context, *, driver: DriverText) -> None:
        """A driver's latest race, as the results channel would show it."""
        _, client, _ = self._ready()
        # A private "thinking...": the answer to a public one is public, and errors (no such
        # driver, iRacing busy, throttled) are for the member alone. The card follows publicly.
        await ctx.defer(ephemeral=True)
        found = await self._lookup(driver)
        members_view = client.interactive()
        try:
            newest = newest_race(await members_view.get_recent_races(found.cust_id))
            if newest is None:
                raise UserFacingError(f"{shown(found.display_name)} has no recent official races.")
            subsession = await members_view.get_subsession(newest.subsession_id)
        except IRacingError as exc:
            raise iracing_failure(exc) from None
        await self._settle_private_defer(ctx, found)
        await self._show_result(ctx, subsession, {found.cust_id: found.display_name})

    async def _settle_private_defer(self, ctx: commands.Context, found: Candidate) -> None:
        """Answer the private "thinking..." so that the card after it is a message of its own, public."""
        if ctx.interaction is not None:
            name = shown(found.display_name)
            await self._reply(ctx, f"Here is the latest race of **{name}**.")

    async def _show_result(self, ctx: commands.Context, subsession: Subsession, tracked: dict[int, str]) -> None:
        """The result as this server's posts show it: the picture with the embed, or the embed alone."""
        store, client, settings = self._ready()
        guild = await store.guilds.get(self._guild_id(ctx))
        zone = (guild.timezone if guild and guild.timezone else None) or settings.default_timezone
        picture = (guild.post_style if guild else DEFAULT_POST_STYLE) == "image" and self._may_attach(ctx)
        # The picture's lap chart is the member's request too: their lane, their share, the cache.
        message = await shown_result(
            subsession,
            tracked,
            zone,
            picture=picture,
            client=client.interactive(),
            renderer=self.renderer,
            metrics=self.metrics,
        )
        await ctx.send(**message, allowed_mentions=discord.AllowedMentions.none())

    @staticmethod
    def _may_attach(ctx: commands.Context) -> bool:
        """An interaction's answer may always carry a file; a message command needs Attach Files."""
        if ctx.interaction is not None or ctx.guild is None:
            return True
        return ctx.channel.permissions_for(ctx.guild.me).attach_files

    @iracing_lastrace.autocomplete("driver")
    async def _lastrace_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        choices: list[app_commands.Choice[str]] = await self._track_autocomplete(interaction, current)
        return choices

    @iracing.command(name="settz")
    @commands.admin_or_permissions(manage_guild=True)
    @app_commands.describe(zone="An IANA time zone, e.g. Europe/Berlin or America/New_York")
    async def iracing_settz(self, ctx: commands.Context, zone: ZoneText) -> None:
        """Set the time zone shown in result messages."""
        store, _, _ = self._ready()
        name = zone.strip()
        if not valid_timezone(name):
            raise UserFacingError("That is not a time zone I know. Use a name like Europe/Berlin or America/New_York.")
        await store.guilds.set_timezone(self._guild_id(ctx), name, now=int(time.time()))
        await self._reply(ctx, f"Times in result messages will be shown in {name}.")

    @iracing_settz.autocomplete("zone")
    async def _settz_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        needle = current.strip().casefold().replace(" ", "_")
        names = [z for z in timezone_names() if needle in z.casefold()]
        return [app_commands.Choice(name=z, value=z) for z in names[:25]]

    @iracing.command(name="style")
    @commands.admin_or_permissions(manage_guild=True)
    @app_commands.describe(style="image: a picture with the text (default); embed: the text only")
    @app_commands.choices(
        style=[
            app_commands.Choice(name="image (picture with a position chart, and the text)", value="image"),
            app_commands.Choice(name="embed (the text only)", value="embed"),
        ]
    )
    async def iracing_style(self, ctx: commands.Context, style: ChoiceText) -> None:
        """Choose how results look here: a picture with the text (image) or the text only (embed)."""
        store, _, _ = self._ready()
        chosen = style.strip().casefold()
        if chosen not in POST_STYLES:
            raise UserFacingError("The style is `image` (a picture with the text) or `embed` (the text only).")
        guild_id = self._guild_id(ctx)
        await store.guilds.set_post_style(guild_id, chosen, now=int(time.time()))
        if chosen == "embed":
            await self._reply(ctx, "Results will be posted as text only, without a picture.")
            return
        note = ""
        guild = await store.guilds.get(guild_id)
        channel = ctx.guild.get_channel(guild.channel_id) if ctx.guild and guild and guild.channel_id else None
        if isinstance(channel, discord.TextChannel) and not channel.permissions_for(channel.guild.me).attach_files:
            note = f" I am missing Attach Files in {channel.mention}: until I have it, results go out without it."
        await self._reply(ctx, f"Results will be posted with a picture of the result and its position chart.{note}")

    @iracing.command(name="status")
    @commands.admin_or_permissions(manage_guild=True)
    async def iracing_status(self, ctx: commands.Context) -> None:
        """How the poller is doing, and whether this server's posts are getting through."""
        store, client, settings = self._ready()
        # A database that does not answer may take seconds to say so: more than Discord waits.
        await ctx.defer(ephemeral=True)
        engine_status = self.engine.status() if self.engine is not None else None
        week_ago = int(time.time()) - 7 * 86_400
        guild_id = self._guild_id(ctx)
        try:
            pending = await store.posts.pending_count(guild_id)
            pending_all = await store.posts.pending_count()
            # A week back: older failures were either retried through or long dropped.
            last_failure = await store.posts.last_failure(guild_id, since=week_ago)
            not_posted = await store.posts.dropped_count(guild_id, since=week_ago)
            races_owed = await store.pending.waiting()
            given_up = await store.pending.given_up(since=week_ago)
        except Exception:
            if await store.ping():
                raise  # the database answers: a bug, for the error handler
            since = self.engine.store_unreachable() if self.engine is not None else None
            await self._reply(ctx, store_outage_text(since, now=time.time()))
            return
        spent = client.usage()  # iRacing's whole budget, and who spent the last window of it
        view = StatusView(
            last_cycle_at=engine_status.last_cycle_at if engine_status else None,
            drivers_due=engine_status.drivers_due if engine_status else 0,
            auth=client.auth_status(),
            budget_remaining=spent.announced_remaining,
            budget_limit=spent.limit,
            budget_reset_at=client.budget.reset_at,
            requests_by_lane=tuple(spent.by_lane.items()),
            interactive_cap=spent.interactive_cap,
            interactive_share=spent.interactive_share,
            pending_posts=pending,
            pending_all=pending_all,
            last_failure=last_failure,
            not_posted=not_posted,
            races_owed=races_owed,
            given_up=tuple((r.subsession_id, reason_words(r.give_up_reason)) for r in given_up),
            missing_credentials=tuple(settings.missing_iracing_credentials()),
            live=self.watcher.status() if self.watcher is not None else WATCHER_OFF,
            accounts=account_lines_of(self.pool),
            work=work_lines_of(self.work, now=time.time()),
        )
        await self._reply(ctx, format_status(view, now=time.time()))
