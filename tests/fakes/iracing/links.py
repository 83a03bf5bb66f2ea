"""The second step of a data request: bodies parked behind short-lived, signed S3-style links."""

from __future__ import annotations

import hashlib
import secrets
from collections import deque
from dataclasses import dataclass, field


@dataclass
class LinkStore:
    """Parked bodies by link key, with their expiry; expired ones are dropped as new ones come.

    Mutable: every data answer parks a body.
    """

    bodies: dict[str, tuple[float, bytes]] = field(default_factory=dict)  # key -> (expires, body)
    order: deque[tuple[float, str]] = field(default_factory=deque)  # (expires, key), oldest first

    def park(self, body: bytes, now: float, ttl: float) -> str:
        """Stores `body` for `ttl` seconds; its key."""
        while self.order and self.order[0][0] < now:
            _, old = self.order.popleft()
            self.bodies.pop(old, None)
        key = secrets.token_urlsafe(12)
        expires = now + ttl
        self.bodies[key] = (expires, body)
        self.order.append((expires, key))
        return key

    def get(self, key: str) -> tuple[float, bytes] | None:
        return self.bodies.get(key)


def signed_link(origin: str, key: str, ttl: float) -> str:
    """A link shaped like a presigned S3 URL; the client must send it back without its API token."""
    signature = hashlib.sha256(key.encode()).hexdigest()
    return f"{origin}/_s3/{key}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires={int(ttl)}&X-Amz-Signature={signature}"
