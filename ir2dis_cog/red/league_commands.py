"""/iracing league follow|unfollow|list and /iracing kinds: a mixin attached to the /iracing group."""

from __future__ import annotations

import asyncio
import time

import discord
from discord import app_commands
from redbot.core import commands

from ir2dis_cog.core.kinds import KindsError, describe, parse_kinds
from ir2dis_cog.core.numbers import LEAGUE_ID, InputError, looks_like_number, parse_number
from ir2dis_cog.iracing.cache import TtlCache
from ir2dis_cog.iracing.errors import IRacingError, NotFoundError, ParseError
from ir2dis_cog.iracing.leagues import LeagueSummary
from ir2dis_cog.iracing.ratelimit import INTERACTIVE
from ir2dis_cog.poller.leagues import MAX_LEAGUES_PER_SERVER, newest_with_results
from ir2dis_cog.red.answers import shown
from ir2dis_cog.red.errors import UserFacingError, iracing_failure, refused
from ir2dis_cog.red.iracing_commands import AUTOCOMPLETE_SECONDS, IRacingCommands

_DIRECTORY: TtlCache[str, list[LeagueSummary]] = TtlCache(600.0, time.time, max_entries=512)


# What a member may type in each text option (Discord's max_length; a prefix call is held to it too).
MAX_LEAGUE_NAME = 100
LeagueText = commands.Range[str, 1, MAX_LEAGUE_NAME]
KindsText = commands.Range[str, 1, 60]


class LeagueCommands(IRacingCommands):
    """Followed leagues: every race with results after the follow is posted, whoever raced."""

    async def _directory(self, text: str) -> list[LeagueSummary]:
        term = " ".join(text.split()).casefold()
        hit = _DIRECTORY.get(term)
        if hit is not None:
            return hit
        _, client, _ = self._ready()
        with client.lane(INTERACTIVE):
            found = await client.search_leagues(term)
        _DIRECTORY.put(term, found)
        return found

    @IRacingCommands.iracing.group(name="league")
    async def iracing_league(self, ctx: commands.Context) -> None:
        """Follow iRacing leagues: their races are posted here, whoever drove."""

    @iracing_league.command(name="follow")
    @commands.admin_or_permissions(manage_guild=True)
    @app_commands.describe(league="A league id, or a name to search")
    async def iracing_league_follow(self, ctx: commands.Context, *, league: LeagueText) -> None:
        """Follow a league: every race of it with results from now on is posted here."""
        store, client, _ = self._ready()
        self._credentials_ready()
        await ctx.defer(ephemeral=True)
        guild_id = self._guild_id(ctx)
        follows = await store.leagues.for_guild(guild_id)
        if len(follows) >= MAX_LEAGUES_PER_SERVER:
            raise UserFacingError(
                f"This server already follows {MAX_LEAGUES_PER_SERVER} leagues, the most it can."
                " Unfollow one first. Nothing was changed."
            )
        league_id = await self._league_id(league)
        try:
            with client.lane(INTERACTIVE):
                found = await client.get_league(league_id)
                if not found.readable:
                    raise UserFacingError(
                        f"**{shown(found.league_name)}** keeps its results private, so I cannot follow it."
                        " Nothing was saved."
                    )
                seasons = await client.get_league_seasons(league_id)
                after = 0
                for season in seasons:
                    if season.active and not season.hidden:
                        after = max(
                            after, newest_with_results(await client.get_league_sessions(league_id, season.season_id))
                        )
        except (NotFoundError, ParseError):
            raise UserFacingError(f"I cannot read an iRacing league with id {league_id}. Nothing was saved.") from None
        except IRacingError as exc:
            raise iracing_failure(exc) from None
        new = await store.leagues.follow(
            guild_id, league_id, found.league_name, after, ctx.author.id, now=int(time.time())
        )
        verb = "Now following" if new else "Already following"
        await self._reply(
            ctx, f"{verb} **{shown(found.league_name)}** ({league_id}). Its next races will be posted here."
        )

    async def _league_id(self, text: str) -> int:
        query = " ".join(text.split())
        if looks_like_number(query):
            try:
                return parse_number(query.removeprefix("#"), LEAGUE_ID)
            except InputError as exc:
                raise refused(exc) from None
        if len(query) < 3:
            raise UserFacingError("Give a league id, or at least three letters of its name. Nothing was changed.")
        if len(query) > MAX_LEAGUE_NAME:
            raise UserFacingError("That is too long for a league's name. Nothing was changed.")
        try:
            found = await self._directory(query)
        except IRacingError as exc:
            raise iracing_failure(exc) from None
        exact = [lg for lg in found if lg.league_name.casefold() == query.casefold()]
        if len(exact) == 1:
            return exact[0].league_id
        if not found:
            raise UserFacingError(f"No iRacing league is called anything like “{shown(query)}”. Nothing was changed.")
        if len(found) > 1:
            raise UserFacingError(
                f"{len(found)} leagues match “{shown(query)}”: pick one from the list, or give its id."
                " Nothing was changed."
            )
        return found[0].league_id

    @iracing_league_follow.autocomplete("league")
    async def _league_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        text = current.strip()
        if self.client is None or not 3 <= len(text) <= MAX_LEAGUE_NAME or looks_like_number(text):
            return []
        try:
            found = await asyncio.wait_for(self._directory(current), timeout=AUTOCOMPLETE_SECONDS)
        except (TimeoutError, IRacingError, UserFacingError):
            return []
        return [
            app_commands.Choice(name=f"{lg.league_name} ({lg.league_id})"[:100], value=str(lg.league_id))
            for lg in found[:25]
        ]

    @iracing_league.command(name="unfollow")
    @commands.admin_or_permissions(manage_guild=True)
    @app_commands.describe(league="A followed league's id or name")
    async def iracing_league_unfollow(self, ctx: commands.Context, *, league: LeagueText) -> None:
        """Stop following a league."""
        store, _, _ = self._ready()
        guild_id = self._guild_id(ctx)
        query = league.strip().casefold()
        follows = await store.leagues.for_guild(guild_id)
        match = [f for f in follows if str(f.league_id) == query or f.league_name.casefold() == query]
        if len(match) != 1:
            raise UserFacingError("This server follows no league by that id or name. Nothing was changed.")
        await store.leagues.unfollow(guild_id, match[0].league_id)
        await self._reply(ctx, f"Stopped following **{shown(match[0].league_name)}** ({match[0].league_id}).")

    @iracing_league.command(name="list")
    async def iracing_league_list(self, ctx: commands.Context) -> None:
        """The leagues this server follows."""
        store, _, _ = self._ready()
        follows = await store.leagues.for_guild(self._guild_id(ctx))
        if not follows:
            await self._reply(ctx, "This server follows no league yet: `/iracing league follow <league>`.")
            return
        lines = "\n".join(f"• {shown(f.league_name)} ({f.league_id})" for f in follows)
        await self._reply(ctx, f"Followed leagues ({len(follows)} of {MAX_LEAGUES_PER_SERVER}):\n{lines}")

    @IRacingCommands.iracing.command(name="kinds")
    @commands.admin_or_permissions(manage_guild=True)
    @app_commands.describe(kinds="official, hosted, league (any of them, or all)")
    async def iracing_kinds(self, ctx: commands.Context, *, kinds: KindsText) -> None:
        """Which races of tracked drivers are posted here: official, hosted, league (all by default)."""
        store, _, _ = self._ready()
        try:
            chosen = parse_kinds(kinds)
        except KindsError:
            raise UserFacingError(
                "Name the kinds of race: official, hosted, league (or all). Nothing was changed."
            ) from None
        await store.race_kinds.set(self._guild_id(ctx), chosen, now=int(time.time()))
        await self._reply(
            ctx, f"Races of tracked drivers posted here: {describe(chosen)}. Followed leagues always are."
        )

    @iracing_kinds.autocomplete("kinds")
    async def _kinds_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        options = ["all", "official", "hosted", "league", "official, league", "official, hosted", "hosted, league"]
        needle = current.strip().casefold()
        return [app_commands.Choice(name=o, value=o) for o in options if needle in o]
