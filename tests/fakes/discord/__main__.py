"""The fake as a process: `python -m tests.fakes.discord --port N [--guilds K]`.

Prints one JSON line with its URL and API base once it listens; serves until SIGINT or SIGTERM.
Drive it with `FakeDiscordRemote` (or `POST /_fake/<operation>`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from .server import DEFAULT_BOT_ID, DEFAULT_OWNER_ID, DEFAULT_TOKEN, FakeDiscord


async def serve(args: argparse.Namespace) -> None:
    fake = FakeDiscord(
        host=args.host,
        port=args.port,
        token=args.token,
        bot_id=args.bot_id,
        application_id=args.application_id or args.bot_id,
        owner_id=args.owner_id,
    )
    await fake.start()
    for _ in range(args.guilds):
        fake.add_channel(fake.add_guild(), "general")
    # One line on stdout tells a parent process where the fake listens.
    print(json.dumps({"url": fake.url, "api_base": fake.api_base}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await fake.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.discord", description="A fake Discord API for tests")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed at start)")
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--bot-id", type=int, default=DEFAULT_BOT_ID)
    parser.add_argument("--application-id", type=int, default=0, help="default: the bot id")
    parser.add_argument("--owner-id", type=int, default=DEFAULT_OWNER_ID)
    parser.add_argument("--guilds", type=int, default=0, help="guilds (each with a #general) to create at start")
    asyncio.run(serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main(sys.argv[1:])
