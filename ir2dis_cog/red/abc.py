"""What the command mixins share with the cog, declared once (the shape of Red's own audio cog)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from redbot.core import commands

from ir2dis_cog.red.answers import fit

if TYPE_CHECKING:
    from redbot.core import Config
    from redbot.core.bot import Red

    from ir2dis_cog.config.settings import Settings
    from ir2dis_cog.iracing.accounts import AccountPool
    from ir2dis_cog.iracing.client import IRacingClient
    from ir2dis_cog.observability.metrics import Metrics
    from ir2dis_cog.poller.engine import PollEngine
    from ir2dis_cog.poller.live_watcher import LiveWatcher
    from ir2dis_cog.poller.work_share import WorkShare
    from ir2dis_cog.render.worker import RenderWorker
    from ir2dis_cog.store import Store


class MixinMeta:
    """The cog's state as each command mixin sees it; the cog itself provides every attribute.

    A plain class, not an ABC: it only declares, so the cog needs no composite metaclass.
    """

    bot: Red
    config: Config
    settings: Settings | None
    store: Store | None
    client: IRacingClient | None  # the first account (members' commands); the pool holds them all
    pool: AccountPool | None
    work: WorkShare | None
    engine: PollEngine | None
    watcher: LiveWatcher | None
    renderer: RenderWorker
    metrics: Metrics
    # discord.ext.tasks.Loop: typed loosely, its generic parameters are the cog's own method.
    poll_loop: Any

    async def _reload_settings(self) -> None:
        """Rebuild the settings and hand them to the poll loop and the engine (the cog's)."""
        raise NotImplementedError

    @staticmethod
    async def _reply(ctx: commands.Context, text: str, **kwargs: Any) -> None:
        """Every answer of the cog: ephemeral under slash, never a mention, within Discord's size."""
        await ctx.send(fit(text), ephemeral=True, allowed_mentions=discord.AllowedMentions.none(), **kwargs)

    @staticmethod
    def _guild_id(ctx: commands.Context) -> int:
        """The server of a guild-only command (its check has run, so there is one)."""
        if ctx.guild is None:
            raise commands.NoPrivateMessage()
        return ctx.guild.id
