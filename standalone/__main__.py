"""``python -m standalone``: settings -> logging -> DATA_DIR -> database -> Red instance -> Red with the cog.

The settings are read once, here (the environment, then ``DATA_DIR/config.json``, then the
defaults), and handed to the cog in the environment of the Red this process runs. Each start-up
failure is one line naming what and why and its own exit code (the README's table): bad or
missing settings 2 (printed before anything else happens: no folder, no instance, no network),
an unusable DATA_DIR 3, a database that cannot be used 4. Exit code 26 from Red restarts the
process in place (same PID, so a container's PID 1 and its signal handling stay as they are).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ir2dis_cog.config.secrets import mask_url
from ir2dis_cog.config.settings import Settings, SettingsError, as_environment, default_data_dir, load_settings
from ir2dis_cog.observability.logging import configure_standalone_logging, log_event

from .startup import (
    DATABASE_WAIT_SECONDS,
    EXIT_BAD_SETTINGS,
    EXIT_CRITICAL,
    EXIT_DATA_DIR_UNUSABLE,
    EXIT_DATABASE_UNUSABLE,
    data_dir_hint,
    settings_error_message,
    should_restart,
)

log = logging.getLogger("red.ir2dis.standalone")

# The environment the user started the launcher with: a restart reads the settings again from it
# (and from a config.json edited meanwhile), not from what this process handed to the cog.
_LAUNCH_ENVIRONMENT = dict(os.environ)


def data_dir_problem(data_dir: Path) -> tuple[str, int | None] | None:
    """Why DATA_DIR cannot hold the bot's files (the system's words and error number), or None."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".write-test-"):
            pass
    except OSError as exc:
        return exc.strerror or type(exc).__name__, exc.errno
    return None


@contextlib.contextmanager
def _quiet_retries() -> Iterator[None]:
    """The connect retries log a line per try; while the launcher waits, its own line says it all."""
    loggers = [logging.getLogger("backoff"), logging.getLogger("red.ir2dis.store")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


async def _open_database(settings: Settings) -> None:
    from ir2dis_cog.store import open_store

    store = await open_store(
        settings.database_url.get(), data_dir=settings.data_dir, connect_max_seconds=DATABASE_WAIT_SECONDS
    )
    await store.close()


def database_problem(settings: Settings) -> str | None:
    """Why the database cannot be used (it does not answer within the wait, refuses the login, lacks
    a driver, or its migrations fail), or None. The cog connects again; this makes its failure a
    line and an exit code of the launcher's instead of a traceback inside Red."""
    import backoff  # noqa: F401 - imported first: its import sets its logger's level, which this then quiets

    with _quiet_retries():
        try:
            asyncio.run(_open_database(settings))
        except Exception as exc:
            # The store's errors never hold the password; anything else is redacted by the log filter.
            # One line, also for a driver's or a migration's message that spans several.
            return " ".join(str(exc).split()) or type(exc).__name__
    return None


def main() -> int:
    try:
        settings = load_settings(mode="standalone", data_dir=default_data_dir(os.environ).absolute())
    except SettingsError as exc:
        print(settings_error_message(exc.problems), file=sys.stderr)
        return EXIT_BAD_SETTINGS
    configure_standalone_logging(settings)
    problem = data_dir_problem(settings.data_dir)
    if problem:
        reason, error_number = problem
        hint = data_dir_hint(error_number, os.getuid(), os.getgid())
        log_event(
            log,
            "data_dir_unusable",
            f"ir2dis cannot start: DATA_DIR {settings.data_dir} cannot be used ({reason}); {hint}",
            level=logging.CRITICAL,
            data_dir=str(settings.data_dir),
            problem=reason,
            hint=hint,
        )
        return EXIT_DATA_DIR_UNUSABLE
    unusable = database_problem(settings)
    if unusable:
        log_event(
            log,
            "database_unusable",
            f"ir2dis cannot start: the database cannot be used: {unusable}",
            level=logging.CRITICAL,
            problem=unusable,
        )
        return EXIT_DATABASE_UNUSABLE

    # Before anything imports Red: its instance list is found through XDG_CONFIG_HOME.
    from .instance import InstanceSetupError, ensure_instance, point_red_at

    data_path = point_red_at(settings.data_dir)
    import redbot

    redbot._early_init()  # Red's logger class and event loop policy, as its own entry point sets them
    log_event(
        log,
        "startup",
        data_dir=str(settings.data_dir),
        log_format=settings.log_format,
        health=f"{settings.health_host}:{settings.health_port}",
        iracing_api_base=mask_url(settings.iracing_api_base),
    )
    try:
        ensure_instance(data_path)
    except (InstanceSetupError, OSError) as exc:
        log_event(log, "red_instance_failed", level=logging.CRITICAL, error=str(exc))
        return EXIT_CRITICAL

    # The one hand-over (after redbot-setup ran, so its process never saw the secrets): the cog
    # reads its settings from this process's environment when it loads.
    os.environ.update(as_environment(settings))
    from .runner import run_red

    return run_red(settings)


def run() -> None:
    code = main()
    if should_restart(code):
        log_event(log, "restarting")
        logging.shutdown()
        os.execve(sys.executable, [sys.executable, "-m", "standalone", *sys.argv[1:]], _LAUNCH_ENVIRONMENT)  # noqa: S606
    sys.exit(code)


if __name__ == "__main__":
    run()
