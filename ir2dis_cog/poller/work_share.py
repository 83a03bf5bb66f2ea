"""Several bot processes on one database split the work through the database itself.

Each process keeps a heartbeat row in ``work_lease``; every process reads the rows, keeps those
refreshed within ``ttl`` seconds (the live processes) and polls only the drivers that rendezvous
hashing gives it. Rendezvous (highest random weight) needs no coordinator and moves only the
drivers of a process that comes or goes. The live watcher belongs to one process the same way.
A process that stops beating (killed) drops out of every process's live set after ``ttl``, and
its drivers, unknown to the new owner's scheduler, are due at once there: taken over within
``ttl`` plus one poll interval. Posts stay exactly-once whatever the views: the outbox claim in
post_history decides, and the watermarks are in the database.

SQLite is the one-process default: the work is not split there, and a second process is said
once in the log and in ``/iracing status``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ir2dis_cog.observability.logging import log_event
from ir2dis_cog.store.work_lease import LeaseRow, WorkLeaseRepo

from .ports import Clock

log = logging.getLogger("red.ir2dis.work")

WATCHER_KEY = "live-watcher"
FORGET_AFTER = 86_400  # rows of processes dead this long are deleted


# --- pure rules -------------------------------------------------------------------------------


def heartbeat_period(poll_interval: float) -> float:
    """How often a process beats: five times a poll interval, at most every 30 s, at least every 5 s."""
    return max(5.0, min(30.0, poll_interval / 5))


def lease_ttl(poll_interval: float) -> float:
    """A process silent this long is dead: three missed beats. Its share is then taken within
    ttl + one poll interval, under two intervals."""
    return 3 * heartbeat_period(poll_interval)


def weight(process_id: str, key: str) -> int:
    """A stable pseudo-random weight (not Python's salted hash: every process must agree)."""
    digest = hashlib.blake2b(f"{process_id}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner_of(key: str, processes: Sequence[str]) -> str:
    """The process that owns ``key``: the one with the highest weight for it."""
    return max(processes, key=lambda p: (weight(p, key), p))


def share_of(cust_ids: Iterable[int], me: str, processes: Sequence[str]) -> frozenset[int]:
    """The drivers ``me`` polls among ``processes`` (``me`` always counts as live)."""
    everyone = sorted({*processes, me})
    if len(everyone) == 1:
        return frozenset(cust_ids)
    return frozenset(c for c in cust_ids if owner_of(str(c), everyone) == me)


def live_rows(rows: Iterable[LeaseRow], now: float, ttl: float) -> tuple[LeaseRow, ...]:
    return tuple(sorted((r for r in rows if now - r.heartbeat_at <= ttl), key=lambda r: r.process_id))


@dataclass(frozen=True)
class WorkView:
    """What ``/iracing status`` shows of the work sharing."""

    me: str
    processes: tuple[LeaseRow, ...]  # the live ones, this one included
    split: bool  # False on SQLite: every process polls everything
    mine: int = 0  # drivers this process polls
    tracked: int = 0

    @property
    def others_on_sqlite(self) -> bool:
        return not self.split and len(self.processes) > 1


# --- the shell ---------------------------------------------------------------------------------


class WorkShare:
    """One process's side: its heartbeat, its view of the live processes, its share."""

    def __init__(
        self,
        repo: WorkLeaseRepo,
        clock: Clock,
        *,
        process: str,
        instance: str | None = None,
        split: bool = True,
        ttl: float = lease_ttl(300),
    ) -> None:
        self._repo = repo
        self._clock = clock
        self.process = process[:64]
        self._instance = instance
        self._split = split
        self.ttl = ttl
        self._started = int(clock.now())
        self._live: tuple[LeaseRow, ...] = ()
        self._drivers = 0
        self._tracked = 0
        self._watcher: tuple[str | None, int] = (None, 0)
        self._warned_sqlite = False
        self._first = True

    def set_watcher(self, state: str | None, requests_per_window: float = 0.0) -> None:
        """What the next beat tells the others of this process's live watcher (None: not running)."""
        self._watcher = (state, round(requests_per_window))

    async def beat(self) -> tuple[LeaseRow, ...]:
        """Refresh this process's row and read who is alive. On a store error the last view stays
        (the share then does not move, and the outbox still keeps posts exactly-once)."""
        now = int(self._clock.now())
        if self._first and self._instance:
            # A restart of this instance: its previous life cannot be polling any more.
            await self._repo.forget_earlier_lives(self._instance, self.process)
        self._first = False
        state, requests = self._watcher
        row = LeaseRow(self.process, self._instance, self._started, now, self._drivers, state, requests)
        await self._repo.beat(row)
        rows = await self._repo.all()
        before = {r.process_id for r in self._live}
        self._live = live_rows(rows, now, self.ttl)
        after = {r.process_id for r in self._live}
        if before and after != before:
            log_event(
                log,
                "work_shared",
                f"{len(after)} processes share the work now",
                processes=len(after),
                joined=len(after - before),
                left=len(before - after),
            )
        if not self._split and len(after) > 1 and not self._warned_sqlite:
            self._warned_sqlite = True
            log_event(
                log,
                "sqlite_second_process",
                "another bot process uses this SQLite database: SQLite is for one process; each "
                "process polls every driver (posts stay once). Use PostgreSQL or MariaDB to share the work.",
                level=logging.WARNING,
                processes=len(after),
            )
        if any(now - r.heartbeat_at > FORGET_AFTER for r in rows):
            await self._repo.prune(before=now - FORGET_AFTER)
        return self._live

    async def leave(self) -> None:
        await self._repo.leave(self.process)

    def _processes(self) -> list[str]:
        return [r.process_id for r in self._live]

    def mine(self, cust_ids: Iterable[int]) -> frozenset[int]:
        """The drivers this process polls: its rendezvous share, or all of them on SQLite."""
        ids = frozenset(cust_ids)
        share = share_of(ids, self.process, self._processes()) if self._split else ids
        self._drivers, self._tracked = len(share), len(ids)
        return share

    def budget_share(self) -> float:
        """The part of the accounts' budget this process may plan on: processes share the accounts."""
        if not self._split:
            return 1.0
        return 1.0 / max(1, len({*self._processes(), self.process}))

    def holds_watcher(self) -> bool:
        """Whether this process runs the live watcher (one process does)."""
        processes = self._processes()
        if not self._split or not processes:
            return True
        return owner_of(WATCHER_KEY, sorted({*processes, self.process})) == self.process

    def watcher_elsewhere(self) -> LeaseRow | None:
        """The row of the process that runs the live watcher, when it is another one."""
        for r in self._live:
            if r.process_id != self.process and r.watcher is not None:
                return r
        return None

    def view(self) -> WorkView:
        return WorkView(self.process, self._live, self._split, self._drivers, self._tracked)


class RemoteLive:
    """The engine's ``LiveView`` of a live watcher running in another process, from its heartbeat."""

    def __init__(self, work: WorkShare) -> None:
        self._work = work

    def healthy(self) -> bool:
        row = self._work.watcher_elsewhere()
        return row is not None and row.watcher == "healthy"

    def requests_per_window(self) -> float:
        row = self._work.watcher_elsewhere()
        return float(row.watcher_requests) if row is not None else 0.0

    def found_by_safety_net(self, subsession_id: int, started_at: int) -> None:
        """Misses are counted by the process that runs the watcher, from its own safety net."""
