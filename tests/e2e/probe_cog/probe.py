"""`/probe echo`, `/probe later`, `/probe secret`: one hybrid group shaped like `/iracing ...`."""

from __future__ import annotations

import discord
from discord import app_commands
from redbot.core import commands
from redbot.core.bot import Red

WORDS = ("alpha", "beta", "gamma", "delta")


class Probe(commands.Cog):
    """Answers in every way a hybrid command can."""

    def __init__(self, bot: Red) -> None:
        self.bot = bot

    async def red_delete_data_for_user(self, *, requester: str, user_id: int) -> None:
        return  # nothing stored

    @commands.hybrid_group(name="probe")
    @commands.guild_only()
    async def probe(self, ctx: commands.Context) -> None:
        """Harness probe."""

    @probe.command(name="echo")
    async def probe_echo(self, ctx: commands.Context, text: str, times: int = 1) -> None:
        """Echo `text`, in content and in an embed."""
        embed = discord.Embed(title="probe", description=" ".join([text] * times))
        embed.set_footer(text=f"probe {text}")
        await ctx.send(f"echo: {text}", embed=embed)

    @probe_echo.autocomplete("text")
    async def probe_echo_text(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=w, value=w) for w in WORDS if w.startswith(current.lower())]

    @probe.command(name="later")
    async def probe_later(self, ctx: commands.Context) -> None:
        """Defers (type 5), then answers with a follow-up."""
        await ctx.defer()
        await ctx.send("later: done")

    @probe.command(name="secret")
    async def probe_secret(self, ctx: commands.Context) -> None:
        """An ephemeral answer."""
        await ctx.send("secret: only you", ephemeral=True)

    @probe.command(name="where")
    async def probe_where(self, ctx: commands.Context, channel: discord.TextChannel) -> None:
        """Posts into another channel; says if the bot may not."""
        try:
            await channel.send(f"probe was asked by {ctx.author.id}")
        except discord.Forbidden:
            await ctx.send(f"cannot post in {channel.mention}")
            return
        await ctx.send(f"posted in {channel.mention}")
