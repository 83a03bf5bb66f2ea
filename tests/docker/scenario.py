"""Drives the fakes and reads the container for the Docker test: ``python -m tests.docker.scenario <step> ...``.

Steps (each prints one JSON line for the shell script and exits 1 with ``{"error": ...}`` on failure):
- ``world``: a server with #general and #results on the fake Discord, a driver on the fake iRacing;
- ``race``: the owner sets the results channel and tracks the driver (prefix commands), then a race
  of that driver finishes; waits for the result message in #results;
- ``command``: the owner types a prefix command; the bot's answer must contain a text;
- ``health``: waits until /health answers 200 (with ``--want ok``: until a poll cycle succeeded);
- ``metrics``: /metrics answers 200 in the Prometheus format, with the named metrics and minimums;
- ``logs``: every line of a container log is one JSON object; events required, forbidden; no secret;
- ``count``: how many messages #results holds.
Every wait is bounded by ``--timeout`` and polls; nothing sleeps blindly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.discord import FakeDiscordRemote, Message
from tests.fakes.iracing import FAKE_CLIENT_SECRET, FAKE_EMAIL, FAKE_PASSWORD

CUST_ID = 345_678
DRIVER = "Docker Test Driver"
BOT_TOKEN = "fake-bot-token"  # the fake Discord accepts any token
SECRETS = (BOT_TOKEN, FAKE_CLIENT_SECRET, FAKE_EMAIL, FAKE_PASSWORD)


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
    try:
        answer = await discord.wait_for_message(
            channel, lambda m: m.id > sent and (not bot_id or m.author_id == bot_id), timeout=timeout, after=sent
        )
    except TimeoutError:
        raise AssertionError(f"{text!r} got no answer within {timeout:.0f} s") from None
    if expect not in answer.content:
        raise AssertionError(f"{text!r} was answered with {answer.content!r}, expected {expect!r} in it")
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
        try:
            card = await discord.wait_for_message(
                args.results, lambda m: _is_card(m, subsession_id), timeout=args.timeout
            )
        except TimeoutError:
            raise AssertionError(
                f"no result card for subsession {subsession_id} in #results within {args.timeout:.0f} s"
            ) from None
        if DRIVER not in json.dumps(card.embeds):
            raise AssertionError(f"the result card does not name {DRIVER!r}: {card.embeds}")
        return {
            "subsession_id": subsession_id,
            "message_id": card.id,
            "seconds_to_post": round(time.monotonic() - started, 1),
        }


async def command(args: argparse.Namespace) -> dict[str, Any]:
    async with FakeDiscordRemote(args.discord) as discord:
        return {"answer": await _command(discord, args.channel, args.text, args.expect, args.timeout)}


async def health(args: argparse.Namespace) -> dict[str, Any]:
    deadline = time.monotonic() + args.timeout
    last: Any = None
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(args.url) as r:
                    last = {"status": r.status, "body": await r.json(content_type=None)}
                body = last["body"]
                if r.status == 200 and (
                    args.want is None
                    or (body.get("status") == args.want and body.get("checks", {}).get("poll_cycle") == args.want)
                ):
                    return last
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                last = {"error": f"{type(exc).__name__}: {exc}"}
            await asyncio.sleep(1)
    wanted = "200" if args.want is None else f"200 with status {args.want!r}"
    raise AssertionError(f"/health did not answer {wanted} within {args.timeout:.0f} s; last: {last}")


async def metrics(args: argparse.Namespace) -> dict[str, Any]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http, http.get(args.url) as r:
        text = await r.text()
        if r.status != 200 or not r.headers.get("Content-Type", "").startswith("text/plain"):
            raise AssertionError(f"/metrics answered {r.status} {r.headers.get('Content-Type')!r}")
    totals: dict[str, float] = {}
    families: set[str] = set()  # a metric with no sample yet (an unset gauge) still has its HELP line
    for family in text_string_to_metric_families(text):
        families.update({family.name, f"{family.name}_total"})
        for sample in family.samples:
            # Counters: the sum over their labels; one label may be asked for as name{label=value}.
            totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
            for key, value in sample.labels.items():
                labelled = f"{sample.name}{{{key}={value}}}"
                totals[labelled] = totals.get(labelled, 0.0) + sample.value
    missing = [name for name in args.require if name not in totals and name not in families]
    if missing:
        raise AssertionError(f"/metrics lacks {missing}")
    found = {}
    for spec in args.at_least:
        name, _, minimum = spec.rpartition("=")
        found[name] = totals.get(name, 0.0)
        if found[name] < float(minimum):
            raise AssertionError(f"/metrics: {name} is {found[name]}, expected at least {minimum}")
    return {"metrics": len(totals), "values": found}


def _event_matches(record: dict[str, Any], spec: str) -> bool:
    """``event`` or ``event:field=value`` (the value compared as text)."""
    event, _, condition = spec.partition(":")
    if record.get("event") != event:
        return False
    if not condition:
        return True
    field, _, value = condition.partition("=")
    return str(record.get(field)) == value


async def logs(args: argparse.Namespace) -> dict[str, Any]:
    records = []
    with open(args.file, encoding="utf-8", errors="replace") as f:
        text = f.read()
    for secret in SECRETS:
        if secret in text:
            raise AssertionError("a secret appears in the container logs")
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise AssertionError(f"log line {number} is not JSON: {line[:300]!r}") from None
        if not isinstance(record, dict) or not {"time", "level", "logger", "event"} <= record.keys():
            raise AssertionError(f"log line {number} lacks time/level/logger/event: {line[:300]!r}")
        records.append(record)
    if not records:
        raise AssertionError("the container wrote no log lines")
    for spec in args.require:
        if not any(_event_matches(r, spec) for r in records):
            raise AssertionError(f"no {spec!r} event in the container logs")
    for spec in args.forbid:
        if any(_event_matches(r, spec) for r in records):
            raise AssertionError(f"unexpected {spec!r} event in the container logs")
    return {"lines": len(records)}


async def count(args: argparse.Namespace) -> dict[str, Any]:
    async with FakeDiscordRemote(args.discord) as discord:
        return {"messages": len(await discord.messages(args.results))}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    steps = parser.add_subparsers(dest="step", required=True)
    w = steps.add_parser("world")
    r = steps.add_parser("race")
    c = steps.add_parser("count")
    cmd = steps.add_parser("command")
    for p in (w, r, c, cmd):
        p.add_argument("--discord", required=True)
    for p in (w, r):
        p.add_argument("--iracing", required=True)
    for p in (r, c):
        p.add_argument("--results", type=int, required=True)
    r.add_argument("--general", type=int, required=True)
    r.add_argument("--timeout", type=float, default=180)
    cmd.add_argument("--channel", type=int, required=True)
    cmd.add_argument("--text", required=True)
    cmd.add_argument("--expect", required=True)
    cmd.add_argument("--timeout", type=float, default=60)
    h = steps.add_parser("health")
    h.add_argument("--url", required=True)
    h.add_argument("--timeout", type=float, default=120)
    h.add_argument("--want", choices=["ok"], help="also wait for this status and poll_cycle check")
    m = steps.add_parser("metrics")
    m.add_argument("--url", required=True)
    m.add_argument("--require", nargs="*", default=[], help="metric (sample) names that must be there")
    m.add_argument("--at-least", nargs="*", default=[], help="name=minimum or name{label=value}=minimum")
    lg = steps.add_parser("logs")
    lg.add_argument("--file", required=True)
    lg.add_argument("--require", nargs="*", default=[], help="event or event:field=value")
    lg.add_argument("--forbid", nargs="*", default=[], help="event or event:field=value")
    args = parser.parse_args(argv)
    step = {
        "world": world,
        "race": race,
        "health": health,
        "count": count,
        "command": command,
        "metrics": metrics,
        "logs": logs,
    }[args.step]
    try:
        print(json.dumps(asyncio.run(step(args))), flush=True)
    except (AssertionError, TimeoutError, OSError, aiohttp.ClientError) as exc:
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
