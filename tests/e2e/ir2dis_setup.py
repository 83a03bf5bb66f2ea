"""What every e2e test of the cog does first: an environment pointing at the fake iRacing, and the
owner giving the bot its iRacing login and loading the cog."""

from __future__ import annotations

import socket

from tests.e2e.redbot_harness import RedHarness
from tests.fakes.iracing import FakeIRacing

# The settings a test does not choose are blanked (empty means "not set"), so nothing from the
# environment the tests run in reaches the bot.
_BLANK = (
    "IRACING_CLIENT_ID",
    "IRACING_CLIENT_SECRET",
    "IRACING_EMAIL",
    "IRACING_PASSWORD",
    "DATABASE_URL",
    "POLL_INTERVAL_SECONDS",
    "LIVE_WATCH",
    "LIVE_POLL_SECONDS",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ir2dis_env(iracing: FakeIRacing, **chosen: str) -> dict[str, str]:
    """The bot's environment: the fake iRacing, /health on a free loopback port, then ``chosen``."""
    env = {
        "IRACING_API_BASE": iracing.base_url or "",
        "IRACING_OAUTH_URL": iracing.oauth_url,
        "HEALTH_HOST": "127.0.0.1",
        "HEALTH_PORT": str(free_port()),
        **dict.fromkeys(_BLANK, ""),
    }
    return {**env, **chosen}


async def give_login(h: RedHarness, iracing: FakeIRacing, client_id: str, email: str) -> None:
    """The owner's `[p]set api iracing ...`, with the fake's made-up secret and password."""
    await h.command(
        f"!set api iracing client_id,{client_id} client_secret,{iracing.client_secret} "
        f"username,{email} password,{iracing.password}",
        expect=lambda m: "API tokens have been set" in m.content,
    )


async def load_ir2dis(h: RedHarness, iracing: FakeIRacing, client_id: str, email: str) -> None:
    """Red started: the owner gives the login, then loads the cog."""
    await give_login(h, iracing, client_id, email)
    await h.load("ir2dis_cog")
