"""The records the poller and the store share: plain frozen data, one row of a table each."""

from __future__ import annotations

from dataclasses import dataclass

POST_STYLES = ("image", "embed")  # a picture with the embed, or the embed alone
DEFAULT_POST_STYLE = "image"


@dataclass(frozen=True)
class GuildConfig:
    guild_id: int
    channel_id: int | None
    timezone: str | None
    post_style: str = DEFAULT_POST_STYLE


@dataclass(frozen=True)
class TrackedDriver:
    guild_id: int
    cust_id: int
    display_name: str
    created_by: int | None
    created_at: int


@dataclass(frozen=True)
class Watermark:
    """The newest race already handled for a (guild, driver) and when it **finished**.

    Races are ordered by subsession id (iRacing's launch order). ``last_finish_at`` is the race's
    end from its results or, where those were never read (a baseline, a race too old to fetch),
    when this bot saw it finished, or its start: the earliest it can have finished.
    """

    last_finish_at: int
    last_subsession_id: int


@dataclass(frozen=True)
class PendingPost:
    guild_id: int
    subsession_id: int
    channel_id: int
    card_json: str
    race_finished_at: int
    attempts: int = 0
    last_error: str | None = None
    image_json: str | None = None  # the picture's data (render.ImageCard), None for embed only
    mentions: str | None = None  # whom the post pings (core.routing.Mentions.encode), None: nobody


@dataclass(frozen=True)
class PostRecord:
    guild_id: int
    subsession_id: int
    state: str
    message_id: int | None
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class PendingRace:
    """A race found and owed to the servers tracking its drivers, until each post is settled.

    ``found_by``: "live" (the watcher), "catchup", "poll" (the per-driver safety net). Times are
    epoch seconds; ``not_found_at`` is when iRacing first said it has no such subsession.
    """

    subsession_id: int
    started_at: int
    found_at: int
    found_by: str
    tries: int = 0
    next_try_at: int = 0
    first_failure_at: int | None = None
    not_found_at: int | None = None
    last_error: str | None = None
    gave_up_at: int | None = None
    give_up_reason: str | None = None
