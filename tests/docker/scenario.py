"""Drives the fakes for the Docker test: ``python -m tests.docker.scenario <step> ...``.

Steps (each prints one JSON line for the shell script):
- ``world``: a server with #general and #results on the fake Discord, a driver on the fake iRacing;
- ``race``: the owner sets the results channel and tracks the driver (prefix commands), then a race
  of that driver finishes; waits for the result message in #results;
- ``health``: waits until /health answers 200 (the container is polled, never slept on blindly);
- ``count``: how many messages #results holds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

import aiohttp

from tests.fakes.discord_api import FakeDiscordRemote, Message

CUST_ID = 345_678
DRIVER = "Docker Test Driver"


async def world(args: argparse.Namespace) -> dict[str, Any]:
    async with FakeDiscordRemote(args.discord) as discord, aiohttp.ClientSession() as http:
        guild = await discord.add_guild(name="ir2dis docker test")
        general = await discord.add_channel(guild, "general")
        results = await discord.add_channel(guild, "results")
        async with http.post(f"{args.iracing}/_fake/members", json={"cust_id": CUST_ID, "display_name": DRIVER}) as r:
            r.raise_for_status()
    return {"guild": guild, "general": general, "results": results}


async def _command(discord: FakeDiscordRemote, channel: int, text: str, expect: str, timeout: float) -> str:  # noqa: ASYNC109
    """The owner types ``text``; returns the bot's answer, which must contain ``expect``."""
    info = await discord.info()
    bot_id = int(info.get("bot_id") or 0)
    sent = await discord.send_message(channel, text)
    answer = await discord.wait_for_message(
        channel, lambda m: m.id > sent and (not bot_id or m.author_id == bot_id), timeout=timeout, after=sent)
    if expect not in answer.content:
        raise AssertionError(f"{text!r} was answered with {answer.content!r}")
    return answer.content


def _is_card(message: Message, subsession_id: int) -> bool:
    marker = f"Subsession {subsession_id}"
    return any(marker in json.dumps(embed) for embed in message.embeds)


async def race(args: argparse.Namespace) -> dict[str, Any]:
    async with FakeDiscordRemote(args.discord) as discord, aiohttp.ClientSession() as http:
        await _command(discord, args.general, f"!iracing setchannel <#{args.results}>", "posted in", 60)
        await _command(discord, args.general, f"!iracing track {CUST_ID}", "tracking", 60)
        # The race ended five minutes ago.
        body = {"entries": [CUST_ID], "session_start_time": time.time() - 35 * 60, "race_minutes": 30}
        async with http.post(f"{args.iracing}/_fake/races", json=body) as r:
            r.raise_for_status()
            subsession_id = int((await r.json())["subsession_id"])
        started = time.monotonic()
        card = await discord.wait_for_message(args.results, lambda m: _is_card(m, subsession_id), timeout=args.timeout)
        return {"subsession_id": subsession_id, "message_id": card.id,
                "seconds_to_post": round(time.monotonic() - started, 1)}


async def health(args: argparse.Namespace) -> dict[str, Any]:
    deadline = time.monotonic() + args.timeout
    last: Any = None
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(args.url) as r:
                    last = {"status": r.status, "body": await r.json()}
                    if r.status == 200:
                        return last
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = {"error": type(exc).__name__}
            await asyncio.sleep(1)
    raise AssertionError(f"/health did not answer 200 within {args.timeout}s; last: {last}")


async def count(args: argparse.Namespace) -> dict[str, Any]:
    async with FakeDiscordRemote(args.discord) as discord:
        return {"messages": len(await discord.messages(args.results))}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    steps = parser.add_subparsers(dest="step", required=True)
    w = steps.add_parser("world")
    r = steps.add_parser("race")
    c = steps.add_parser("count")
    for p in (w, r, c):
        p.add_argument("--discord", required=True)
    for p in (w, r):
        p.add_argument("--iracing", required=True)
    for p in (r, c):
        p.add_argument("--results", type=int, required=True)
    r.add_argument("--general", type=int, required=True)
    r.add_argument("--timeout", type=float, default=180)
    h = steps.add_parser("health")
    h.add_argument("--url", required=True)
    h.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args(argv)
    step = {"world": world, "race": race, "health": health, "count": count}[args.step]
    try:
        print(json.dumps(asyncio.run(step(args))), flush=True)
    except (AssertionError, TimeoutError, aiohttp.ClientError) as exc:
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
