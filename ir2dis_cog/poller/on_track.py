"""On track now: the live watcher's hook. When it reads a new race's roster and finds tracked
drivers on it, each server that chose an on-track channel (and whose filters want the race) gets
one short notice, at most one per (server, race): the ``live_notice`` key decides between
processes and across a restart. It uses what the watcher read, plus the season's schedule for the
series and track names (``schedules.py``: one request per season a day, and only once some server
is going to get a notice; without it the notice goes without names).

The notice runs in a task of its own, so the watcher never waits on Discord. A crash between the
claim and the post loses that notice rather than risking two (it is news of the moment; the result
card follows as usual). It pings only when the server turned pings on, and then only the confirmed
linked members of the drivers on track (a role is for podiums, not for every start).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from ir2dis_cog.core.on_track import OnTrack, may_want, named, not_wanted, notice_text, on_track_of
from ir2dis_cog.core.routing import MAX_MENTIONS, Mentions
from ir2dis_cog.iracing.live import LiveRace, RosterEntry
from ir2dis_cog.observability.logging import log_event
from ir2dis_cog.observability.metrics import Metrics
from ir2dis_cog.store import Store

from .ports import ChannelUnavailableError, Clock, NoticePublisher
from .schedules import SeasonSchedules

log = logging.getLogger("red.ir2dis.poller.live")
SafeText = Callable[[str], str]
FORGET_AFTER = 2 * 86_400  # notices of races this old are deleted (a race lasts a day at most)


def notice_marker(subsession_id: int) -> str:
    return f"ir2dis on track {subsession_id}"


class OnTrackNotices:
    def __init__(
        self,
        store: Store,
        publisher: NoticePublisher,
        metrics: Metrics,
        clock: Clock,
        *,
        owner: str,
        safe: SafeText,
        schedules: SeasonSchedules | None = None,
    ) -> None:
        self._store = store
        self._schedules = schedules  # None: notices without series and track
        self._publisher = publisher
        self._metrics = metrics
        self._clock = clock
        self._owner = owner
        self._safe = safe
        self._tasks: set[asyncio.Task[int]] = set()
        self._last_cleanup = 0.0

    def on_roster(
        self, race: LiveRace, live: Sequence[LiveRace], roster: Sequence[RosterEntry], tracked: frozenset[int]
    ) -> None:
        """The watcher's hook (``LiveWatcher(on_track=...)``): a new race with tracked drivers on it."""
        task = asyncio.create_task(self.send(on_track_of(race, live, roster, tracked)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self) -> None:
        """Let the notices in flight finish (the cog's unload; tests)."""
        if self._tasks:
            with contextlib.suppress(Exception):
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def send(self, race: OnTrack) -> int:
        """Notices sent for this race (one per server at most, ever)."""
        try:
            return await self._send(race)
        except Exception:
            log.exception("on-track notices failed", extra={"subsession_id": race.subsession_id})
            self._metrics.poll_errors_total.labels("on_track").inc()
            return 0

    async def _send(self, race: OnTrack) -> int:
        s = race.subsession_id
        by_driver = await self._store.drivers.active_tracking(c for c, _ in race.drivers)
        guilds: dict[int, set[int]] = {}
        for cust_id, servers in by_driver.items():
            for g in servers:
                guilds.setdefault(g, set()).add(cust_id)
        if not guilds:
            return 0
        choices = await self._store.choices.get_many(guilds)
        if not any((c := choices.get(g)) is not None and may_want(race, c, d) for g, d in guilds.items()):
            return 0  # nobody is going to get a notice: the schedule is not worth a request
        if self._schedules is not None:
            race = named(race, await self._schedules.week(race.season_id, race.race_week_num))
        sent = 0
        now = int(self._clock.now())
        for g, drivers in sorted(guilds.items()):
            c = choices.get(g)
            if c is None or c.live_channel is None:
                continue
            reason = not_wanted(race, c, drivers)
            if reason is not None:
                log.debug("no on-track notice", extra={"guild_id": g, "subsession_id": s, "reason": reason})
                continue
            channel = c.live_channel
            if not await self._store.live_notices.claim(g, s, channel, self._owner, now=now):
                continue  # sent already (or claimed by another process)
            mentions = await self._mentions(g, drivers) if c.ping_members else None
            names = [n for cust, n in race.drivers if cust in drivers]
            title, lines = notice_text(race, names, self._safe)
            try:
                message_id = await self._publisher.publish_notice(
                    channel, title, lines, notice_marker(s), mentions=mentions or None
                )
            except Exception as exc:
                self._failed(g, s, exc)
                await self._store.live_notices.record(g, s, None, state="failed")
                continue
            await self._store.live_notices.record(g, s, message_id, state="posted")
            sent += 1
            self._metrics.live_notices_total.inc()
            if mentions:
                self._metrics.pings_total.labels("member").inc(len(mentions.users))
            log_event(
                log,
                "on_track_posted",
                f"on track now: subsession {s} in server {g}",
                guild_id=g,
                subsession_id=s,
                message_id=message_id,
            )
        await self._cleanup(now)
        return sent

    async def _mentions(self, guild_id: int, drivers: set[int]) -> Mentions:
        links = await self._store.links.confirmed(guild_id)
        return Mentions(tuple(sorted({links[c] for c in drivers if c in links})[:MAX_MENTIONS]))

    def _failed(self, guild_id: int, subsession_id: int, exc: Exception) -> None:
        reason = (
            f"channel unavailable: {exc.reason}" if isinstance(exc, ChannelUnavailableError) else type(exc).__name__
        )
        log_event(
            log,
            "on_track_failed",
            f"on-track notice of subsession {subsession_id} not posted in server {guild_id} ({reason})",
            level=logging.WARNING,
            exc_info=None if isinstance(exc, ChannelUnavailableError) else exc,
            guild_id=guild_id,
            subsession_id=subsession_id,
            reason=reason,
        )
        self._metrics.post_failures_total.labels("on_track").inc()

    async def _cleanup(self, now: int) -> None:
        if now - self._last_cleanup < 3600:
            return
        self._last_cleanup = now
        with contextlib.suppress(Exception):
            await self._store.live_notices.forget_before(now - FORGET_AFTER)
