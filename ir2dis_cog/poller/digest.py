"""The weekly digest, once a cycle: for each server whose digest hour it is (in its time zone),
claim that week in ``digest_sent`` (the unique key decides between processes and across a
restart), build the digest from the stored rows (no iRacing request) and post it.

A crash between the claim and the post loses that week's digest rather than risking two: the
claim is never retried (logged as ``digest_failed`` when the post itself fails).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ir2dis_cog.core.digest import build_digest, digest_lines, digest_slot
from ir2dis_cog.observability.logging import log_event
from ir2dis_cog.observability.metrics import Metrics
from ir2dis_cog.store import Store

from .ports import Clock, NoticePublisher

log = logging.getLogger("red.ir2dis.poller")
SafeText = Callable[[str], str]  # makes a stored name inert for the embed (red.embeds.safe_text)


def digest_marker(week: str) -> str:
    return f"ir2dis weekly digest {week}"


class DigestRunner:
    def __init__(
        self,
        store: Store,
        publisher: NoticePublisher,
        metrics: Metrics,
        clock: Clock,
        *,
        owner: str,
        default_timezone: str,
        safe: SafeText,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._metrics = metrics
        self._clock = clock
        self._owner = owner
        self._zone = default_timezone
        self._safe = safe

    async def run_once(self) -> int:
        """Digests posted now (0 in almost every cycle)."""
        now = self._clock.now()
        sent = 0
        servers = await self._store.choices.with_digest()
        guilds = await self._store.guilds.get_many([c.guild_id for c in servers]) if servers else {}
        for choices in servers:
            g, channel = choices.guild_id, choices.digest_channel
            if channel is None:
                continue
            cfg = guilds.get(g)
            zone = (cfg.timezone if cfg and cfg.timezone else None) or self._zone
            slot = digest_slot(now, zone, choices.digest_day, choices.digest_hour)
            if slot is None:
                continue
            try:
                if not await self._store.digest.claim_week(g, slot.week, channel, self._owner, now=int(now)):
                    continue  # this week's is sent (or was claimed by another process)
                digest = build_digest(slot.week, await self._store.digest.rows(g, since=slot.since, until=slot.until))
                title = f"Week {slot.week[-2:]}: this server's races"
                message_id = await self._publisher.publish_notice(
                    channel, title, digest_lines(digest, self._safe), digest_marker(slot.week)
                )
                await self._store.digest.record_week(g, slot.week, message_id, state="posted")
            except Exception as exc:
                log_event(
                    log,
                    "digest_failed",
                    f"weekly digest {slot.week} of server {g} not posted ({type(exc).__name__})",
                    level=logging.WARNING,
                    guild_id=g,
                    reason=type(exc).__name__,
                )
                self._metrics.post_failures_total.labels("digest").inc()
                try:
                    await self._store.digest.record_week(g, slot.week, None, state="failed")
                except Exception:
                    log.exception("could not record a failed digest", extra={"guild_id": g})
                continue
            sent += 1
            self._metrics.digests_sent_total.inc()
            log_event(log, "digest_posted", f"weekly digest {slot.week} posted in server {g}", guild_id=g)
        return sent
