"""Pure decisions of the launcher: no I/O, so each is tested on plain values."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

INSTANCE_NAME = "ir2dis"
COG_PACKAGE = "ir2dis_cog"
APP_COMMAND = "iracing"
DISCORD_API_VERSION_PATH = "/api/v10"

# Red's exit codes (redbot.core.bot.ExitCodes), repeated so this module stays import-light.
EXIT_SHUTDOWN = 0
EXIT_CRITICAL = 1
EXIT_RESTART = 26
EXIT_CONFIGURATION_ERROR = 78
# The launcher's own: the settings were missing or invalid.
EXIT_BAD_SETTINGS = 2


def discord_route_base(url: str) -> str:
    """discord.py's REST base for ``DISCORD_API_BASE``: a bare host gets Discord's API path."""
    url = url.rstrip("/")
    return url if urlsplit(url).path else url + DISCORD_API_VERSION_PATH


def red_paths(data_dir: Path) -> tuple[Path, Path]:
    """(XDG_CONFIG_HOME, Red's data path): both under DATA_DIR so the volume holds everything."""
    root = data_dir.resolve()
    return root / "red-config", root / "red"


def instance_needs_setup(existing: Mapping[str, Any] | None, data_path: Path) -> bool:
    """True when Red's instance config lacks our instance or points elsewhere (DATA_DIR moved)."""
    if not existing or INSTANCE_NAME not in existing:
        return True
    entry = existing[INSTANCE_NAME]
    if not isinstance(entry, Mapping):
        return True
    return entry.get("DATA_PATH") != str(data_path) or entry.get("STORAGE_TYPE") != "JSON"


def setup_command(python: str, data_path: Path, *, overwrite: bool) -> list[str]:
    cmd = [
        python,
        "-m",
        "redbot.setup",
        "--no-prompt",
        "--instance-name",
        INSTANCE_NAME,
        "--data-path",
        str(data_path),
        "--backend",
        "json",
    ]
    if overwrite:
        cmd.append("--overwrite-existing-instance")
    return cmd


def red_cli_args(cog_path: Path, prefix: str, owner_id: int | None) -> list[str]:
    """The arguments Red's own CLI parser would get (no token: it never goes on a command line)."""
    args = [INSTANCE_NAME, "--no-prompt", "--prefix", prefix, "--cog-path", str(cog_path), "--load-cogs", COG_PACKAGE]
    if owner_id is not None:
        args += ["--owner", str(owner_id)]
    return args


def should_seed_python_version(recorded: Sequence[int] | None, current: Sequence[int], lib_is_empty: bool) -> bool:
    """Red skips every package on a "new" Python version, which is every first boot.

    With nothing in Downloader's lib folder there is nothing Red would need to clear, so
    recording the current version up front makes the first boot load the cog like any other.
    """
    return lib_is_empty and list(recorded or []) != list(current)


def default_database_url(environ: Mapping[str, str], data_dir: Path) -> str | None:
    """The DATABASE_URL to hand the cog when the user set none: SQLite directly in DATA_DIR.

    In a Red bot the cog would default to its own cog data folder; standalone, the documented
    place is ``DATA_DIR/ir2dis.sqlite3`` (``/data/ir2dis.sqlite3`` in the image).
    """
    if environ.get("DATABASE_URL"):
        return None
    return f"sqlite:///{(data_dir.resolve() / 'ir2dis.sqlite3').as_posix()}"


def should_restart(exit_code: int) -> bool:
    return exit_code == EXIT_RESTART


def commands_fingerprint(payload: Sequence[Mapping[str, Any]]) -> str:
    """A stable digest of the app commands to sync: unchanged commands need no sync."""
    ordered = sorted((dict(c) for c in payload), key=lambda c: (str(c.get("type")), str(c.get("name"))))
    text = json.dumps(ordered, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def settings_error_message(problems: Sequence[str]) -> str:
    """The one message printed when the settings are not usable."""
    lines = ["ir2dis cannot start; fix these settings (environment or DATA_DIR/config.json):"]
    lines += [f"  - {p}" for p in problems]
    return "\n".join(lines)
