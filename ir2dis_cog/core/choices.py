"""A server's own choices about what it hears and where: one frozen record, read from the store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .filters import Filters

PODIUM = 3  # the podium channel's threshold: a class podium ...
WIN = 1  # ... or a class win only


def _no_channels() -> Mapping[str, int]:
    return MappingProxyType({})


@dataclass(frozen=True)
class ServerChoices:
    guild_id: int
    filters: Filters = field(default_factory=Filters)
    category_channels: Mapping[str, int] = field(default_factory=_no_channels)  # category -> channel
    podium_channel: int | None = None
    podium_top: int = PODIUM
    ping_members: bool = False  # mention a (confirmed) linked member on a podium / win
    ping_role: int | None = None  # mention this role on a podium / win
    digest_channel: int | None = None  # None: no weekly digest
    digest_day: int = 0  # 0 Monday .. 6 Sunday, in the server's time zone
    digest_hour: int = 9
    live_channel: int | None = None  # "on track now" notices; None: off

    @property
    def pings_on(self) -> bool:
        return self.ping_members or self.ping_role is not None


def default_choices(guild_id: int) -> ServerChoices:
    return ServerChoices(guild_id)
