"""What the fake hands back to tests: frozen records, each JSON-able (`to_dict`/`from_dict`) so that the
remote client returns the same objects as the in-process fake."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .protocol import EPHEMERAL


@dataclass(frozen=True)
class Message:
    """A message as stored by the fake (the Discord payload, with handy fields)."""

    id: int
    channel_id: int
    author_id: int
    content: str
    embeds: tuple[dict[str, Any], ...]
    flags: int
    reactions: tuple[str, ...]
    reference_id: int | None
    interaction_id: int | None
    payload: dict[str, Any] = field(compare=False, repr=False)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def allowed_mentions(self) -> dict[str, Any] | None:
        """The ``allowed_mentions`` the bot sent with this message (None: it sent none)."""
        value = self.payload.get("allowed_mentions")
        return dict(value) if value is not None else None

    @property
    def pinged_users(self) -> tuple[int, ...]:
        """The users this message pinged (Discord's ``mentions``)."""
        return tuple(int(u["id"]) for u in self.payload.get("mentions") or ())

    @property
    def pinged_roles(self) -> tuple[int, ...]:
        return tuple(int(r) for r in self.payload.get("mention_roles") or ())

    def text(self) -> str:
        """Content plus every embed's visible text, for loose assertions."""
        parts = [self.content]
        for e in self.embeds:
            parts += [e.get("title", ""), e.get("description", "")]
            parts += [f"{f.get('name', '')} {f.get('value', '')}" for f in e.get("fields", [])]
            parts += [e.get("footer", {}).get("text", ""), e.get("author", {}).get("name", "")]
        return "\n".join(p for p in parts if p)

    @classmethod
    def from_payload(cls, p: Mapping[str, Any], reactions: Iterable[str] = ()) -> Message:
        ref = p.get("message_reference") or {}
        meta = p.get("interaction_metadata") or {}
        return cls(
            id=int(p["id"]),
            channel_id=int(p["channel_id"]),
            author_id=int(p["author"]["id"]),
            content=p.get("content") or "",
            embeds=tuple(p.get("embeds") or ()),
            flags=int(p.get("flags") or 0),
            reactions=tuple(reactions),
            reference_id=int(ref["message_id"]) if ref.get("message_id") else None,
            interaction_id=int(meta["id"]) if meta.get("id") else None,
            payload=dict(p),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"payload": self.payload, "reactions": list(self.reactions)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Message:
        return cls.from_payload(d["payload"], d.get("reactions", ()))


@dataclass(frozen=True)
class InteractionReply:
    """What the user saw in answer to an interaction (first visible answer)."""

    interaction_id: int
    callback_type: int  # 4 message, 5 deferred then follow-up, 8 autocomplete, 9 modal
    content: str
    embeds: tuple[dict[str, Any], ...]
    flags: int
    choices: tuple[dict[str, Any], ...]
    message_id: int | None

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> InteractionReply:
        return cls(
            interaction_id=int(d["interaction_id"]),
            callback_type=int(d["callback_type"]),
            content=d["content"],
            embeds=tuple(d["embeds"]),
            flags=int(d["flags"]),
            choices=tuple(d["choices"]),
            message_id=d["message_id"],
        )


@dataclass(frozen=True)
class RequestRecord:
    """One REST request the bot made (never headers or bodies: they may hold the token)."""

    method: str
    path: str  # after /api/v10
    status: int
    at: float  # time.time()
    fault: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RequestRecord:
        return cls(**d)


@dataclass(frozen=True)
class CommandSync:
    """One `PUT .../commands` (a sync), with the names it registered."""

    guild_id: int | None
    names: tuple[str, ...]
    at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CommandSync:
        return cls(guild_id=d["guild_id"], names=tuple(d["names"]), at=d["at"])


@dataclass(frozen=True)
class StalledRequest:
    """A request whose answer the fake held back (see `FakeDiscord.stall`)."""

    method: str
    path: str
    delivered: bool  # it took effect (e.g. the message exists) before the answer was held
    status: int  # the held answer's status; 0 when not delivered
    at: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StalledRequest:
        return cls(**d)
