"""Credentials, iRacing's secret masking, and the tokens and session cookies the fake hands out."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

FAKE_CLIENT_ID = "ir2dis-test-client"
FAKE_CLIENT_SECRET = "fake-client-secret-1234"
FAKE_EMAIL = "driver@example.com"
FAKE_PASSWORD = "fake-password-5678"


def mask(secret: str, salt: str) -> str:
    """iRacing's masking, as the real token endpoint expects it."""
    return base64.b64encode(hashlib.sha256((secret + salt.strip().lower()).encode()).digest()).decode()


@dataclass
class TokenStore:
    """Live access and refresh tokens (token -> expiry), spent refresh tokens and legacy cookies.

    Mutable: logins, refreshes and expiries change it in place.
    """

    access: dict[str, float] = field(default_factory=dict)
    refresh: dict[str, float] = field(default_factory=dict)
    spent_refresh: set[str] = field(default_factory=set)
    legacy_sessions: set[str] = field(default_factory=set)
    legacy_other_cookies: list[str] = field(default_factory=list)

    def issue(self, now: float, access_ttl: float, refresh_ttl: int) -> dict[str, Any]:
        """A new token pair, as the token endpoint answers it."""
        access, refresh = "fake-at-" + secrets.token_urlsafe(24), "fake-rt-" + secrets.token_urlsafe(24)
        self.access[access] = now + access_ttl
        self.refresh[refresh] = now + refresh_ttl
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": access_ttl,
            "refresh_token": refresh,
            "refresh_token_expires_in": refresh_ttl,
            "scope": "iracing.auth",
        }

    def spend_refresh(self, token: str, now: float) -> str:
        """Uses a refresh token up: "ok", "reused" (spent before) or "invalid" (unknown or expired)."""
        if token in self.spent_refresh:
            return "reused"
        expires = self.refresh.pop(token, None)
        if expires is None or expires < now:
            return "invalid"
        self.spent_refresh.add(token)
        return "ok"

    def expire_access(self, now: float) -> None:
        for token in self.access:
            self.access[token] = now - 1

    def new_legacy_session(self) -> tuple[str, str]:
        """The `authtoken_members` cookie (which authorizes) and the SSO cookie sent beside it."""
        token, sso = secrets.token_urlsafe(24), secrets.token_urlsafe(16)
        self.legacy_sessions.add(token)
        self.legacy_other_cookies.append(sso)
        return token, sso

    def authorizes(self, authorization: str, session_cookie: str | None, now: float) -> bool:
        if authorization.startswith("Bearer "):
            expires = self.access.get(authorization[7:])
            return expires is not None and expires > now
        return session_cookie in self.legacy_sessions

    def issued(self) -> list[str]:
        return [
            *self.access,
            *self.refresh,
            *self.spent_refresh,
            *self.legacy_sessions,
            *self.legacy_other_cookies,
        ]
