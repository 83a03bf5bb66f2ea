"""Errors of the iRacing client, all under ``IRacingError``.

Messages are plain words for an operator: they never carry a token, a password, a cookie
or a response body (a body may echo what we sent).
"""

from __future__ import annotations


class IRacingError(Exception):
    """Anything the iRacing client could not do."""


class MaintenanceError(IRacingError):
    """iRacing answered 503 "Site Maintenance"."""

    def __init__(self, message: str = "iRacing is down for maintenance") -> None:
        super().__init__(message)


class RateLimitedError(IRacingError):
    """The rate limit is spent; nothing may be sent before ``reset_at`` (epoch seconds)."""

    def __init__(self, reset_at: float, message: str | None = None) -> None:
        self.reset_at = reset_at
        super().__init__(message or f"iRacing rate limit exceeded; it resets at epoch {reset_at:.0f}")


class AuthError(IRacingError):
    """Login or token refresh failed (bad credentials, a refused token, an unexpected answer)."""


class CaptchaRequiredError(AuthError):
    """Legacy login demands a CAPTCHA: the member must log in once in a browser."""

    def __init__(self) -> None:
        super().__init__(
            "iRacing wants a CAPTCHA for this account: log in once at members.iracing.com in a "
            "browser, then restart the bot or reload the cog; logins stay off until then"
        )


class LoginRefusedError(AuthError):
    """iRacing refused the legacy login outright ("Legacy authorization refused")."""

    def __init__(self) -> None:
        super().__init__(
            "iRacing refused the legacy login (it was retired in December 2025); set "
            "IRACING_AUTH_MODE=oauth with an OAuth client id and secret"
        )


class CircuitOpenError(AuthError):
    """Logins are paused after repeated failures, or throttled on our side."""

    def __init__(self, message: str, retry_at: float | None = None) -> None:
        self.retry_at = retry_at
        super().__init__(message)


class NotFoundError(IRacingError):
    """iRacing has no such thing (404), e.g. an unknown subsession."""


class ParseError(IRacingError):
    """A payload that is not what the endpoint promises; names the endpoint and the place."""

    def __init__(self, endpoint: str, detail: str = "") -> None:
        self.endpoint = endpoint
        self.detail = detail
        super().__init__(f"unexpected answer from {endpoint}" + (f": {detail}" if detail else ""))
