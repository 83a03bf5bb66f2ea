"""Pure decisions of the launcher: no I/O, so each is tested on plain values."""

from __future__ import annotations

import errno
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
EXIT_CONFIGURATION_ERROR = 78  # Red's: here, Discord refused the token or the intents
# The launcher's own, each a start-up failure the README's table names.
EXIT_BAD_SETTINGS = 2
EXIT_DATA_DIR_UNUSABLE = 3
EXIT_DATABASE_UNUSABLE = 4
# How long the start waits for a database that does not answer yet (a container still starting).
DATABASE_WAIT_SECONDS = 60.0


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


def data_dir_hint(error_number: int | None, uid: int, gid: int) -> str:
    """What to do about a DATA_DIR the bot cannot write, by the cause the system reported."""
    if error_number in (errno.EACCES, errno.EPERM):
        return (
            f"make it writable for uid {uid}: sudo chown -R {uid}:{gid} <the folder, or the host folder "
            f"mounted there>, or set DATA_DIR to a folder that user owns"
        )
    if error_number == errno.EROFS:
        return "the file system is read-only: mount it read-write (no :ro on the volume) or choose another DATA_DIR"
    if error_number in (errno.ENOSPC, errno.EDQUOT):
        return "the disk (or the quota) is full: free some space"
    if error_number in (errno.ENOTDIR, errno.EEXIST):
        return "a file is in the way (DATA_DIR or a folder above it is a file): move it or choose another DATA_DIR"
    return "choose a DATA_DIR the bot can create and write to"


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
