"""The Red cog: builds settings, store, iRacing client and engine, and runs the poll loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from typing import Any, Literal

from discord.ext import tasks
from redbot.core import Config, commands
from redbot.core.bot import Red
from redbot.core.data_manager import cog_data_path
from redbot.core.errors import CogLoadError

from ir2dis_cog.config.settings import EXTRA_ACCOUNT_SERVICES, Settings, SettingsError, load_settings
from ir2dis_cog.core.status_text import LiveWatchView
from ir2dis_cog.iracing.accounts import AccountPool
from ir2dis_cog.iracing.auth_state import AuthStateStore, FileAuthStateStore, state_store_for
from ir2dis_cog.iracing.client import IRacingClient
from ir2dis_cog.observability.health import HealthChecks, HealthServer
from ir2dis_cog.observability.logging import RedactionFilter
from ir2dis_cog.observability.metrics import Metrics
from ir2dis_cog.poller.digest import DigestRunner
from ir2dis_cog.poller.e2e_clock import digest_clock
from ir2dis_cog.poller.engine import PollEngine
from ir2dis_cog.poller.live_watcher import WATCHER_OFF, LiveWatcher
from ir2dis_cog.poller.on_track import OnTrackNotices
from ir2dis_cog.poller.ports import SystemClock
from ir2dis_cog.poller.schedules import SeasonSchedules
from ir2dis_cog.poller.unofficial import UnofficialRaces
from ir2dis_cog.poller.work_share import RemoteLive, WorkShare, heartbeat_period, lease_ttl
from ir2dis_cog.red.embeds import safe_text
from ir2dis_cog.red.errors import answer_for
from ir2dis_cog.red.iracing_commands import IRacingCommands
from ir2dis_cog.red.league_commands import LeagueCommands
from ir2dis_cog.red.owner_commands import OwnerCommands
from ir2dis_cog.red.permissions import bot_permissions
from ir2dis_cog.red.publisher import DiscordPublisher
from ir2dis_cog.red.server_commands import ServerCommands
from ir2dis_cog.render.worker import RenderWorker
from ir2dis_cog.store import DatabaseConfigError, DatabaseUnavailableError, Store, open_store

log = logging.getLogger("red.ir2dis")

# Red's shared API tokens: the iRacing login, and this cog's own (the database URL may hold a password).
IRACING_SERVICE = "iracing"
OWN_SERVICE = "ir2dis"


class IRacingCog(ServerCommands, LeagueCommands, IRacingCommands, OwnerCommands, commands.Cog):
    """Posts the iRacing race results of the drivers this server tracks."""

    def __init__(self, bot: Red) -> None:
        super().__init__()
        self.bot = bot
        self.config = Config.get_conf(self, identifier=0x1A2D15, force_registration=True)
        # instance_id: stable for this Red instance, so a restart can settle what a killed run claimed.
        self.config.register_global(
            poll_interval_seconds=None,
            instance_id=None,
            interactive_share=None,
            live_watch=None,
            live_poll_seconds=None,
        )
        self.metrics = Metrics()
        self.process_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.settings: Settings | None = None
        self.store: Store | None = None
        self.client: IRacingClient | None = None
        self.pool: AccountPool | None = None
        self.work: WorkShare | None = None
        self.engine: PollEngine | None = None
        self.digests: DigestRunner | None = None  # each server's weekly digest, checked once a cycle
        self.watcher: LiveWatcher | None = None
        self.on_track: OnTrackNotices | None = None  # "on track now", told by the live watcher
        self.health: HealthServer | None = None
        self.renderer = RenderWorker()
        self.started_at = time.time()
        self.last_cycle_ok_at: float | None = None
        self._redaction = RedactionFilter(())
        # Cycles and client swaps (new credentials) never overlap.
        self._cycle_lock = asyncio.Lock()
        self._watcher_stopping: asyncio.Task[None] | None = None

    # ----- errors: one handler for every command of the cog -----

    async def cog_command_error(self, ctx: commands.Context, error: Exception) -> None:  # type: ignore[override]
        # (discord.py types ctx as its own generic Context; Red hands its subclass to every cog.)
        answer = answer_for(ctx, error)
        if answer is None:
            # Red's handler takes the unhandled_by_cog keyword, added where discord.py's has none.
            await self.bot.on_command_error(ctx, error, unhandled_by_cog=True)  # type: ignore[call-arg, arg-type]
        else:
            await self._reply(ctx, answer)

    # ----- lifecycle -----

    async def _build_settings(self) -> Settings:
        data_dir = cog_data_path(self)
        environ = dict(os.environ)
        interval = await self.config.poll_interval_seconds()
        if interval:
            environ["POLL_INTERVAL_SECONDS"] = str(interval)
        # [p]iracingset livewatch / livepoll win over the environment, as pollinterval does.
        live_watch, live_poll = await self.config.live_watch(), await self.config.live_poll_seconds()
        if live_watch is not None:
            environ["LIVE_WATCH"] = "on" if live_watch else "off"
        if live_poll:
            environ["LIVE_POLL_SECONDS"] = str(live_poll)
        share = await self.config.interactive_share()
        if share:
            environ["IRACING_INTERACTIVE_SHARE"] = str(share)
        own = await self.bot.get_shared_api_tokens(OWN_SERVICE)
        if own.get("database_url"):
            environ["DATABASE_URL"] = own["database_url"]
        for service, (email_key, password_key) in EXTRA_ACCOUNT_SERVICES.items():
            # `[p]set api iracing2 username,... password,...`: a further account of the same client.
            extra = await self.bot.get_shared_api_tokens(service)
            if extra.get("username") or extra.get("password"):
                environ[email_key] = extra.get("username", "")
                environ[password_key] = extra.get("password", "")
        tokens = await self.bot.get_shared_api_tokens(IRACING_SERVICE)
        return load_settings(environ, mode="cog", api_tokens=tokens, data_dir=data_dir)

    async def _instance_id(self) -> str:
        value = await self.config.instance_id()
        if not value:
            value = uuid.uuid4().hex[:16]
            await self.config.instance_id.set(value)
        return str(value)

    def _state_store(self, settings: Settings, store: Store, number: int, instance: str) -> AuthStateStore:
        """Where account ``number`` keeps its token pair. On a shared database each instance keeps
        its own (a refresh token is single-use: two processes must never refresh one pair)."""
        path = settings.iracing_auth_state_file
        if path is not None:
            return FileAuthStateStore(path if number == 1 else path.with_name(f"{path.name}.{number}"))
        if number == 1 and store.dialect == "sqlite":
            return state_store_for(None, store.auth_state)
        return store.account_auth.for_key(f"{instance}/{number}")

    async def _make_pool(self, settings: Settings, store: Store) -> AccountPool:
        instance = await self._instance_id()
        clients = [
            IRacingClient(
                settings.for_account(n),
                state_store=self._state_store(settings, store, n, instance),
                metrics=self.metrics,
            )
            for n in range(1, settings.account_count() + 1)
        ]
        for c in clients:
            await c.__aenter__()
        return AccountPool(clients)

    @staticmethod
    async def _close_pool(pool: AccountPool) -> None:
        for c in pool.clients:
            await c.__aexit__(None, None, None)

    async def cog_load(self) -> None:
        try:
            settings = await self._build_settings()
        except SettingsError as exc:
            raise CogLoadError(str(exc)) from None
        self._redaction.update(settings.secret_values())
        self._redaction.attach("red.ir2dis")
        try:
            store = await open_store(settings.database_url.get(), data_dir=settings.data_dir)
        except (DatabaseConfigError, DatabaseUnavailableError) as exc:
            raise CogLoadError(f"ir2dis cannot use its database: {exc}") from None
        self.settings, self.store = settings, store
        self.pool = await self._make_pool(settings, store)
        self.client = self.pool.primary
        instance = await self._instance_id()
        self.work = WorkShare(
            store.work,
            SystemClock(),
            process=f"{instance}:{self.process_id}",  # the engine's claim holder
            instance=instance,
            split=store.dialect != "sqlite",
            ttl=lease_ttl(settings.poll_interval_seconds),
        )
        await self._beat()  # in the live set before the first cycle
        self.engine = PollEngine(
            store=store,
            source=self.pool,
            publisher=DiscordPublisher(self.bot),
            settings=settings,
            metrics=self.metrics,
            process=self.process_id,
            instance=instance,
            renderer=self.renderer,
            work=self.work,
        )
        # Hosted and league races, once a cycle through the engine's pacer (poller/unofficial.py),
        # asked of the engine's source: the account pool, which spreads them over its accounts.
        self.engine.attach_unofficial(UnofficialRaces(self.engine, store, SystemClock(), metrics=self.metrics))
        self.digests = DigestRunner(
            store,
            DiscordPublisher(self.bot),
            self.metrics,
            digest_clock(os.environ),  # the system clock; only the e2e test moves it (poller/e2e_clock.py)
            owner=self.engine.claim_holder,
            default_timezone=settings.default_timezone,
            safe=lambda text: safe_text(text, 100),
        )
        self.on_track = OnTrackNotices(
            store,
            DiscordPublisher(self.bot),
            self.metrics,
            SystemClock(),
            owner=self.engine.claim_holder,
            safe=lambda text: safe_text(text, 100),
            # The series and track of a notice: one schedule request per season a day.
            schedules=SeasonSchedules(self.engine, self.metrics, SystemClock()),
        )
        self._sync_watcher(settings)
        self.heartbeat_loop.change_interval(seconds=heartbeat_period(settings.poll_interval_seconds))
        self.heartbeat_loop.start()
        self.health = HealthServer(settings.health_host, settings.health_port, self.metrics, self._health_checks())
        await self.health.start()
        self.poll_loop.change_interval(seconds=settings.poll_interval_seconds)
        self.poll_loop.start()
        missing = settings.missing_iracing_credentials()
        await self._offer_invite()
        log.info("ir2dis loaded", extra={"event": "startup", "database": store.dialect, "missing": missing})

    async def _offer_invite(self) -> None:
        """Red's invite link (``[p]invite``, and the launcher's ``bot_ready`` line) asks for what ir2dis
        needs, with its /iracing commands. Red's default asks for no permission and no commands, so
        a newcomer's bot joined unable to post; an owner's own choice (``[p]inviteset``) is kept."""
        red_config = self.bot._config
        if await red_config.invite_perm() == 0 and not await red_config.invite_commands_scope():
            await red_config.invite_perm.set(bot_permissions().value)
            await red_config.invite_commands_scope.set(True)

    async def cog_unload(self) -> None:
        # stop(), not cancel(): a cycle in flight finishes rather than being cut between send and
        # record. Once the lock is ours no cycle runs, and cancelling only ends the loop's sleep.
        self.poll_loop.stop()
        with contextlib.suppress(asyncio.TimeoutError):
            async with asyncio.timeout(20), self._cycle_lock:
                self.poll_loop.cancel()
        self.poll_loop.cancel()
        if self.watcher is not None:
            await self.watcher.stop()
            self.watcher = None
        if self.on_track is not None:
            await self.on_track.wait()
        self.heartbeat_loop.cancel()
        if self.work is not None:
            with contextlib.suppress(Exception):
                await self.work.leave()  # the others take this process's drivers at once
        if self.health is not None:
            await self.health.stop()
        if self.pool is not None:
            await self._close_pool(self.pool)
        if self.store is not None:
            await self.store.close()
        self.renderer.close()
        self._redaction.detach()

    def _health_checks(self) -> HealthChecks:
        async def database_ok() -> bool:
            return self.store is not None and await self.store.ping()

        def maintenance() -> bool:
            # The pool sees the first maintenance answer; the engine the calls that gave up on it.
            in_pool = self.pool is not None and self.pool.in_maintenance()
            return in_pool or bool(self.engine and self.engine.status().maintenance)

        assert self.settings is not None
        return HealthChecks(
            database_ok=database_ok,
            last_cycle_ok_at=lambda: self.last_cycle_ok_at,
            poll_interval_seconds=lambda: self.settings.poll_interval_seconds if self.settings else 300,
            started_at=self.started_at,
            maintenance=maintenance,
            live=self.live_status,
        )

    # ----- the live watcher, beside the poll loop -----

    def _sync_watcher(self, settings: Settings) -> None:
        """LIVE_WATCH on: one watcher running beside the poll loop; off: none (every driver polled)."""
        if self.engine is None:
            return
        # With several processes on one database, one of them runs the watcher.
        holder = self.work is None or self.work.holds_watcher()
        wanted = settings.live_watch and not settings.missing_iracing_credentials() and holder
        if wanted and self.watcher is None:
            self.watcher = LiveWatcher(
                self.engine,
                self.metrics,
                SystemClock(),
                poll_seconds=settings.live_poll_seconds,
                on_track=self.on_track.on_roster if self.on_track is not None else None,
            )
            self.watcher.start(before=self.bot.wait_until_red_ready)
        elif not wanted and self.watcher is not None:
            watcher, self.watcher = self.watcher, None
            self._watcher_stopping = asyncio.create_task(watcher.stop())
        elif self.watcher is not None:
            self.watcher.set_period(settings.live_poll_seconds)
        if self.watcher is None and self.work is not None and settings.live_watch and not holder:
            # Another process watches: while its watcher is healthy, the poll here is a safety net.
            self.engine.attach_live(RemoteLive(self.work))

    def live_status(self) -> LiveWatchView:
        return self.watcher.status() if self.watcher is not None else WATCHER_OFF

    # ----- the heartbeat: which processes share the work -----

    async def _beat(self) -> None:
        if self.work is None:
            return
        watcher = self.watcher
        if watcher is not None:
            self.work.set_watcher(watcher.status().state, watcher.requests_per_window())
        else:
            self.work.set_watcher(None)
        try:
            await self.work.beat()
        except Exception:
            log.warning("could not refresh the work lease", exc_info=True)

    @tasks.loop(seconds=30)
    async def heartbeat_loop(self) -> None:
        await self._beat()
        stopping = self._watcher_stopping
        if self.settings is not None and (stopping is None or stopping.done()):
            # The watcher follows whoever holds it now (a process came or went).
            self._sync_watcher(self.settings)

    # ----- the loop -----

    @tasks.loop(seconds=300)
    async def poll_loop(self) -> None:
        if self.engine is None or self.settings is None:
            return
        if self.settings.missing_iracing_credentials():
            return  # `[iracing] status` tells the owner what to set
        async with self._cycle_lock:
            try:
                await self.engine.run_cycle()
            except Exception:
                log.exception("poll cycle failed")
                return
            if self.digests is not None:
                try:
                    await self.digests.run_once()
                except Exception:
                    log.exception("weekly digests failed")
        self.last_cycle_ok_at = time.time()

    @poll_loop.before_loop
    async def _before_poll(self) -> None:
        await self.bot.wait_until_red_ready()
        if self.engine is not None:
            async with self._cycle_lock:
                try:
                    await self.engine.resolve_unfinished()
                except Exception:
                    log.exception("could not resolve unfinished posts at start")

    async def _reload_settings(self) -> None:
        """After an owner changed a setting: the loop's timer and the engine's scheduler follow."""
        settings = await self._build_settings()
        await self._apply_settings(settings, new_client=False)
        self.poll_loop.change_interval(seconds=settings.poll_interval_seconds)
        self.heartbeat_loop.change_interval(seconds=heartbeat_period(settings.poll_interval_seconds))
        if self.work is not None:
            self.work.ttl = lease_ttl(settings.poll_interval_seconds)

    async def _apply_settings(self, settings: Settings, *, new_client: bool) -> None:
        """Hand new settings (and, for new credentials, a new client) to the engine between cycles."""
        self._redaction.update(settings.secret_values())
        async with self._cycle_lock:
            old = self.pool
            self.settings = settings
            if new_client and self.store is not None:
                self.pool = await self._make_pool(settings, self.store)
                self.client = self.pool.primary
            if self.engine is not None and self.pool is not None:
                self.engine.replace_source(self.pool, settings)
            self._sync_watcher(settings)
            if self.pool is not None:
                self.pool.set_interactive_share(settings.iracing_interactive_share)
            if new_client and old is not None:
                await self._close_pool(old)

    # ----- Red hooks -----

    @commands.Cog.listener()
    async def on_red_api_tokens_update(self, service_name: str, api_tokens: Any) -> None:
        if service_name not in (IRACING_SERVICE, OWN_SERVICE, *EXTRA_ACCOUNT_SERVICES) or self.store is None:
            return
        try:
            settings = await self._build_settings()
        except SettingsError as exc:
            log.warning("new iRacing credentials not used: %s", exc)
            return
        await self._apply_settings(settings, new_client=True)
        log.info("iRacing credentials reloaded", extra={"event": "credentials_reloaded"})

    async def red_delete_data_for_user(
        self,
        *,
        requester: Literal["discord_deleted_user", "owner", "user", "user_strict"],
        user_id: int,
    ) -> None:
        # The store keeps two things about a user: who added a tracked driver, and their driver links.
        if self.store is not None:
            await self.store.drivers.forget_user(user_id)
            await self.store.links.forget_user(user_id)  # "this driver is me", in every server
