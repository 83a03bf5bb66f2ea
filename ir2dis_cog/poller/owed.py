"""Races owed: a race found is written down (``pending_race``) before anything can drop it, and
asked for again with backoff until every server's post of it is settled.

Transient or permanent is decided by evidence, not by the exception's type: a network error, a
5xx, a 429, maintenance, a truncated or non-JSON body, an incomplete answer are transient and
asked again for at least ``TRANSIENT_FOR``; only iRacing saying "no such subsession" twice,
``NOT_FOUND_APART`` apart, is permanent. A race given up is logged once, counted by reason, kept
for ``/iracing status`` and settled (its watermarks move past it).

A row that cannot be written (the store is down) is kept in memory and written once the store
answers. The decisions are the pure functions here; ``Owed`` is the thin shell around the store.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, replace

import backoff

from ir2dis_cog.core.records import PendingRace
from ir2dis_cog.iracing.errors import NotFoundError
from ir2dis_cog.observability.logging import log_event
from ir2dis_cog.observability.metrics import Metrics
from ir2dis_cog.store import Store

from .ports import Clock

log = logging.getLogger("red.ir2dis.poller")

TRANSIENT_FOR = 36 * 3600  # unreadable answers are asked again for this long (at least a day)
NOT_FOUND_APART = 600  # a second "no such subsession" at least this long after the first is final
FIRST_WAIT = 60.0  # the backoff between tries: from a minute...
MAX_WAIT = 1800.0  # ...doubling up to half an hour
LEASE = 180  # a race taken (or being posted) is left to its process this long; then anyone's
KEEP_GIVEN_UP = 7 * 86_400  # given-up races are listed this long, then forgotten
# A race kept from its roster while it ran was never fetched: a 404 may only mean it still runs
# or its results are not out. It counts as "no such race" from this long after its start (the
# longest official races run a day).
NOT_OUT_GRACE = 26 * 3600
ROSTER = "roster"  # found_by of a race kept from its roster (results not asked yet)

NOT_FOUND = "not_found"  # give-up reasons, the metric's label
UNREADABLE = "unreadable"


def wait_after(tries: int) -> float:
    """Seconds before the next try after ``tries`` failed ones (``backoff``'s expo schedule)."""
    schedule = backoff.expo(factor=FIRST_WAIT, max_value=MAX_WAIT)
    next(schedule)  # the generator is primed by a first next()
    return float(next(itertools.islice(schedule, max(0, tries - 1), None)))


@dataclass(frozen=True)
class Verdict:
    race: PendingRace  # the row after this try
    give_up: str | None = None  # the reason, when the race is settled as given up


def after_failure(race: PendingRace, exc: BaseException, now: int) -> Verdict:
    """What a failed ``results/get`` of an owed race means: retried later, or given up."""
    tries = race.tries + 1
    first = race.first_failure_at if race.first_failure_at is not None else now
    error = type(exc).__name__
    if isinstance(exc, NotFoundError) and race.found_by == ROSTER and now < race.started_at + NOT_OUT_GRACE:
        # Not out yet, most likely: asked again, no evidence kept.
        return Verdict(replace(race, tries=tries, next_try_at=int(now + wait_after(tries)), last_error=error))
    if isinstance(exc, NotFoundError):
        if race.not_found_at is not None and now - race.not_found_at >= NOT_FOUND_APART:
            return Verdict(replace(race, tries=tries, last_error=error), NOT_FOUND)
        said = race.not_found_at if race.not_found_at is not None else now
        nxt = max(now + wait_after(tries), said + NOT_FOUND_APART)
        return Verdict(
            replace(
                race, tries=tries, next_try_at=int(nxt), first_failure_at=first, not_found_at=said, last_error=error
            )
        )
    if now - first >= TRANSIENT_FOR:
        return Verdict(replace(race, tries=tries, last_error=error), UNREADABLE)
    return Verdict(
        replace(race, tries=tries, next_try_at=int(now + wait_after(tries)), first_failure_at=first, last_error=error)
    )


def after_post_failure(race: PendingRace, now: int) -> PendingRace:
    """Fetched but not every post settled (the store failing): asked again, never given up for it."""
    tries = race.tries + 1
    return replace(race, tries=tries, next_try_at=int(now + wait_after(tries)))


_REASON_WORDS = {NOT_FOUND: "iRacing has no such race", UNREADABLE: "its results stayed unreadable"}


def reason_words(reason: str | None) -> str:
    return _REASON_WORDS.get(reason or "", reason or "given up")


class Owed:
    """The shell: ``pending_race`` rows, with a memory for those the store could not take yet."""

    def __init__(self, store: Store, metrics: Metrics, clock: Clock) -> None:
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._unwritten: dict[int, PendingRace] = {}  # found while the store failed
        self.store_failing_since: float | None = None

    def _now(self) -> int:
        return int(self._clock.now())

    def note_store(self, ok: bool) -> None:
        """The database answered (or not): since when it fails, for ``/iracing status``."""
        if ok:
            self.store_failing_since = None
        elif self.store_failing_since is None:
            self.store_failing_since = self._clock.now()

    def _store_failed(self, what: str, sid: int | None = None) -> None:
        first = self.store_failing_since is None
        self.note_store(False)
        log.warning(
            "could not keep a race owed in the database; keeping it in memory",
            exc_info=first,  # the traceback once per outage, not at every tick
            extra={"what": what, "subsession_id": sid},
        )
        self._metrics.poll_errors_total.labels("store").inc()

    def _store_answered(self) -> None:
        self.note_store(True)

    @property
    def in_memory(self) -> int:
        return len(self._unwritten)

    async def found(self, subsession_id: int, started_at: int, by: str, *, wait: float = LEASE) -> None:
        """Write a race found; its finder posts it now, anyone else after ``wait``."""
        now = self._now()
        race = PendingRace(subsession_id, started_at, now, by, next_try_at=int(now + wait))
        try:
            await self._store.pending.add(race)
        except Exception:
            self._unwritten.setdefault(subsession_id, replace(race, next_try_at=now))
            self._store_failed("found", subsession_id)
            return
        self._store_answered()

    async def flush(self) -> None:
        """Write the races kept in memory while the store failed (raises while it still fails)."""
        for sid, race in list(self._unwritten.items()):
            await self._store.pending.add(race)
            del self._unwritten[sid]
        self._store_answered()

    async def snapshot(self) -> dict[int, PendingRace]:
        """Every race owed now, read once for a cycle (with those kept in memory)."""
        try:
            rows = await self._store.pending.every()
        except Exception:
            self._store_failed("read")
            rows = {}
        return {**self._unwritten, **rows}

    async def due(self, limit: int = 100) -> list[PendingRace]:
        return await self._store.pending.due(now=self._now(), limit=limit)

    async def take(self, subsession_id: int) -> bool:
        now = self._now()
        return await self._store.pending.take(subsession_id, now=now, until=now + LEASE)

    async def failed(self, race: PendingRace, exc: BaseException) -> bool:
        """Keep a failed try; True when the race is now given up (settled)."""
        verdict = after_failure(race, exc, self._now())
        try:
            await self._store.pending.add(race)  # written first if it was only in memory
            if verdict.give_up is None:
                await self._store.pending.failed(verdict.race)
                return False
            if await self._store.pending.give_up(race.subsession_id, verdict.give_up, now=self._now()):
                self._gave_up(verdict.race, verdict.give_up)
        except Exception:
            self._unwritten.setdefault(race.subsession_id, verdict.race)
            self._store_failed("failed", race.subsession_id)
            return False
        self._unwritten.pop(race.subsession_id, None)
        return True

    async def hold(self, subsession_ids: list[int], until: float) -> None:
        if not subsession_ids:
            return
        try:
            await self._store.pending.hold(subsession_ids, until=int(until))
        except Exception:
            self._store_failed("hold")

    async def failed_to_post(self, race: PendingRace) -> None:
        try:
            await self._store.pending.failed(after_post_failure(race, self._now()))
        except Exception:
            self._store_failed("post_failed", race.subsession_id)

    async def settled(self, subsession_id: int) -> None:
        self._unwritten.pop(subsession_id, None)
        try:
            await self._store.pending.settle(subsession_id)
        except Exception:
            # The row stays: its next try finds every post settled in the outbox and removes it.
            self._store_failed("settle", subsession_id)

    async def purge(self) -> None:
        await self._store.pending.purge(before=self._now() - KEEP_GIVEN_UP)

    def _gave_up(self, race: PendingRace, reason: str) -> None:
        self._metrics.races_given_up_total.labels(reason).inc()
        log_event(
            log,
            "race_given_up",
            f"giving up subsession {race.subsession_id}: {reason_words(reason)} "
            f"({race.tries} tries, found by {race.found_by})",
            level=logging.WARNING,
            subsession_id=race.subsession_id,
            reason=reason,
            tries=race.tries,
        )
