"""`[p]iracingset`: what a Red owner sets in chat. Secrets go to Red's shared API tokens."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

import discord
from redbot.core import commands

from ir2dis_cog.config.secrets import Secret
from ir2dis_cog.config.settings import SettingsError, load_settings
from ir2dis_cog.red.abc import MixinMeta
from ir2dis_cog.store.database import missing_driver_packages, parse_database_url

if TYPE_CHECKING:
    pass


class OwnerCommands(MixinMeta):
    """[p]iracingset, for the bot owner; the cog supplies its state (see ``MixinMeta``)."""

    @commands.group(name="iracingset")
    @commands.is_owner()
    async def iracingset(self, ctx: commands.Context) -> None:
        """Owner settings of ir2dis."""

    @iracingset.command(name="credentials")
    async def iracingset_credentials(self, ctx: commands.Context) -> None:
        """How to give ir2dis its iRacing login."""
        missing = self.settings.missing_iracing_credentials() if self.settings else []
        state = f"Missing now: {', '.join(missing)}." if missing else "All four are set."
        await self._reply(
            ctx,
            "ir2dis logs in to iRacing with an OAuth client (see the README: *Getting an iRacing OAuth client*). "
            f"Set it with:\n`{ctx.clean_prefix}set api iracing client_id,ID client_secret,SECRET "
            f"username,EMAIL password,PASSWORD`\nRed keeps these as shared API tokens; ir2dis picks them up "
            f"at once. {state}",
        )

    @iracingset.command(name="pollinterval")
    async def iracingset_pollinterval(self, ctx: commands.Context, seconds: str) -> None:
        """How often to look for new races, in seconds (30 to 86400)."""
        # Read by the settings' own rule (ASCII digits, bounds), not discord.py's int(), which takes "１２".
        try:
            seconds_ = load_settings(
                {"POLL_INTERVAL_SECONDS": seconds}, config_file="/nonexistent", mode="cog"
            ).poll_interval_seconds
        except SettingsError as exc:
            await self._reply(ctx, exc.problems[0])
            return
        await self.config.poll_interval_seconds.set(seconds_)
        # The scheduler decides who is due from the interval too, not only the loop's timer.
        await self._reload_settings()
        await self._reply(ctx, f"ir2dis now polls every {seconds_} s.")

    @iracingset.command(name="interactiveshare")
    async def iracingset_interactiveshare(self, ctx: commands.Context, share: str) -> None:
        """The part of iRacing's budget members' commands may use (0.05 to 0.5; default 0.2)."""
        try:
            value = load_settings(
                {"IRACING_INTERACTIVE_SHARE": share}, config_file="/nonexistent", mode="cog"
            ).iracing_interactive_share
        except SettingsError as exc:
            await self._reply(ctx, exc.problems[0])
            return
        await self.config.interactive_share.set(value)
        await self._reload_settings()
        await self._reply(
            ctx, f"Commands may now use {value:.0%} of each minute's iRacing budget; the poller plans on the rest."
        )

    @iracingset.command(name="livewatch")
    async def iracingset_livewatch(self, ctx: commands.Context, state: str) -> None:
        """Watch iRacing's live races (on, the default) or only poll each driver (off)."""
        try:
            on = load_settings({"LIVE_WATCH": state}, config_file="/nonexistent", mode="cog").live_watch
        except SettingsError as exc:
            await self._reply(ctx, exc.problems[0])
            return
        await self.config.live_watch.set(on)
        await self._reload_settings()
        await self._reply(
            ctx,
            "ir2dis now watches live races; the per-driver poll is its safety net."
            if on
            else "ir2dis no longer watches live races; every driver is polled.",
        )

    @iracingset.command(name="livepoll")
    async def iracingset_livepoll(self, ctx: commands.Context, seconds: str) -> None:
        """How often the live watcher reads the list of live races, in seconds (30 to 600)."""
        try:
            seconds_ = load_settings(
                {"LIVE_POLL_SECONDS": seconds}, config_file="/nonexistent", mode="cog"
            ).live_poll_seconds
        except SettingsError as exc:
            await self._reply(ctx, exc.problems[0])
            return
        await self.config.live_poll_seconds.set(seconds_)
        await self._reload_settings()
        await self._reply(ctx, f"ir2dis now reads the live race list every {seconds_} s.")

    @iracingset.command(name="database")
    async def iracingset_database(self, ctx: commands.Context, url: str) -> None:
        """Use another database (sqlite:///..., mysql://..., postgresql://...); takes effect on reload."""
        # The URL may hold a password: remove the owner's message, keep the URL as a shared API token.
        if ctx.guild is not None:
            with contextlib.suppress(discord.HTTPException):
                await ctx.message.delete()
        try:
            load_settings({"DATABASE_URL": url}, config_file="/nonexistent", mode="cog")
        except SettingsError as exc:
            await self._reply(ctx, exc.problems[0])
            return
        missing = missing_driver_packages(parse_database_url(url, data_dir=Path(".")).dialect)
        if missing:
            # Saved anyway would only make the next reload fail: say what to install first.
            packages = " ".join(missing)
            await self._reply(
                ctx,
                f"That database needs drivers that are not installed: {packages}. "
                f"Run `{ctx.clean_prefix}pipinstall {packages}` first. Nothing was changed.",
            )
            return
        await self.bot.set_shared_api_tokens("ir2dis", database_url=url)
        shown = Secret(url)
        await self._reply(
            ctx, f"Database URL saved ({shown}). Run `{ctx.clean_prefix}reload ir2dis_cog` to switch to it."
        )

    @iracingset.command(name="show")
    async def iracingset_show(self, ctx: commands.Context) -> None:
        """The settings in force (secrets are never shown)."""
        if self.settings is None:
            await self._reply(ctx, "ir2dis has not loaded its settings.")
            return
        s = self.settings
        missing = s.missing_iracing_credentials()
        dialect = s.database_url.get().split(":", 1)[0]
        await self._reply(
            ctx,
            f"Database: {dialect}\nPoll interval: {s.poll_interval_seconds} s\n"
            f"Live watcher: {f'on, every {s.live_poll_seconds} s' if s.live_watch else 'off'}\n"
            f"Commands' share of the iRacing budget: {s.iracing_interactive_share:.0%}\n"
            f"iRacing auth mode: {s.iracing_auth_mode}\n"
            f"iRacing login: {'missing ' + ', '.join(missing) if missing else 'set'}\n"
            f"Default time zone: {s.default_timezone}\nHealth server: "
            f"{f'{s.health_host}:{s.health_port}' if s.health_port else 'off'}",
        )
