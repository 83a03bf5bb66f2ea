"""`python -m standalone` as a real process: start it, read its JSON lines, stop it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[2]
OWNER_ID = 900_000_000_000_000_002


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_env(data_dir: Path) -> dict[str, str]:
    """Only what a user would set: no inherited variables leak into the bot."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "DATA_DIR": str(data_dir),
        "PYTHONUNBUFFERED": "1",
    }


@dataclass
class Bot:
    proc: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    health_port: int = 0

    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.lines if line.startswith("{")]

    def named(self, event: str) -> list[dict]:
        return [e for e in self.events() if e.get("event") == event]

    async def wait_event(self, event: str, count: int = 1, timeout: float = 60) -> dict:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while len(self.named(event)) < count:
                if self.proc.returncode is not None:
                    raise AssertionError(f"bot exited {self.proc.returncode} before {event}:\n" + "\n".join(self.lines))
                await asyncio.sleep(0.1)
        return self.named(event)[count - 1]

    async def health(self) -> tuple[int, dict]:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{self.health_port}/health") as r:
            return r.status, await r.json()

    async def metrics(self) -> str:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{self.health_port}/metrics") as r:
            assert r.status == 200
            return await r.text()


async def launch(env: Mapping[str, str], *, cwd: Path = REPO) -> Bot:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "standalone",
        cwd=str(cwd),
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    bot = Bot(proc)

    async def drain() -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            bot.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    bot._drain = asyncio.create_task(drain())  # type: ignore[attr-defined]
    return bot


async def stop(bot: Bot, *, terminate: bool = True) -> int:
    if terminate and bot.proc.returncode is None:
        bot.proc.send_signal(signal.SIGTERM)
    async with asyncio.timeout(60):
        code = await bot.proc.wait()
        await bot._drain  # type: ignore[attr-defined]
    return code
