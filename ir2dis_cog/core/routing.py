"""Where one race goes in one server, and whom it mentions. Pure.

The race goes to the channel of its category when the server set one, else to the results
channel; a podium (or a win: the server's threshold) also goes to the podium channel. Mentions
ride on one message only: the podium channel's when there is one, else the main post.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .cards import RaceCard
from .choices import ServerChoices
from .filters import RaceFacts
from .podium import podium_drivers

MAX_MENTIONS = 20  # a message naming more people than this reads as spam


@dataclass(frozen=True)
class Mentions:
    """Exactly whom a message pings: these users and roles, and nobody else."""

    users: tuple[int, ...] = ()
    roles: tuple[int, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.users or self.roles)

    def text(self) -> str:
        """The message content that pings them (ids only: no name ever reaches the content)."""
        return " ".join([*(f"<@{u}>" for u in self.users), *(f"<@&{r}>" for r in self.roles)])

    def encode(self) -> str:
        """Stored with the claim: ``u1,2;r3``."""
        return f"u{','.join(map(str, self.users))};r{','.join(map(str, self.roles))}"

    @classmethod
    def decode(cls, text: str | None) -> Mentions:
        """The stored form back; anything unreadable pings nobody (never a guess)."""
        if not text:
            return NO_MENTIONS
        try:
            users, roles = text.split(";")
            if not (users.startswith("u") and roles.startswith("r")):
                return NO_MENTIONS
            return cls(
                tuple(int(u) for u in users[1:].split(",") if u), tuple(int(r) for r in roles[1:].split(",") if r)
            )
        except ValueError:
            return NO_MENTIONS


NO_MENTIONS = Mentions()


@dataclass(frozen=True)
class Route:
    """One race in one server: the main channel, other channels that get it too, and the pings."""

    channel_id: int
    copies: tuple[int, ...] = ()
    mentions: Mentions = NO_MENTIONS
    mentions_on: int | None = None  # the channel whose message carries ``mentions``

    def mentions_for(self, channel_id: int) -> Mentions:
        return self.mentions if channel_id == self.mentions_on else NO_MENTIONS


def main_channel(race: RaceFacts, results_channel: int, choices: ServerChoices) -> int:
    """The category's channel when set (an old road race: sports car's, else formula car's)."""
    for category in race.categories:
        channel = choices.category_channels.get(category)
        if channel:
            return channel
    return results_channel


def ping_targets(card: RaceCard, choices: ServerChoices, links: Mapping[int, int]) -> Mentions:
    """Whom a podium/win pings: the confirmed linked members (``links``: cust_id -> user id) of the
    drivers who made it, and the server's role; nobody when pings are off or nobody made it."""
    if not choices.pings_on:
        return NO_MENTIONS
    made_it = podium_drivers(card, choices.podium_top)
    if not made_it:
        return NO_MENTIONS
    users = sorted({links[c] for c in made_it if c in links}) if choices.ping_members else []
    roles = [choices.ping_role] if choices.ping_role is not None else []
    return Mentions(tuple(users[:MAX_MENTIONS]), tuple(roles))


def route(
    race: RaceFacts, card: RaceCard, results_channel: int, choices: ServerChoices, links: Mapping[int, int]
) -> Route:
    main = main_channel(race, results_channel, choices)
    podium = bool(podium_drivers(card, choices.podium_top))
    copies: tuple[int, ...] = ()
    if podium and choices.podium_channel and choices.podium_channel != main:
        copies = (choices.podium_channel,)
    mentions = ping_targets(card, choices, links)
    return Route(main, copies, mentions, (copies[0] if copies else main) if mentions else None)
