"""Runs the real `redbot` with discord.py's REST base pointed elsewhere (a fake Discord).

    DISCORD_API_BASE=http://127.0.0.1:PORT python -P tests/e2e/red_launcher.py INSTANCE [redbot flags...]

Red has no flag for the API base, so this sets `discord.http.Route.BASE` and then runs
`redbot.__main__.main()` unchanged. Interactions and webhooks go through the same Route,
and the gateway URL comes from `GET /gateway/bot`, so one setting moves all of Discord.

Run it with `python -P` (or as a file): the repository root must not be on sys.path, so the
bot imports cogs only from its cog paths, as it would in production. This file imports
nothing from the project for the same reason.
"""

from __future__ import annotations

import os
import re
import sys

API_VERSION_SUFFIX = re.compile(r"/api/v\d+$")


def discord_api_base(value: str) -> str:
    """`http://host:port` or `http://host:port/api/v10` -> the Route.BASE discord.py wants."""
    base = value.strip().rstrip("/")
    return base if API_VERSION_SUFFIX.search(base) else f"{base}/api/v10"


def apply_discord_api_base(value: str | None) -> str | None:
    """Points discord.py's REST (and so gateway discovery and interactions) at `value`; None keeps Discord."""
    if not value:
        return None
    import discord.http

    discord.http.Route.BASE = discord_api_base(value)
    return discord.http.Route.BASE


def skip_pypi_version_check() -> None:
    """Red asks PyPI for its latest version in on_ready (up to 5 s offline): answer 'current' at once."""
    import redbot.core.bot  # noqa: F401  (imports _events in the order Red expects)
    from redbot import __version__, core
    from redbot.core import _events

    async def current_version() -> tuple[object, None]:
        return core.VersionInfo.from_str(__version__), None

    _events.fetch_latest_red_version_info = current_version  # type: ignore[assignment]


def main() -> None:
    apply_discord_api_base(os.environ.get("DISCORD_API_BASE"))
    if os.environ.get("RED_E2E_OFFLINE") == "1":
        skip_pypi_version_check()
    from redbot.__main__ import main as redbot_main

    sys.argv[0] = "redbot"
    redbot_main()


if __name__ == "__main__":
    main()
