"""A server's own choices in the poll cycle: its filters keep races out, its routes send a race to
its category's channel and a podium also to the podium channel, and a podium pings whom it chose.

The imperative shell around ``core.filters`` and ``core.routing``. A race filtered out is recorded
in the outbox as decided (state ``dropped`` with the reason): never posted, never fetched again,
logged once and counted. A copy in a second channel is claimed in ``post_copy`` (unique per
server, channel and race) *before* the main post is claimed, so a crash anywhere leaves it to the
drain, which looks in the channel first, as the outbox does for the main post.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from ir2dis_cog.config.settings import Settings
from ir2dis_cog.core.cards import RaceCard
from ir2dis_cog.core.choices import ServerChoices
from ir2dis_cog.core.digest import rows_of
from ir2dis_cog.core.filters import RaceFacts, filtered_out
from ir2dis_cog.core.records import PendingPost
from ir2dis_cog.core.routing import Mentions, main_channel, route
from ir2dis_cog.iracing.models import Subsession
from ir2dis_cog.observability.logging import log_event
from ir2dis_cog.observability.metrics import Metrics
from ir2dis_cog.render.image_card import ImageCard
from ir2dis_cog.store import Store
from ir2dis_cog.store.copies_repo import CopyRow

from .cycle_state import CycleState
from .outbox import Outbox
from .ports import ChannelUnavailableError, Clock, Publisher

log = logging.getLogger("red.ir2dis.poller")


def facts_of(sub: Subsession) -> RaceFacts:
    return RaceFacts(
        subsession_id=sub.subsession_id,
        category_id=sub.license_category_id,
        category_name=sub.license_category,
        sof=sub.event_strength_of_field,
        series_id=sub.series_id,
        series_name=sub.series_name,
    )


def _filter_label(reason: str) -> str:
    """The metric label of a filter reason ("filtered out: SOF ..." -> "sof")."""
    words = reason.removeprefix("filtered out: ").split()
    return {"category": "category", "SOF": "sof", "series": "series"}.get(words[0] if words else "", "other")


class ServerRoutes:
    """The engine's hooks for a server's choices (``PollEngine(..., choices=...)`` wires it)."""

    def __init__(
        self,
        store: Store,
        publisher: Publisher,
        outbox: Outbox,
        metrics: Metrics,
        clock: Clock,
        settings: Callable[[], Settings],
        *,
        lease_seconds: int,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._outbox = outbox
        self._metrics = metrics
        self._clock = clock
        self._settings = settings
        self._lease = lease_seconds
        outbox.retry_channel = self._retry_channel
        outbox.after_drain.append(self.drain_copies)

    def _now(self) -> int:
        return int(self._clock.now())

    async def _choices(self, guild_id: int) -> ServerChoices:
        return await self._store.choices.get(guild_id)

    # --- filters ---------------------------------------------------------------------------------

    async def filtered(self, cycle: CycleState, guild_id: int, sub: Subsession, finished_at: int) -> bool:
        """True when this server's filters keep the race out (then it is decided, and settled)."""
        choices = await self._choices(guild_id)
        if choices.filters.is_open:
            return False
        reason = filtered_out(facts_of(sub), choices.filters)
        if reason is None:
            return False
        s = sub.subsession_id
        first = await self._store.copies.record_filtered(guild_id, s, reason, finished_at=finished_at, now=self._now())
        if first:
            log_event(
                log,
                "race_filtered",
                f"not posting subsession {s} in server {guild_id}: {reason}",
                guild_id=guild_id,
                subsession_id=s,
                reason=reason,
            )
            self._metrics.races_filtered_total.labels(_filter_label(reason)).inc()
        self._outbox.remember(guild_id, s)
        return True

    # --- routes, copies and pings ----------------------------------------------------------------

    async def post(
        self, cycle: CycleState, pending: PendingPost, card: RaceCard, image: ImageCard | None, sub: Subsession
    ) -> bool:
        """The main post (to its route's channel, with its pings) through the outbox, and its copies."""
        g, s = pending.guild_id, pending.subsession_id
        choices = await self._choices(g)
        links = await self._store.links.confirmed(g) if choices.ping_members else {}
        facts = facts_of(sub)
        r = route(facts, card, pending.channel_id, choices, links)
        main_mentions = r.mentions_for(r.channel_id)
        pending = replace(pending, channel_id=r.channel_id, mentions=main_mentions.encode() if main_mentions else None)
        # The digest's rows first: a crash after the claim leaves the post to the drain, which
        # knows nothing of the race but its card (insert-once: a second process writes nothing).
        rows = rows_of(g, card, pending.race_finished_at, series_id=sub.series_id, category_id=sub.license_category_id)
        try:
            await self._store.digest.add_rows(rows)
        except Exception:
            log.exception("could not keep the digest rows of a race", extra={"guild_id": g, "subsession_id": s})
            self._metrics.poll_errors_total.labels("store").inc()
        won_copies = []
        for channel in r.copies:
            m = r.mentions_for(channel)
            row = CopyRow(g, s, channel, pending.card_json, m.encode() if m else None, pending.race_finished_at, 0)
            try:
                if await self._store.copies.claim(
                    row, self._outbox.claim_holder, now=self._now(), lease_seconds=self._lease
                ):
                    won_copies.append(row)
            except Exception:
                log.exception(
                    "could not claim a copy", extra={"guild_id": g, "subsession_id": s, "channel_id": channel}
                )
                self._metrics.poll_errors_total.labels("store").inc()
        ok = await self._outbox.claim_and_send(cycle, pending, card, image)
        for row in won_copies:
            await self._send_copy(cycle, row, card, image, look_first=False)
        if r.mentions:
            self._count_pings(r.mentions)
        return ok

    def _count_pings(self, mentions: Mentions) -> None:
        if mentions.users:
            self._metrics.pings_total.labels("member").inc(len(mentions.users))
        if mentions.roles:
            self._metrics.pings_total.labels("role").inc(len(mentions.roles))

    async def _send_copy(
        self, cycle: CycleState, row: CopyRow, card: RaceCard, image: ImageCard | None, *, look_first: bool
    ) -> None:
        g, s, channel = row.guild_id, row.subsession_id, row.channel_id
        try:
            message_id = await self._publisher.find_existing(channel, s) if look_first else None
            if message_id is None:
                png = await self._outbox._picture(g, s, image) if image is not None else None
                mentions = Mentions.decode(row.mentions)
                extra = {"mentions": mentions} if mentions else {}
                message_id = await self._publisher.publish(channel, card, png, **extra)
                self._metrics.copies_published_total.inc()
                log_event(
                    log,
                    "copy_published",
                    f"posted subsession {s} in server {g} also in channel {channel}",
                    guild_id=g,
                    subsession_id=s,
                    channel_id=channel,
                    message_id=message_id,
                )
        except Exception as exc:
            reason = (
                f"channel unavailable: {exc.reason}" if isinstance(exc, ChannelUnavailableError) else type(exc).__name__
            )
            log_event(
                log,
                "post_failed",
                f"could not post subsession {s} in channel {channel} of server {g}; retrying later",
                level=logging.WARNING,
                exc_info=None if isinstance(exc, ChannelUnavailableError) else exc,
                guild_id=g,
                subsession_id=s,
                reason=reason,
            )
            self._metrics.post_failures_total.labels("copy").inc()
            retry_after = max(1, self._settings().poll_interval_seconds // 2)
            try:
                await self._store.copies.fail(g, s, channel, reason, now=self._now(), retry_after=retry_after)
            except Exception:
                log.exception("could not keep a failed copy for later", extra={"guild_id": g})
            return
        await self._store.copies.record(g, s, channel, message_id, now=self._now())

    async def drain_copies(self, cycle: CycleState) -> None:
        """Copies claimed earlier and never recorded (a crash, a channel unavailable for a while)."""
        now = self._now()
        for row in await self._store.copies.unresolved(now=now):
            g, s, channel = row.guild_id, row.subsession_id, row.channel_id
            try:
                if row.race_finished_at < cycle.oldest_postable:
                    await self._store.copies.drop(g, s, channel, "older than MAX_POST_AGE_HOURS", now=now)
                    continue
                owner = self._outbox.claim_holder
                if not await self._store.copies.take_over(g, s, channel, owner, now=now, lease_seconds=self._lease):
                    continue
                try:
                    card = RaceCard.from_json(row.card_json)
                except ValueError:
                    await self._store.copies.drop(g, s, channel, "stored card unreadable", now=now)
                    continue
                image = self._outbox._stored_image(g, s, await self._store.copies.image_json(g, s))
                await self._send_copy(cycle, row, card, image, look_first=True)
            except Exception:
                log.exception("could not settle an earlier copy", extra={"guild_id": g, "subsession_id": s})
                self._metrics.poll_errors_total.labels("outbox").inc()

    async def _retry_channel(self, post: PendingPost, results_channel: int) -> int:
        """A claim routed to its category's channel is retried there while that route stands."""
        if not post.channel_id or post.channel_id == results_channel:
            return results_channel
        choices = await self._choices(post.guild_id)
        if post.channel_id in choices.category_channels.values():
            return post.channel_id
        return results_channel


__all__ = ["ServerRoutes", "facts_of", "main_channel"]
