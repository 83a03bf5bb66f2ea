"""The outbox: a post is claimed in post_history before it is sent, recorded after, and settled
after a crash by looking in the channel first; a race too old to post is recorded there too.

Exactly once per (server, race) comes from the claim's unique key, across processes; the memory
of settled pairs only saves this process from asking again.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable

from ir2dis_cog.config.settings import Settings
from ir2dis_cog.core.cards import RaceCard
from ir2dis_cog.core.records import PendingPost
from ir2dis_cog.core.routing import Mentions
from ir2dis_cog.core.tracking import RaceRef
from ir2dis_cog.observability.logging import log_event
from ir2dis_cog.observability.metrics import Metrics
from ir2dis_cog.render.image_card import ImageCard, ImageCardFormatError
from ir2dis_cog.store import Store

from .cycle_state import CycleState
from .ports import ChannelUnavailableError, Clock, Publisher, Renderer

log = logging.getLogger("red.ir2dis.poller")

_HANDLED_MEMORY = 20_000  # (guild, subsession) pairs remembered as done, to skip refetching them
CardLoader = Callable[[str], RaceCard]
# A server's choices may route a race to another channel than the results channel (its category's):
# a retry asks where the claim should go now. Given the claim and the results channel.
RetryChannel = Callable[[PendingPost, int], Awaitable[int]]


async def _results_channel(_post: PendingPost, results_channel: int) -> int:
    return results_channel


class Outbox:
    def __init__(
        self,
        store: Store,
        publisher: Publisher,
        metrics: Metrics,
        clock: Clock,
        settings: Callable[[], Settings],
        *,
        claim_holder: str,
        lease_seconds: int,
        load_card: CardLoader,
        renderer: Renderer | None = None,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._metrics = metrics
        self._clock = clock
        self._settings = settings
        # Who holds a claim: "<instance>:<process>"; a restart of the same instance settles its own.
        self.claim_holder = claim_holder
        self._lease = lease_seconds
        self._load_card = load_card
        self._renderer = renderer
        self._handled: OrderedDict[tuple[int, int], None] = OrderedDict()
        # Set by the server choices (poller/choices.py): where a retry goes, and what else drains.
        self.retry_channel: RetryChannel = _results_channel
        self.after_drain: list[Callable[[CycleState], Awaitable[None]]] = []

    def _now(self) -> int:
        return int(self._clock.now())

    def handled(self, guild_id: int, subsession_id: int) -> bool:
        """Settled by this process already (posted, found, claimed elsewhere, or too old)."""
        return (guild_id, subsession_id) in self._handled

    async def claim_and_send(
        self, cycle: CycleState, pending: PendingPost, card: RaceCard, image: ImageCard | None = None
    ) -> bool:
        """Claim (the unique key decides between processes), publish, record. True once settled."""
        guild_id, s = pending.guild_id, pending.subsession_id
        try:
            won = await self._store.posts.claim(pending, self.claim_holder, now=self._now(), lease_seconds=self._lease)
        except Exception:
            log.exception("could not claim a post", extra={"subsession_id": s, "guild_id": guild_id})
            self._metrics.poll_errors_total.labels("store").inc()
            return False
        if not won:
            self.dedupe(cycle, guild_id, s, "already_claimed")
            return True
        if guild_id in cycle.unavailable:
            await self._failed(cycle, guild_id, s, ChannelUnavailableError(cycle.unavailable[guild_id]))
            return True
        mentions = Mentions.decode(pending.mentions)
        await self._send(cycle, guild_id, s, pending.channel_id, card, image, look_first=(), mentions=mentions)
        return True

    async def too_old(self, cycle: CycleState, guild_id: int, ref: RaceRef, *, finished_at: int | None) -> bool:
        """A race that ended too long ago to post: recorded, reported once, counted; True when settled."""
        s, limit = ref.subsession_id, self._settings().max_post_age_hours
        if finished_at is None:
            hours = (cycle.started_at - ref.started_at) / 3600
            reason = f"too old to post: started {hours:.0f} h ago, so ended more than {limit} h ago"
        else:
            hours = (cycle.started_at - finished_at) / 3600
            reason = f"too old to post: ended {hours:.0f} h ago, more than MAX_POST_AGE_HOURS ({limit})"
        try:
            first = await self._store.posts.skip_too_old(
                guild_id, s, reason, finished_at=finished_at or ref.started_at, now=self._now()
            )
        except Exception:
            log.exception("could not record a race too old to post", extra={"guild_id": guild_id, "subsession_id": s})
            self._metrics.poll_errors_total.labels("store").inc()
            return False
        if first:
            log_event(
                log,
                "race_too_old",
                f"not posting subsession {s} in server {guild_id}: {reason}",
                level=logging.WARNING,
                guild_id=guild_id,
                subsession_id=s,
                reason=reason,
            )
            cycle.counts.races_too_old += 1
            self._metrics.races_too_old_total.inc()
        self.remember(guild_id, s)
        return True

    async def _send(
        self,
        cycle: CycleState,
        guild_id: int,
        s: int,
        channel_id: int,
        card: RaceCard,
        image: ImageCard | None,
        *,
        look_first: Iterable[int],
        mentions: Mentions | None = None,
    ) -> None:
        """Publish a claimed post, unless one of ``look_first`` channels already shows it; then record."""
        try:
            message_id = None
            for channel in look_first:
                message_id = await self._find(channel, s, required=channel == channel_id)
                if message_id is not None:
                    break
            if message_id is None:
                png = await self._picture(guild_id, s, image) if image is not None else None
                # Only a post that pings passes ``mentions``: publishers without pings need not know them.
                extra = {"mentions": mentions} if mentions else {}
                message_id = await self._publisher.publish(channel_id, card, png, **extra)
                cycle.counts.posts_published += 1
                self._metrics.posts_published_total.inc()
                log_event(
                    log,
                    "post_published",
                    f"posted subsession {s} in server {guild_id}",
                    guild_id=guild_id,
                    subsession_id=s,
                    channel_id=channel_id,
                    message_id=message_id,
                )
            else:
                self.dedupe(cycle, guild_id, s, "found_in_channel", message_id=message_id)
        except Exception as exc:
            await self._failed(cycle, guild_id, s, exc)
            return
        await self._store.posts.record(guild_id, s, message_id, now=self._now())
        self.remember(guild_id, s)

    async def _picture(self, guild_id: int, s: int, image: ImageCard) -> bytes | None:
        """The PNG of a post, or None: a picture that cannot be drawn costs the picture, not the post."""
        if self._renderer is None:
            return None
        try:
            png = await self._renderer.render(image)
        except Exception as exc:
            self.picture_failed(guild_id, s, "render", type(exc).__name__, exc_info=exc)
            return None
        self._metrics.images_rendered_total.inc()
        return png

    def picture_failed(
        self, guild_id: int | None, s: int, stage: str, reason: str, *, exc_info: BaseException | None = None
    ) -> None:
        """Logged and counted; what goes out is the post without (that part of) its picture."""
        where = f" for server {guild_id}" if guild_id is not None else ""
        log_event(
            log,
            "render_failed",
            f"result picture of subsession {s}{where}: {stage} failed ({reason}); posting without it",
            level=logging.WARNING,
            exc_info=exc_info,
            guild_id=guild_id,
            subsession_id=s,
            stage=stage,
            reason=reason,
        )
        self._metrics.render_failures_total.labels(stage).inc()

    async def _find(self, channel_id: int, s: int, *, required: bool) -> int | None:
        """Ask the channel whether the card is there; an old channel that is gone cannot hold it."""
        try:
            return await self._publisher.find_existing(channel_id, s)
        except ChannelUnavailableError:
            if required:
                raise
            return None

    async def _failed(self, cycle: CycleState, guild_id: int, s: int, exc: Exception) -> None:
        """Keep the claim (with its card) for a later cycle; the server's settings stay untouched."""
        if isinstance(exc, ChannelUnavailableError):
            reason, label = f"channel unavailable: {exc.reason}", "channel_unavailable"
            if guild_id not in cycle.unavailable:
                log_event(
                    log,
                    "post_failed",
                    f"results channel of server {guild_id} unavailable ({exc.reason}); posts wait for a later cycle",
                    level=logging.WARNING,
                    guild_id=guild_id,
                    subsession_id=s,
                    reason=reason,
                )
            cycle.unavailable[guild_id] = exc.reason
        else:
            # The type only: an exception's text may carry anything, a traceback goes to the log.
            reason, label = f"publish failed: {type(exc).__name__}", "publish_error"
            log_event(
                log,
                "post_failed",
                f"could not post subsession {s} in server {guild_id}; retrying later",
                level=logging.WARNING,
                exc_info=exc,
                guild_id=guild_id,
                subsession_id=s,
                reason=reason,
            )
        cycle.counts.post_failures += 1
        self._metrics.post_failures_total.labels(label).inc()
        retry_after = max(1, self._settings().poll_interval_seconds // 2)
        try:
            await self._store.posts.fail(guild_id, s, reason, now=self._now(), retry_after=retry_after)
        except Exception:
            log.exception("could not keep a failed post for later", extra={"guild_id": guild_id})

    async def drain(self, cycle: CycleState) -> None:
        """Posts claimed earlier without a message id: a crash, or a channel that was unavailable."""
        now = self._now()
        for row in await self._store.posts.unresolved(now=now):
            g, s = row.guild_id, row.subsession_id
            try:
                if row.race_finished_at < cycle.oldest_postable:
                    await self._store.posts.drop(g, s, "older than MAX_POST_AGE_HOURS", now=now)
                    log.info(
                        "dropped a result that could not be posted in time",
                        extra={
                            "guild_id": g,
                            "subsession_id": s,
                            "attempts": row.attempts,
                            "last_error": row.last_error,
                        },
                    )
                    cycle.counts.posts_dropped += 1
                    continue
                cfg = cycle.guilds.get(g) or await self._store.guilds.get(g)
                channel = cfg.channel_id if cfg is not None and cfg.channel_id else None
                if channel is None or g in cycle.unavailable:
                    cycle.counts.outbox_waiting += 1
                    continue  # retried once the channel is back; dropped when too old
                if not await self._store.posts.take_over(g, s, self.claim_holder, now=now, lease_seconds=self._lease):
                    continue  # another process has it
                try:
                    card = self._load_card(row.card_json)
                except ValueError:
                    # A corrupt card or one from an unknown format version will never read back:
                    # retrying it every cycle would only fill the log until it ages out.
                    await self._store.posts.drop(g, s, "stored card unreadable", now=now)
                    log_event(
                        log,
                        "post_failed",
                        f"dropped subsession {s} for server {g}: its stored card is unreadable",
                        level=logging.WARNING,
                        guild_id=g,
                        subsession_id=s,
                        reason="stored card unreadable",
                    )
                    cycle.counts.posts_dropped += 1
                    continue
                image = self._stored_image(g, s, row.image_json)
                channel = await self.retry_channel(row, channel)
                look = [row.channel_id] if row.channel_id and row.channel_id != channel else []
                mentions = Mentions.decode(row.mentions)
                await self._send(cycle, g, s, channel, card, image, look_first=[*look, channel], mentions=mentions)
            except Exception:
                log.exception("could not settle an earlier post", extra={"guild_id": g, "subsession_id": s})
                self._metrics.poll_errors_total.labels("outbox").inc()
        for more in self.after_drain:
            await more(cycle)

    def _stored_image(self, guild_id: int, s: int, image_json: str | None) -> ImageCard | None:
        """The picture kept with a claim, drawn again from what was stored (no iRacing request)."""
        if not image_json:
            return None
        try:
            return ImageCard.from_json(image_json)
        except ImageCardFormatError as exc:
            self.picture_failed(guild_id, s, "stored", str(exc))
            return None

    def dedupe(self, cycle: CycleState, guild_id: int, s: int, reason: str, *, message_id: int | None = None) -> None:
        """A post not made because it exists: claimed by another process, or found in the channel."""
        where = "already in the channel" if message_id is not None else f"already claimed for server {guild_id}"
        log_event(
            log,
            "dedupe_skip",
            f"subsession {s} is {where}; not posting it again",
            guild_id=guild_id,
            subsession_id=s,
            message_id=message_id,
            reason=reason,
        )
        cycle.counts.dedupe_skips += 1
        self._metrics.dedupe_skips_total.inc()
        self.remember(guild_id, s)

    def remember(self, guild_id: int, s: int) -> None:
        self._handled[(guild_id, s)] = None
        self._handled.move_to_end((guild_id, s))
        while len(self._handled) > _HANDLED_MEMORY:
            self._handled.popitem(last=False)
