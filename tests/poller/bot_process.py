"""One bot process for the real-process tests: the poll engine with its work share, on a real clock.

    python -m tests.poller.bot_process --db-url URL --fake-url URL --name p1 --sink FILE --interval 5

What the cog does, without Discord: a heartbeat in ``work_lease`` every interval / 5 and a
cycle every interval, through an ``AccountPool`` over the real client. Discord is a sink file
shared by every process: a post is one line appended with one ``write`` (O_APPEND keeps lines
whole between processes) and "is it in the channel already" reads the file, as the outbox asks
Discord's history after a crash. The process runs until SIGTERM (then it finishes its cycle and
leaves the lease cleanly, as the cog's unload does) or until it is killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
from dataclasses import replace
from pathlib import Path
from typing import Any

from ir2dis_cog.config.settings import load_settings
from ir2dis_cog.iracing.accounts import AccountPool
from ir2dis_cog.iracing.auth_state import MemoryAuthStateStore
from ir2dis_cog.iracing.client import IRacingClient
from ir2dis_cog.observability.metrics import Metrics
from ir2dis_cog.poller.engine import PollEngine
from ir2dis_cog.poller.ports import SystemClock
from ir2dis_cog.poller.work_share import WorkShare
from ir2dis_cog.store import open_store
from tests.fakes.iracing import FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, FAKE_EMAIL, FAKE_PASSWORD
from tests.iracing.conftest import FAST

log = logging.getLogger("red.ir2dis.test_process")


class SinkPublisher:
    """Discord as one file of ``process channel subsession message`` lines, shared by every process."""

    def __init__(self, path: Path, process: str) -> None:
        self._path = path
        self._process = process
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._sent = 0

    async def publish(self, channel_id: int, card: Any, image: bytes | None = None, mentions: Any = None) -> int:
        self._sent += 1
        message = os.getpid() * 1_000_000 + self._sent
        os.write(self._fd, f"{self._process} {channel_id} {card.subsession_id} {message}\n".encode())
        return message

    async def find_existing(self, channel_id: int, subsession_id: int) -> int | None:
        for line in self._path.read_text().splitlines():
            _, channel, s, message = line.split()
            if int(channel) == channel_id and int(s) == subsession_id:
                return int(message)
        return None

    def close(self) -> None:
        os.close(self._fd)


async def run(args: argparse.Namespace) -> None:
    env = {
        "IRACING_EMAIL": FAKE_EMAIL,
        "IRACING_PASSWORD": FAKE_PASSWORD,
        "IRACING_CLIENT_ID": FAKE_CLIENT_ID,
        "IRACING_CLIENT_SECRET": FAKE_CLIENT_SECRET,
        "IRACING_API_BASE": args.fake_url,
        "IRACING_OAUTH_URL": f"{args.fake_url}/oauth2/token",
        "IRACING_CONCURRENCY": "4",
    }
    data_dir = Path(args.data_dir)
    settings = load_settings(environ=env, config_file=data_dir / "absent.json", mode="cog", data_dir=data_dir)
    # The settings refuse intervals under 30 s; the test shrinks time, keeping the cog's ratios:
    # a beat every interval / 5, dead after three missed beats.
    settings = replace(settings, poll_interval_seconds=args.interval)
    beat_every = args.interval / 5
    clock = SystemClock()
    store = await open_store(args.db_url, data_dir=data_dir)
    publisher = SinkPublisher(Path(args.sink), args.name)
    async with IRacingClient(settings, state_store=MemoryAuthStateStore(), metrics=Metrics(), tuning=FAST) as client:
        pool = AccountPool([client])
        work = WorkShare(store.work, clock, process=args.name, split=store.dialect != "sqlite", ttl=3 * beat_every)
        engine = PollEngine(
            store,
            pool,
            publisher,
            settings,
            Metrics(),
            clock,
            process=args.name,
            work=work,
            lease_seconds=max(1, round(2 * args.interval)),
        )
        await work.beat()  # in the live set before the first cycle, as the cog beats at load
        await engine.resolve_unfinished()
        Path(args.ready).write_text("ok")

        async def heartbeat() -> None:
            while True:
                await asyncio.sleep(beat_every)
                try:
                    await work.beat()
                except Exception:
                    log.exception("heartbeat failed")

        beating = asyncio.create_task(heartbeat())
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)  # a clean stop, as the cog's unload
        tick = loop.time()
        while not stop.is_set():
            await engine.run_cycle()
            tick = max(tick + args.interval, loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), tick - loop.time())
        beating.cancel()
        await work.leave()
    publisher.close()
    await store.close()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m tests.poller.bot_process", description=__doc__)
    p.add_argument("--db-url", required=True)
    p.add_argument("--fake-url", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--sink", required=True)
    p.add_argument("--ready", required=True)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--interval", type=int, default=10, help="seconds between cycles")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
