"""``python -m standalone``: settings -> logging -> Red instance -> Red with the cog.

Bad or missing settings: one message naming each, exit code 2, and nothing else happens
(no folder, no instance, no network). Exit code 26 from Red restarts the process in place
(same PID, so a container's PID 1 and its signal handling stay as they are).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path

from ir2dis_cog.config.settings import SettingsError, load_settings
from ir2dis_cog.observability.logging import configure_standalone_logging, log_event

from .startup import (
    EXIT_BAD_SETTINGS,
    EXIT_CONFIGURATION_ERROR,
    EXIT_CRITICAL,
    default_database_url,
    settings_error_message,
    should_restart,
)

log = logging.getLogger("red.ir2dis.standalone")


def data_dir_problem(data_dir: Path) -> str | None:
    """Why DATA_DIR cannot hold the bot's files, or None. A bind mount that Docker created
    as root is the usual cause."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".write-test-"):
            pass
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def main() -> int:
    try:
        settings = load_settings(mode="standalone")
    except SettingsError as exc:
        print(settings_error_message(exc.problems), file=sys.stderr)
        return EXIT_BAD_SETTINGS
    configure_standalone_logging(settings)
    problem = data_dir_problem(settings.data_dir)
    if problem:
        log_event(
            log,
            "data_dir_unusable",
            level=logging.CRITICAL,
            data_dir=str(settings.data_dir),
            problem=problem,
            hint=f"make it writable for uid {os.getuid()}, e.g. sudo chown -R {os.getuid()}:{os.getgid()} "
            f"<the host folder mounted there>",
        )
        return EXIT_CONFIGURATION_ERROR

    # Before anything imports Red: its instance list is found through XDG_CONFIG_HOME.
    from .instance import InstanceSetupError, ensure_instance, point_red_at

    data_path = point_red_at(settings.data_dir)
    database_url = default_database_url(os.environ, settings.data_dir)
    if database_url:
        os.environ["DATABASE_URL"] = database_url  # read again by the cog when it loads
    import redbot

    redbot._early_init()  # Red's logger class and event loop policy, as its own entry point sets them
    log_event(
        log,
        "startup",
        data_dir=str(settings.data_dir.resolve()),
        log_format=settings.log_format,
        health=f"{settings.health_host}:{settings.health_port}",
    )
    try:
        ensure_instance(data_path)
    except (InstanceSetupError, OSError) as exc:
        log_event(log, "red_instance_failed", level=logging.CRITICAL, error=str(exc))
        return EXIT_CRITICAL

    from .runner import run_red

    return run_red(settings)


def run() -> None:
    code = main()
    if should_restart(code):
        log_event(log, "restarting")
        logging.shutdown()
        os.execv(sys.executable, [sys.executable, "-m", "standalone", *sys.argv[1:]])  # noqa: S606
    sys.exit(code)


if __name__ == "__main__":
    run()
