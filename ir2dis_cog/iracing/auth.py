"""iRacing login: OAuth 2 ``password_limited`` with refresh (today's way), legacy cookies (retired).

The rules that keep the bot from locking itself out:
- the token pair is persisted and reused across restarts, so a restart costs no password login;
- a refresh token is single-use: exactly one refresh runs at a time (a lock), the old refresh
  token is forgotten before the request goes out, and the new pair is saved before it is used;
- full logins are throttled on our side and stop behind a circuit breaker after repeated
  failures, with one clear log line for the operator;
- a legacy CAPTCHA demand stops all login attempts until the operator acts (restart or reload).

Nothing here ever puts a password, a secret, a masked form of them, a token or a cookie into a
log line or an exception message.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import aiohttp

from ir2dis_cog.config.secrets import mask_secret
from ir2dis_cog.config.settings import Settings
from ir2dis_cog.iracing.auth_state import AuthStateStore
from ir2dis_cog.iracing.errors import AuthError, CaptchaRequiredError, CircuitOpenError, LoginRefusedError
from ir2dis_cog.observability.logging import log_event
from ir2dis_cog.observability.metrics import Metrics

log = logging.getLogger("red.ir2dis.iracing.auth")

STATE_VERSION = 1
OAUTH_SCOPE = "iracing.auth"
LOGIN_TIMEOUT = aiohttp.ClientTimeout(total=30, connect=10)
_ERROR_CODE = re.compile(r"^[a-z_]{1,40}$")


def account_fingerprint(settings: Settings) -> str:
    """Which account and client a saved state belongs to (a hash; the state is ignored on change)."""
    email = settings.iracing_email.get().strip().lower() if settings.iracing_email else ""
    raw = f"{settings.iracing_auth_mode}|{settings.iracing_client_id or ''}|{email}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:16]


# --- the token pair (pure) ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class TokenPair:
    access_token: str
    expires_at: float
    refresh_at: float  # when to refresh: about a minute before expiry
    refresh_token: str | None
    refresh_expires_at: float | None

    def __repr__(self) -> str:  # never show the tokens
        return f"TokenPair(expires_at={self.expires_at:.0f}, refreshable={self.refresh_token is not None})"

    def fresh(self, now: float) -> bool:
        return now < self.refresh_at

    def can_refresh(self, now: float) -> bool:
        return self.refresh_token is not None and (self.refresh_expires_at is None or now < self.refresh_expires_at - 5)

    def to_dict(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "expires_at": self.expires_at,
            "refresh_at": self.refresh_at,
            "refresh_token": self.refresh_token,
            "refresh_expires_at": self.refresh_expires_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenPair | None:
        try:
            access = data["access_token"]
            if not isinstance(access, str) or not access:
                return None
            refresh = data.get("refresh_token")
            return cls(
                access_token=access,
                expires_at=float(data["expires_at"]),
                refresh_at=float(data.get("refresh_at", data["expires_at"])),
                refresh_token=refresh if isinstance(refresh, str) and refresh else None,
                refresh_expires_at=(
                    float(data["refresh_expires_at"]) if data.get("refresh_expires_at") is not None else None
                ),
            )
        except (KeyError, TypeError, ValueError):
            return None


def refresh_time(issued_at: float, expires_in: float) -> float:
    """About a minute before expiry; for short-lived tokens at three quarters of their life."""
    return issued_at + max(expires_in - 60.0, expires_in * 0.75)


def token_pair_from_response(body: Any, now: float) -> TokenPair:
    """The token endpoint's JSON -> a TokenPair; AuthError (naming no value) on a bad shape."""
    if not isinstance(body, Mapping):
        raise AuthError("the iRacing login service sent an unexpected answer")
    access = body.get("access_token")
    expires_in = body.get("expires_in")
    if not isinstance(access, str) or not access or not isinstance(expires_in, int | float):
        raise AuthError("the iRacing login service sent an answer without a usable access token")
    refresh = body.get("refresh_token")
    refresh_in = body.get("refresh_token_expires_in")
    return TokenPair(
        access_token=access,
        expires_at=now + float(expires_in),
        refresh_at=refresh_time(now, float(expires_in)),
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        refresh_expires_at=now + float(refresh_in) if isinstance(refresh_in, int | float) else None,
    )


# --- throttle and circuit breaker for full logins (pure state, explicit clock) ---------------------


@dataclass
class LoginGuard:
    """At most ``max_per_hour`` full logins per rolling hour; after ``failure_threshold`` failures in
    a row logins pause for ``open_seconds`` (doubling on each failed retry, capped)."""

    max_per_hour: int = 4
    failure_threshold: int = 3
    open_seconds: float = 900.0
    max_open_seconds: float = 6 * 3600.0
    attempts: list[float] = field(default_factory=list)
    consecutive_failures: int = 0
    open_until: float | None = None
    _current_open: float = 0.0

    def check(self, now: float) -> None:
        """Raise CircuitOpenError when a full login may not be tried now."""
        if self.open_until is not None and now < self.open_until:
            raise CircuitOpenError(
                f"iRacing logins are paused after {self.consecutive_failures} failures in a row; "
                f"next try after {_clock_text(self.open_until)}",
                retry_at=self.open_until,
            )
        recent = [t for t in self.attempts if now - t < 3600.0]
        self.attempts = recent
        if len(recent) >= self.max_per_hour:
            retry_at = min(recent) + 3600.0
            raise CircuitOpenError(
                f"iRacing login throttled: {len(recent)} logins in the last hour; "
                f"next try after {_clock_text(retry_at)}",
                retry_at=retry_at,
            )

    def record_attempt(self, now: float) -> None:
        self.attempts.append(now)

    def record_success(self) -> None:
        self.consecutive_failures = 0
        self.open_until = None
        self._current_open = 0.0

    def record_failure(self, now: float) -> bool:
        """Count a failure; True when this one opened (or re-opened) the breaker."""
        self.consecutive_failures += 1
        if self.consecutive_failures < self.failure_threshold:
            return False
        self._current_open = (
            min(self._current_open * 2, self.max_open_seconds) if self._current_open else self.open_seconds
        )
        self.open_until = now + self._current_open
        return True


def _clock_text(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


# --- the authenticators ---------------------------------------------------------------------------


class Authenticator(Protocol):
    async def request_headers(self) -> dict[str, str]:
        """Headers that authorize one data request (logging in or refreshing first if needed)."""
        ...

    async def recover(self, used: Mapping[str, str], level: int) -> None:
        """After a 401 with ``used``: level 1 refreshes, level 2 logs in again. A no-op when another
        request already replaced the credential."""
        ...

    def status(self) -> str: ...


class _BaseAuthenticator:
    mode = ""

    def __init__(
        self,
        settings: Settings,
        store: AuthStateStore,
        metrics: Metrics,
        http: aiohttp.ClientSession,
        *,
        clock: Callable[[], float] = time.time,
        guard: LoginGuard | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._metrics = metrics
        self._http = http
        self._clock = clock
        self._guard = guard or LoginGuard()
        self._lock = asyncio.Lock()
        self._loaded = False
        self._account = account_fingerprint(settings)
        self._last_error: str | None = None

    def _credentials(self) -> tuple[str, str]:
        missing = self._settings.missing_iracing_credentials()
        if missing:
            raise AuthError("iRacing login is not configured; missing " + ", ".join(missing))
        assert self._settings.iracing_email is not None and self._settings.iracing_password is not None
        return self._settings.iracing_email.get(), self._settings.iracing_password.get()

    async def _ensure_loaded(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        try:
            state = await self._store.load()
        except Exception as exc:  # a broken store must not stop the bot; we log in afresh
            log.warning("could not read the saved iRacing session", extra={"error": type(exc).__name__})
            return
        if not state or state.get("version") != STATE_VERSION or state.get("account") != self._account:
            return
        attempts = state.get("login_attempts")
        if isinstance(attempts, list):
            self._guard.attempts = [float(t) for t in attempts if isinstance(t, int | float)]
        if state.get("mode") == self.mode:
            self._restore(state)

    def _restore(self, state: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def _state_body(self) -> dict[str, Any]:
        raise NotImplementedError

    async def _persist(self) -> None:
        state = {
            "version": STATE_VERSION,
            "mode": self.mode,
            "account": self._account,
            "login_attempts": list(self._guard.attempts),
            "updated_at": self._clock(),
            **self._state_body(),
        }
        try:
            await self._store.save(state)
        except Exception as exc:  # keep working from memory; the next save may succeed
            log.warning("could not save the iRacing session", extra={"error": type(exc).__name__})

    async def _login_guarded(self, login: Callable[[], Any]) -> None:
        """Run one full login under the throttle and the breaker."""
        try:
            self._credentials()  # a missing setting is no login attempt
        except AuthError as exc:
            self._last_error = str(exc)
            raise
        now = self._clock()
        try:
            self._guard.check(now)
        except CircuitOpenError as exc:
            self._last_error = str(exc)
            raise
        self._guard.record_attempt(now)
        try:
            await login()
        except (CaptchaRequiredError, LoginRefusedError) as exc:
            self._metrics.auth_failures_total.inc()
            self._last_error = str(exc)
            await self._persist()
            raise
        except AuthError as exc:
            self._metrics.auth_failures_total.inc()
            self._last_error = str(exc)
            log_event(
                log,
                "auth_failure",
                f"iRacing login failed: {exc}",
                level=logging.WARNING,
                consecutive_failures=self._guard.consecutive_failures + 1,
            )
            if self._guard.record_failure(self._clock()):
                assert self._guard.open_until is not None
                log.error(
                    "iRacing login failed %d times in a row (%s); logins paused until %s. "
                    "Check the iRacing settings (IRACING_EMAIL, IRACING_PASSWORD, IRACING_CLIENT_ID, "
                    "IRACING_CLIENT_SECRET).",
                    self._guard.consecutive_failures,
                    exc,
                    _clock_text(self._guard.open_until),
                )
            await self._persist()
            raise
        self._guard.record_success()
        self._last_error = None
        await self._persist()

    def _guard_status(self) -> str | None:
        now = self._clock()
        if self._guard.open_until is not None and now < self._guard.open_until:
            return f"logins paused until {_clock_text(self._guard.open_until)} after repeated failures"
        return None


class OAuthAuthenticator(_BaseAuthenticator):
    mode = "oauth"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pair: TokenPair | None = None
        self.logins = 0
        self.refreshes = 0

    def _restore(self, state: Mapping[str, Any]) -> None:
        oauth = state.get("oauth")
        self._pair = TokenPair.from_dict(oauth) if isinstance(oauth, Mapping) else None

    def _state_body(self) -> dict[str, Any]:
        return {"oauth": self._pair.to_dict() if self._pair else None}

    def _headers(self) -> dict[str, str]:
        assert self._pair is not None
        return {"Authorization": f"Bearer {self._pair.access_token}"}

    async def request_headers(self) -> dict[str, str]:
        pair = self._pair
        if pair is not None and pair.fresh(self._clock()):
            return self._headers()
        async with self._lock:
            await self._ensure_loaded()
            # Someone else may have refreshed while we waited for the lock.
            pair = self._pair
            now = self._clock()
            if pair is not None and pair.fresh(now):
                return self._headers()
            if pair is not None and pair.can_refresh(now) and await self._try_refresh(pair):
                return self._headers()
            await self._login_guarded(self._password_login)
            return self._headers()

    async def recover(self, used: Mapping[str, str], level: int) -> None:
        async with self._lock:
            await self._ensure_loaded()
            if self._pair is not None and self._headers() != dict(used):
                return  # already replaced by another request
            pair = self._pair
            if level <= 1 and pair is not None and pair.can_refresh(self._clock()) and await self._try_refresh(pair):
                return
            await self._login_guarded(self._password_login)

    async def _try_refresh(self, pair: TokenPair) -> bool:
        """One refresh with the pair's single-use token. False (and the token gone) on failure."""
        refresh_token = pair.refresh_token
        assert refresh_token is not None
        # Forget the refresh token before sending it: whatever happens, it is never sent twice.
        self._pair = replace(pair, refresh_token=None, refresh_expires_at=None)
        assert self._settings.iracing_client_secret is not None and self._settings.iracing_client_id
        client_id = self._settings.iracing_client_id
        form = {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "client_secret": mask_secret(self._settings.iracing_client_secret.get(), client_id),
            "refresh_token": refresh_token,
        }
        self.refreshes += 1
        try:
            new = token_pair_from_response(await self._token_request(form), self._clock())
        except AuthError as exc:
            self._metrics.auth_failures_total.inc()
            log.info("iRacing token refresh failed; logging in again", extra={"reason": str(exc)})
            await self._persist()  # the consumed refresh token must not come back after a restart
            return False
        # Persist first: the old refresh token is spent, this pair is the only way back in.
        self._pair = new
        await self._persist()
        log.debug("iRacing access token refreshed")
        return True

    async def _password_login(self) -> None:
        email, password = self._credentials()
        client_id = self._settings.iracing_client_id or ""
        secret = self._settings.iracing_client_secret.get() if self._settings.iracing_client_secret else ""
        form = {
            "grant_type": "password_limited",
            "client_id": client_id,
            "client_secret": mask_secret(secret, client_id),
            "username": email,
            "password": mask_secret(password, email),
            "scope": OAUTH_SCOPE,
        }
        self.logins += 1
        self._pair = token_pair_from_response(await self._token_request(form), self._clock())
        log_event(log, "auth_success", "logged in to iRacing (OAuth)", mode="oauth")

    async def _token_request(self, form: Mapping[str, str]) -> Any:
        self._metrics.iracing_requests_total.labels("oauth").inc()
        try:
            async with self._http.post(
                self._settings.iracing_oauth_url,
                data=dict(form),
                headers={"Accept": "application/json"},
                timeout=LOGIN_TIMEOUT,
            ) as resp:
                status = resp.status
                text = await resp.text()
        except (aiohttp.ClientError, TimeoutError):
            raise AuthError("could not reach the iRacing login service") from None
        body = _json_or_none(text)
        if status == 200:
            return body
        raise AuthError(_explain_token_error(status, body))

    def status(self) -> str:
        paused = self._guard_status()
        if paused:
            return paused
        if self._last_error:
            return f"not logged in: {self._last_error}"
        pair = self._pair
        if pair is None:
            return "not logged in yet (OAuth; logs in at the first request)"
        left = pair.expires_at - self._clock()
        if left <= 0:
            return "logged in (OAuth); access token expired, refreshes at the next request"
        return f"logged in (OAuth); access token valid for {max(1, round(left / 60))} more min"


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _explain_token_error(status: int, body: Any) -> str:
    code = body.get("error") if isinstance(body, Mapping) else None
    code = code if isinstance(code, str) and _ERROR_CODE.match(code) else None
    if status == 429:
        return "iRacing is throttling logins (HTTP 429); the bot will try again later"
    if status >= 500:
        return f"the iRacing login service failed (HTTP {status})"
    if code in ("invalid_client", "unauthorized_client"):
        return f"iRacing rejected the OAuth client ({code}): check IRACING_CLIENT_ID and IRACING_CLIENT_SECRET"
    if code == "invalid_grant":
        return "iRacing rejected the login (invalid_grant): check IRACING_EMAIL and IRACING_PASSWORD"
    return f"iRacing refused the login (HTTP {status}{', ' + code if code else ''})"


class LegacyAuthenticator(_BaseAuthenticator):
    """The retired cookie login (``IRACING_AUTH_MODE=legacy``)."""

    mode = "legacy"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cookies: dict[str, str] | None = None
        self._stopped: type[CaptchaRequiredError] | type[LoginRefusedError] | None = None
        self.logins = 0

    def _restore(self, state: Mapping[str, Any]) -> None:
        cookies = (state.get("legacy") or {}).get("cookies")
        if (
            isinstance(cookies, Mapping)
            and cookies
            and all(isinstance(k, str) and isinstance(v, str) for k, v in cookies.items())
        ):
            self._cookies = dict(cookies)

    def _state_body(self) -> dict[str, Any]:
        return {"legacy": {"cookies": self._cookies} if self._cookies else None}

    def _headers(self) -> dict[str, str]:
        assert self._cookies is not None
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self._cookies.items())}

    def _check_stopped(self) -> None:
        if self._stopped is not None:
            raise self._stopped()

    async def request_headers(self) -> dict[str, str]:
        self._check_stopped()
        if self._cookies:
            return self._headers()
        async with self._lock:
            self._check_stopped()
            await self._ensure_loaded()
            if not self._cookies:
                await self._login_guarded(self._legacy_login)
            return self._headers()

    async def recover(self, used: Mapping[str, str], level: int) -> None:
        # No refresh exists for cookies: any recovery is a new login.
        async with self._lock:
            self._check_stopped()
            await self._ensure_loaded()
            if self._cookies and self._headers() != dict(used):
                return
            self._cookies = None
            await self._login_guarded(self._legacy_login)

    async def _legacy_login(self) -> None:
        email, password = self._credentials()
        self._metrics.iracing_requests_total.labels("legacy_auth").inc()
        self.logins += 1
        try:
            async with self._http.post(
                f"{self._settings.iracing_api_base}/auth",
                json={"email": email, "password": mask_secret(password, email)},
                timeout=LOGIN_TIMEOUT,
            ) as resp:
                status = resp.status
                text = await resp.text()
                cookies = {name: morsel.value for name, morsel in resp.cookies.items() if morsel.value}
        except (aiohttp.ClientError, TimeoutError):
            raise AuthError("could not reach the iRacing login service") from None
        body = _json_or_none(text)
        if status == 405:
            self._stop(LoginRefusedError)
        if status != 200 or not isinstance(body, Mapping):
            raise AuthError(f"the iRacing legacy login failed (HTTP {status})")
        if body.get("verificationRequired") is True:
            self._metrics.captcha_required_total.inc()
            self._stop(CaptchaRequiredError)
        if not body.get("authcode"):
            message = body.get("message")
            if isinstance(message, str) and "legacy authorization refused" in message.lower():
                self._stop(LoginRefusedError)
            raise AuthError("iRacing rejected the e-mail or password (legacy login)")
        if not cookies:
            raise AuthError("the iRacing legacy login answered without a session cookie")
        self._cookies = cookies
        log_event(log, "auth_success", "logged in to iRacing (legacy cookies)", mode="legacy")

    def _stop(self, error: type[CaptchaRequiredError] | type[LoginRefusedError]) -> None:
        """Stop every further login until the operator acts; say so once."""
        self._stopped = error
        event = "captcha_required" if error is CaptchaRequiredError else "auth_failure"
        log_event(log, event, f"iRacing login stopped: {error()}", level=logging.ERROR, stopped=True)
        raise error()

    def status(self) -> str:
        if self._stopped is not None:
            return f"login stopped: {self._stopped()}"
        paused = self._guard_status()
        if paused:
            return paused
        if self._last_error:
            return f"not logged in: {self._last_error}"
        return "logged in (legacy cookies)" if self._cookies else "not logged in yet (legacy)"


def build_authenticator(
    settings: Settings,
    store: AuthStateStore,
    metrics: Metrics,
    http: aiohttp.ClientSession,
    *,
    clock: Callable[[], float] = time.time,
    guard: LoginGuard | None = None,
) -> OAuthAuthenticator | LegacyAuthenticator:
    cls = LegacyAuthenticator if settings.iracing_auth_mode == "legacy" else OAuthAuthenticator
    return cls(settings, store, metrics, http, clock=clock, guard=guard)
