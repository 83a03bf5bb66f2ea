"""Running Red in this process, around the ir2dis cog.

Red's own ``redbot`` entry point cannot be told to point discord.py elsewhere, to load a cog on
a brand-new instance, or to log JSON; this module does the same few steps with those added:
set the REST base, seed the instance (prefix, owner, first-boot package loading), start Red,
enable and sync the ``/iracing`` app commands once ready, and shut down cleanly on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ir2dis_cog.config.secrets import mask_url
from ir2dis_cog.config.settings import Settings
from ir2dis_cog.observability.logging import log_event

from .startup import (
    APP_COMMAND,
    COG_PACKAGE,
    EXIT_CONFIGURATION_ERROR,
    EXIT_CRITICAL,
    EXIT_SHUTDOWN,
    commands_fingerprint,
    discord_route_base,
    red_cli_args,
    should_seed_python_version,
)

if TYPE_CHECKING:
    from redbot.core.bot import Red

log = logging.getLogger("red.ir2dis.standalone")

COG_NAME = "IRacingCog"
FINGERPRINT_FILE = ".ir2dis_app_commands.sha256"


def cog_search_path() -> Path:
    """The folder that holds the ``ir2dis_cog`` package, wherever pip put it."""
    import ir2dis_cog

    return Path(ir2dis_cog.__file__).resolve().parent.parent


def point_discord_at(base: str | None) -> None:
    if base:
        import discord.http

        discord.http.Route.BASE = discord_route_base(base)
        log_event(log, "discord_api_base", base=mask_url(discord.http.Route.BASE))


async def _seed_instance(red: Red, settings: Settings) -> None:
    """Write what the settings decide into the instance, every start (the environment wins)."""
    from redbot.core.data_manager import cog_data_path

    await red._config.prefix.set([settings.bot_prefix])
    if settings.bot_owner_id is not None:
        await red._config.owner.set(settings.bot_owner_id)
    lib = cog_data_path(raw_name="Downloader") / "lib"
    lib.mkdir(parents=True, exist_ok=True)
    if str(lib) not in sys.path:
        sys.path.append(str(lib))  # as Red does: Downloader's requirements live there
    recorded = await red._config.last_system_info.python_version()
    current = list(sys.version_info[:2])
    if should_seed_python_version(recorded, current, lib_is_empty=not any(lib.iterdir())):
        await red._config.last_system_info.python_version.set(current)
    await red.add_loaded_package(COG_PACKAGE)


def _read_marker(marker: Path) -> str:
    return marker.read_text(encoding="utf-8").strip() if marker.is_file() else ""


def _write_marker(marker: Path, fingerprint: str) -> None:
    marker.write_text(fingerprint, encoding="utf-8")


async def _sync_app_commands(red: Red, marker: Path) -> None:
    """Enable ``/iracing`` and sync the tree, but only when the commands changed since last time."""
    import discord

    await red.enable_app_command(APP_COMMAND)
    from redbot.core.tree import RedTree

    await cast(RedTree, red.tree).red_check_enabled()  # Red's bot always runs its own tree
    payload = [command.to_dict(red.tree) for command in red.tree.get_commands()]
    fingerprint = commands_fingerprint(payload)
    if fingerprint == _read_marker(marker):
        log_event(log, "app_commands_unchanged", commands=len(payload))
        return
    try:
        synced = await red.tree.sync()
    except discord.HTTPException as exc:
        log_event(log, "app_commands_sync_failed", level=logging.WARNING, status=exc.status)
        return
    _write_marker(marker, fingerprint)
    log_event(log, "app_commands_synced", commands=len(synced))


class CogLoadFailure(logging.Filter):
    """Red logs a package that fails to load with its traceback; for the cog, the launcher keeps
    the reason instead and says it in one line (``cog_not_loaded``)."""

    def __init__(self) -> None:
        super().__init__()
        self.reason: str | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if not (str(record.msg).startswith("Failed to load package") and args[:1] == (COG_PACKAGE,)):
            return True
        error = record.exc_info[1] if record.exc_info else None
        self.reason = load_failure_reason(error) if error is not None else record.getMessage()
        return False


def load_failure_reason(error: BaseException) -> str:
    """The cog's own sentence (a CogLoadError says what to fix), else the error's type and text."""
    from redbot.core.errors import CogLoadError

    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, CogLoadError):
            return str(seen)
        seen = seen.__cause__
    return f"{type(error).__name__}: {error}"


_LOAD_FAILURE = CogLoadFailure()


async def _after_ready(red: Red, marker: Path) -> None:
    await red.wait_until_red_ready()
    if red.get_cog(COG_NAME) is None:
        # A bot without the cog is of no use; exiting lets the restart policy try again.
        reason = _LOAD_FAILURE.reason or "see the lines above"
        log_event(
            log,
            "cog_not_loaded",
            f"ir2dis stops: the {COG_PACKAGE} cog did not load: {reason}",
            level=logging.CRITICAL,
            package=COG_PACKAGE,
            reason=reason,
        )
        sys.exit(EXIT_CRITICAL)
    try:
        await _sync_app_commands(red, marker)
    except Exception:
        log.exception("could not enable or sync the /iracing app commands")
    invite = ""
    with contextlib.suppress(Exception):
        invite = await red.get_invite_url()
    log_event(log, "bot_ready", guilds=len(red.guilds), invite_url=invite)


async def _start(red: Red, settings: Settings) -> None:
    import discord
    from redbot.core import _drivers, data_manager

    driver = _drivers.get_driver_class()
    await driver.initialize(**data_manager.storage_details())
    await _seed_instance(red, settings)
    marker = data_manager.core_data_path() / FINGERPRINT_FILE
    ready = asyncio.create_task(_after_ready(red, marker))
    ready.add_done_callback(_exit_on_failure)
    token = settings.discord_token.get() if settings.discord_token else ""
    try:
        await red.start(token)
    except discord.LoginFailure:
        log_event(log, "discord_login_failed", level=logging.CRITICAL, reason="the token was refused")
        sys.exit(EXIT_CONFIGURATION_ERROR)
    except discord.PrivilegedIntentsRequired:
        log_event(
            log,
            "discord_login_failed",
            level=logging.CRITICAL,
            reason="enable the privileged intents (presence, server members, message content) "
            "for the bot in the Discord developer portal",
        )
        sys.exit(EXIT_CONFIGURATION_ERROR)


def _exit_on_failure(task: asyncio.Future[Any]) -> None:
    """A crash in a top-level task ends the bot instead of leaving it half alive."""
    if task.cancelled():
        return
    exc = task.exception()
    if exc is None or isinstance(exc, SystemExit | KeyboardInterrupt):
        return  # SystemExit already left the loop on its own
    log.critical("the bot stopped on an unexpected error", exc_info=exc)
    sys.exit(EXIT_CRITICAL)


def _loop_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # SystemExit raised in a task (a signal, [p]shutdown) is how the bot stops: not an error.
    if isinstance(context.get("exception"), SystemExit | KeyboardInterrupt):
        return
    loop.default_exception_handler(context)


def _quiet_red_console(settings: Settings) -> None:
    """Red prints a banner with rich on stdout; with JSON logs every stdout line must be JSON."""
    if settings.log_format == "json":
        import rich

        rich.get_console().quiet = True


async def _on_signal(signame: str) -> None:
    log_event(log, "shutdown_requested", signal=signame)
    sys.exit(EXIT_SHUTDOWN)


_SIGNAL_TASKS: set[asyncio.Future[None]] = set()  # held until done, so none is collected early


def _schedule_signal(signame: str) -> None:
    task = asyncio.ensure_future(_on_signal(signame))
    _SIGNAL_TASKS.add(task)
    task.add_done_callback(_SIGNAL_TASKS.discard)


async def _shutdown(red: Red, exit_code: int) -> None:
    from redbot.core._cli import ExitCodes

    # Red keeps its exit code as one of its own; ours are the same numbers (startup.py).
    known = {int(code) for code in ExitCodes}
    red._shutdown_mode = ExitCodes(exit_code) if exit_code in known else ExitCodes.CRITICAL
    try:
        if not red.is_closed():
            # Unloads the cog first: its loop stops after the post in flight, pools and sessions close.
            await red.close()
    finally:
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


def run_red(settings: Settings) -> int:
    """Run Red until it stops; returns its exit code (26: restart requested)."""
    import discord  # noqa: F401 - discord.py before Red, as Red's own entry point does
    from redbot.core import data_manager
    from redbot.core._cli import parse_cli_flags
    from redbot.core.bot import Red

    from .startup import INSTANCE_NAME

    point_discord_at(settings.discord_api_base)
    logging.getLogger("red").addFilter(_LOAD_FAILURE)
    flags = parse_cli_flags(red_cli_args(cog_search_path(), settings.bot_prefix, settings.bot_owner_id))
    _quiet_red_console(settings)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.set_exception_handler(_loop_exception_handler)
    red: Red | None = None
    exit_code = EXIT_CRITICAL
    try:
        data_manager.load_basic_configuration(INSTANCE_NAME)
        red = Red(cli_flags=flags, description="ir2dis", dm_help=None)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, _schedule_signal, sig.name)
        main = loop.create_task(_start(red, settings))
        main.add_done_callback(_exit_on_failure)
        loop.run_forever()
    except SystemExit as stop:
        # SystemExit raised inside a task (a signal, [p]shutdown, [p]restart) lands here.
        exit_code = int(stop.code or 0)
        if red is not None:
            loop.run_until_complete(_shutdown(red, exit_code))
    finally:
        with contextlib.suppress(Exception):
            loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(None)
        loop.close()
    log_event(log, "bot_stopped", exit_code=exit_code)
    return exit_code
