"""Settings: the environment, then ``DATA_DIR/config.json`` (same keys), then defaults.

Validation collects every problem and raises one ``SettingsError`` naming each bad key, so an
operator fixes everything in one go. Secrets are wrapped in ``Secret`` so that no ``repr``,
``str``, log line or error message can show them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from ir2dis_cog.config.secrets import Secret, mask_secret, mask_url, url_credentials

Mode = Literal["standalone", "cog"]


class SettingsError(ValueError):
    """One error naming every missing or invalid key."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("Invalid configuration:\n" + "\n".join(f"- {p}" for p in self.problems))


@dataclass(frozen=True)
class Settings:
    discord_token: Secret | None = None
    iracing_email: Secret | None = None
    iracing_password: Secret | None = None
    iracing_client_id: str | None = None
    iracing_client_secret: Secret | None = None
    iracing_auth_mode: Literal["oauth", "legacy"] = "oauth"
    iracing_auth_state_file: Path | None = None
    database_url: Secret = field(default_factory=lambda: Secret(""))
    poll_interval_seconds: int = 300
    iracing_concurrency: int = 4
    default_timezone: str = "UTC"
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    health_host: str = "127.0.0.1"
    health_port: int = 8080
    iracing_api_base: str = "https://members-ng.iracing.com"
    iracing_oauth_url: str = "https://oauth.iracing.com/oauth2/token"
    discord_api_base: str | None = None
    max_post_age_hours: int = 24
    max_idle_poll_minutes: int = 30
    iracing_interactive_share: float = 0.2
    data_dir: Path = Path("data")
    bot_prefix: str = "!"
    bot_owner_id: int | None = None
    live_watch: bool = True
    live_poll_seconds: int = 60
    # More iRacing accounts on the same OAuth client's access list (running big): their own
    # token pairs and budgets; the poller spreads its work over all of them.
    iracing_email_2: Secret | None = None
    iracing_password_2: Secret | None = None
    iracing_email_3: Secret | None = None
    iracing_password_3: Secret | None = None

    def account_count(self) -> int:
        """The iRacing accounts configured: the first, and each further one with both its settings."""
        extra = [(self.iracing_email_2, self.iracing_password_2), (self.iracing_email_3, self.iracing_password_3)]
        return 1 + sum(1 for email, password in extra if email and password)

    def for_account(self, number: int) -> Settings:
        """These settings as account ``number`` (1-3) logs in: its email and password in the first place."""
        if number == 1:
            return self
        email, password = getattr(self, f"iracing_email_{number}"), getattr(self, f"iracing_password_{number}")
        if not email or not password:
            raise ValueError(f"iRacing account {number} is not configured")
        return replace(self, iracing_email=email, iracing_password=password)

    def missing_iracing_credentials(self) -> list[str]:
        """The settings the iRacing login still lacks, by their environment names."""
        needed: dict[str, Secret | str | None] = {
            "IRACING_EMAIL": self.iracing_email,
            "IRACING_PASSWORD": self.iracing_password,
        }
        if self.iracing_auth_mode == "oauth":
            needed["IRACING_CLIENT_ID"] = self.iracing_client_id
            needed["IRACING_CLIENT_SECRET"] = self.iracing_client_secret
        return [name for name, value in needed.items() if not value]

    def secret_values(self) -> list[str]:
        """Every configured secret in plain form, for the log redaction filter."""
        # The database URL is a Secret for its password; the rest of it (a file path) is not secret.
        values = [
            value.get()
            for value in (getattr(self, f.name) for f in fields(self) if f.name != "database_url")
            if isinstance(value, Secret)
        ]
        password = _url_password(self.database_url.get())
        if password:
            values.append(password)
        # An endpoint URL may carry a user and password (a proxy's): redacted like any secret.
        for url in (self.iracing_api_base, self.iracing_oauth_url, self.discord_api_base):
            credentials = url_credentials(url or "")
            if credentials:
                values.append(credentials)
        # The masked forms iRacing receives are as good as the secrets: redact them too.
        if self.iracing_client_secret and self.iracing_client_id:
            values.append(mask_secret(self.iracing_client_secret.get(), self.iracing_client_id))
        for login, secret in (
            (self.iracing_email, self.iracing_password),
            (self.iracing_email_2, self.iracing_password_2),
            (self.iracing_email_3, self.iracing_password_3),
        ):
            if secret and login:
                values.append(mask_secret(secret.get(), login.get()))
        return [v for v in values if v]


# Keys read from the environment or data/config.json. Those in _SECRET_KEYS become Secret.
_KEYS: dict[str, str] = {
    "DISCORD_TOKEN": "discord_token",
    "IRACING_EMAIL": "iracing_email",
    "IRACING_PASSWORD": "iracing_password",
    "IRACING_CLIENT_ID": "iracing_client_id",
    "IRACING_CLIENT_SECRET": "iracing_client_secret",
    "IRACING_AUTH_MODE": "iracing_auth_mode",
    "IRACING_AUTH_STATE_FILE": "iracing_auth_state_file",
    "DATABASE_URL": "database_url",
    "POLL_INTERVAL_SECONDS": "poll_interval_seconds",
    "IRACING_CONCURRENCY": "iracing_concurrency",
    "DEFAULT_TIMEZONE": "default_timezone",
    "LOG_LEVEL": "log_level",
    "LOG_FORMAT": "log_format",
    "HEALTH_HOST": "health_host",
    "HEALTH_PORT": "health_port",
    "IRACING_API_BASE": "iracing_api_base",
    "IRACING_OAUTH_URL": "iracing_oauth_url",
    "DISCORD_API_BASE": "discord_api_base",
    "MAX_POST_AGE_HOURS": "max_post_age_hours",
    "MAX_IDLE_POLL_MINUTES": "max_idle_poll_minutes",
    "IRACING_INTERACTIVE_SHARE": "iracing_interactive_share",
    "DATA_DIR": "data_dir",
    "BOT_PREFIX": "bot_prefix",
    "BOT_OWNER_ID": "bot_owner_id",
    "LIVE_WATCH": "live_watch",
    "LIVE_POLL_SECONDS": "live_poll_seconds",
    "IRACING_EMAIL_2": "iracing_email_2",
    "IRACING_PASSWORD_2": "iracing_password_2",
    "IRACING_EMAIL_3": "iracing_email_3",
    "IRACING_PASSWORD_3": "iracing_password_3",
}
# Every setting's name, as the README's table and .env.example list them.
SETTING_NAMES: tuple[str, ...] = tuple(_KEYS)
_SECRET_KEYS = frozenset(
    {
        "DISCORD_TOKEN",
        "IRACING_EMAIL",
        "IRACING_PASSWORD",
        "IRACING_CLIENT_SECRET",
        "DATABASE_URL",
        "IRACING_EMAIL_2",
        "IRACING_PASSWORD_2",
        "IRACING_EMAIL_3",
        "IRACING_PASSWORD_3",
    }
)
# Red's shared API tokens of the further accounts (`[p]set api iracing2 username,... password,...`).
EXTRA_ACCOUNT_SERVICES: dict[str, tuple[str, str]] = {
    "iracing2": ("IRACING_EMAIL_2", "IRACING_PASSWORD_2"),
    "iracing3": ("IRACING_EMAIL_3", "IRACING_PASSWORD_3"),
}
# Red's shared API tokens (`[p]set api iracing ...`) and the keys they stand for.
API_TOKEN_KEYS: dict[str, str] = {
    "client_id": "IRACING_CLIENT_ID",
    "client_secret": "IRACING_CLIENT_SECRET",
    "username": "IRACING_EMAIL",
    "password": "IRACING_PASSWORD",
}
_INT_RANGES: dict[str, tuple[int, int]] = {
    "POLL_INTERVAL_SECONDS": (30, 86_400),
    "IRACING_CONCURRENCY": (1, 8),
    "HEALTH_PORT": (0, 65_535),
    "MAX_POST_AGE_HOURS": (1, 24 * 30),
    "MAX_IDLE_POLL_MINUTES": (1, 24 * 60),
    "LIVE_POLL_SECONDS": (30, 600),
}
_BOOL_WORDS = {"true": True, "on": True, "yes": True, "1": True, "false": False, "off": False, "no": False, "0": False}
_BOOL_KEYS = ("LIVE_WATCH",)
# Fractions: IRACING_INTERACTIVE_SHARE is the part of each rate-limit window members' commands may use.
_FLOAT_RANGES: dict[str, tuple[float, float]] = {
    "IRACING_INTERACTIVE_SHARE": (0.05, 0.5),
}
_CHOICES: dict[str, tuple[str, ...]] = {
    "IRACING_AUTH_MODE": ("oauth", "legacy"),
    "LOG_FORMAT": ("json", "text"),
    "LOG_LEVEL": ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
}
_URL_KEYS = ("IRACING_API_BASE", "IRACING_OAUTH_URL", "DISCORD_API_BASE")
DATABASE_SCHEMES = ("sqlite", "mysql", "mariadb", "postgresql", "postgres")


def _url_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def valid_timezone(name: str) -> bool:
    """True for an IANA zone name zoneinfo knows ("Europe/Berlin", "UTC")."""
    if not name or name.startswith(("/", ".")) or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def timezone_names() -> list[str]:
    """All IANA zone names, sorted: for autocomplete."""
    return sorted(available_timezones())


# Found in the environment only: the file that could name it is itself found through it.
_ENVIRONMENT_ONLY = ("DATA_DIR",)
_ASCII_WHOLE_NUMBER = re.compile(r"-?[0-9]+")
_ASCII_DECIMAL = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def default_data_dir(environ: Mapping[str, str]) -> Path:
    """``DATA_DIR`` from the environment, else ``data`` (relative to the working directory)."""
    return Path(environ.get("DATA_DIR") or "data")


def _read_config_file(path: Path) -> tuple[dict[str, Any], list[str]]:
    if not path.is_file():
        return {}, []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        # The position says where; the content is never quoted (it may hold secrets).
        where = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        return {}, [f"{path}: not readable as JSON{where}"]
    if not isinstance(data, dict):
        return {}, [f"{path}: must hold a JSON object of setting names to values"]
    unknown = sorted(k for k in data if k not in _KEYS)
    problems = [f"{path}: unknown setting {k}" for k in unknown]
    problems += [
        f"{k}: set it in the environment, not in {path} (that file is found through {k})"
        for k in _ENVIRONMENT_ONLY
        if k in data
    ]
    return {k: v for k, v in data.items() if k in _KEYS and k not in _ENVIRONMENT_ONLY}, problems


def _parse_int(key: str, raw: str, problems: list[str]) -> int | None:
    # ASCII digits only: int() also takes "١٢" and "1_000", and str.isdigit() takes "²", which int() refuses.
    if not _ASCII_WHOLE_NUMBER.fullmatch(raw.strip()):
        problems.append(f"{key}: must be a whole number (digits 0-9), got {raw!r}")
        return None
    value = int(raw.strip())
    low, high = _INT_RANGES.get(key, (-(2**63), 2**63 - 1))
    if not low <= value <= high:
        problems.append(f"{key}: must be between {low} and {high}, got {value}")
        return None
    return value


def _parse_fraction(key: str, raw: str, problems: list[str]) -> float | None:
    low, high = _FLOAT_RANGES[key]
    # ASCII digits and a point only (float() also takes "١", "1_0" and "1e-1").
    value = float(raw.strip()) if _ASCII_DECIMAL.fullmatch(raw.strip()) else float("nan")
    if not low <= value <= high:  # also refuses nan and inf
        problems.append(f"{key}: must be a number between {low:g} and {high:g}, got {raw!r}")
        return None
    return value


def _check_database_url(url: str, problems: list[str]) -> None:
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower() if ":" in url else ""
    if scheme not in DATABASE_SCHEMES:
        problems.append(
            "DATABASE_URL: not a database URL this bot knows; use sqlite:///path/to/file.db, "
            "mysql://user:password@host:3306/db or postgresql://user:password@host:5432/db"
        )


def _check_http_url(key: str, url: str, problems: list[str]) -> None:
    try:
        parts = urlsplit(url)
        _port = parts.port  # raises on a port that is not a number
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        usable = False
    if not usable:
        problems.append(f"{key}: must be an http(s) URL, got {mask_url(url)!r}")


def load_settings(
    environ: Mapping[str, str] | None = None,
    config_file: Path | str | None = None,
    *,
    mode: Mode = "standalone",
    api_tokens: Mapping[str, str] | None = None,
    data_dir: Path | str | None = None,
) -> Settings:
    """Build validated settings.

    ``mode="cog"``: the iRacing secrets come from Red's shared API tokens (``api_tokens``), which
    win over the environment; ``DISCORD_TOKEN`` is Red's business and never required; missing
    iRacing credentials are not an error (the cog loads and tells the owner what to set).
    ``mode="standalone"``: the Discord token and the iRacing login are required.
    """
    env = dict(os.environ if environ is None else environ)
    base_dir = Path(data_dir) if data_dir is not None else default_data_dir(env)
    cfg_path = Path(config_file) if config_file is not None else base_dir / "config.json"
    file_values, problems = _read_config_file(cfg_path)

    raw: dict[str, str] = {}
    for key in _KEYS:
        value: Any = env.get(key)
        if value is None or value == "":
            value = file_values.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, bool) and key in _BOOL_KEYS:
            value = "true" if value else "false"  # config.json may say true/false
        if isinstance(value, bool | dict | list):
            problems.append(f"{key}: must be a string or a number")
            continue
        raw[key] = str(value)
    if mode == "cog":
        for token_key, key in API_TOKEN_KEYS.items():
            value = (api_tokens or {}).get(token_key)
            if value:
                raw[key] = str(value)

    values: dict[str, Any] = {}
    for key, text in raw.items():
        name = _KEYS[key]
        if key in _SECRET_KEYS:
            values[name] = Secret(text if key.startswith("IRACING_PASSWORD") else text.strip())
        elif key in _INT_RANGES:
            number = _parse_int(key, text, problems)
            if number is not None:
                values[name] = number
        elif key in _FLOAT_RANGES:
            fraction = _parse_fraction(key, text, problems)
            if fraction is not None:
                values[name] = fraction
        elif key in _CHOICES:
            choice = text.strip().upper() if key == "LOG_LEVEL" else text.strip().lower()
            if choice not in _CHOICES[key]:
                problems.append(f"{key}: must be one of {', '.join(_CHOICES[key])}, got {text!r}")
            else:
                values[name] = choice
        elif key in _BOOL_KEYS:
            flag = _BOOL_WORDS.get(text.strip().lower())
            if flag is None:
                problems.append(f"{key}: must be on or off (true/false), got {text!r}")
            else:
                values[name] = flag
        elif key == "BOT_OWNER_ID":
            owner = text.strip()
            if not _ASCII_WHOLE_NUMBER.fullmatch(owner) or not 0 < int(owner) < 2**63:
                problems.append(f"BOT_OWNER_ID: must be a Discord user id (digits 0-9), got {text!r}")
            else:
                values[name] = int(owner)
        elif key == "DEFAULT_TIMEZONE":
            if not valid_timezone(text.strip()):
                problems.append(f"DEFAULT_TIMEZONE: unknown time zone {text!r}; use an IANA name like Europe/Berlin")
            else:
                values[name] = text.strip()
        elif key in ("IRACING_AUTH_STATE_FILE", "DATA_DIR"):
            values[name] = Path(text)
        elif key in _URL_KEYS:
            _check_http_url(key, text.strip(), problems)
            values[name] = text.strip().rstrip("/") if key != "IRACING_OAUTH_URL" else text.strip()
        else:
            values[name] = text.strip()

    values["data_dir"] = base_dir
    if "database_url" in values:
        _check_database_url(values["database_url"].get(), problems)
    else:
        values["database_url"] = Secret(f"sqlite:///{(base_dir / 'ir2dis.sqlite3').as_posix()}")

    for email_key, password_key in EXTRA_ACCOUNT_SERVICES.values():
        # A further account needs both halves; one alone is a typo, not an account.
        if (email_key in raw) != (password_key in raw):
            problems.append(f"{password_key if email_key in raw else email_key}: missing (set both or neither)")
    settings = Settings(**values)
    if mode == "standalone":
        if not settings.discord_token:
            problems.append("DISCORD_TOKEN: missing (the bot token from the Discord developer portal)")
        problems.extend(f"{key}: missing" for key in settings.missing_iracing_credentials())
    if problems:
        raise SettingsError(problems)
    return settings


def as_environment(settings: Settings) -> dict[str, str]:
    """The settings as environment variables that ``load_settings`` reads back to the same settings.

    The launcher resolves the settings once (environment, then ``DATA_DIR/config.json``, then
    defaults) and hands them to the cog this way, in the environment of the Red it runs.
    """
    names = {name: key for key, name in _KEYS.items()}
    env: dict[str, str] = {}
    for f in fields(settings):
        value = getattr(settings, f.name)
        if value is None or f.name not in names:
            continue
        if isinstance(value, Secret):
            text = value.get()
        elif isinstance(value, bool):
            text = "on" if value else "off"
        elif isinstance(value, Path):
            text = str(value)
        else:
            text = str(value)  # a float's str reads back as the same float
        env[names[f.name]] = text
    return env
