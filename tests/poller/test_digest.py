"""The weekly digest shell with a clock that moves: once at its hour in the server's zone, once
across a restart at that hour and with two processes; built from the stored rows only."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from ir2dis_cog.core.digest import DigestRow
from ir2dis_cog.observability.metrics import Metrics
from ir2dis_cog.poller.digest import DigestRunner
from ir2dis_cog.store import Store
from tests.poller.conftest import ManualClock

G, CHANNEL = 111_111_111_111, 9009
# Monday 9 February 2026 09:00 in Berlin = 08:00 UTC.
DUE = datetime(2026, 2, 9, 8, 0, tzinfo=UTC).timestamp()


class Notices:
    def __init__(self) -> None:
        self.sent: list[tuple[int, str, list[str], str]] = []

    async def publish_notice(self, channel_id: int, title: str, lines: list[str], marker: str) -> int:
        self.sent.append((channel_id, title, lines, marker))
        return 70_000 + len(self.sent)


def _runner(store: Store, notices: Notices, clock: ManualClock, owner: str) -> DigestRunner:
    return DigestRunner(
        store, notices, Metrics(), clock, owner=owner, default_timezone="UTC", safe=lambda t: t.replace("*", "\\*")
    )


async def test_the_digest_fires_once_at_its_hour_across_a_restart_and_two_processes(store: Store) -> None:
    await store.guilds.set_timezone(G, "Europe/Berlin", now=int(DUE))
    await store.choices.set(G, now=int(DUE), digest_channel=CHANNEL, digest_day=0, digest_hour=9)
    await store.digest.add_rows(
        [
            DigestRow(G, 1, 401, "Alice *Apex*", int(DUE - 3 * 86_400), "GT4 Cup", 1, 3, 2, 2000, 2040),
            DigestRow(G, 2, 402, "Bruno", int(DUE - 2 * 86_400), "GT4 Cup", 6, 12, 0, 1500, 1490),
            DigestRow(G, 3, 402, "Bruno", int(DUE - 8 * 86_400), "GT4 Cup", 1, 1, 0, 1490, 1550),  # last week
        ]
    )
    clock = ManualClock(DUE - 1)
    notices = Notices()
    first = _runner(store, notices, clock, "a:1")
    assert await first.run_once() == 0  # 08:59:59 in Berlin
    clock.advance(1)
    second = _runner(store, notices, clock, "b:1")
    assert sum(await asyncio.gather(first.run_once(), second.run_once())) == 1
    clock.advance(1800)
    restarted = _runner(store, notices, clock, "a:2")  # a restart within that hour
    assert await restarted.run_once() == 0
    [(channel, _title, lines, marker)] = notices.sent
    assert (channel, marker) == (CHANNEL, "ir2dis weekly digest 2026-W07")
    assert lines[0] == "**2** races by 2 drivers · **1** win · **1** podium"
    assert "iRating gains: Alice \\*Apex\\* +40" in lines and "Best climb: Bruno, 6 places gained in one race" in lines
    clock.advance(7 * 86_400)
    assert await restarted.run_once() == 1  # the next week
