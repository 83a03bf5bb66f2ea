"""Secrets that never show themselves, and iRacing's masked form of a secret.

Kept apart from the settings so that the iRacing client and the settings both use them without
importing each other.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import urlsplit, urlunsplit

_MASK = "********"


class Secret:
    """A string that never shows itself; ``get()`` is the one way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{_MASK}')"

    def __str__(self) -> str:
        return _MASK

    def __format__(self, spec: str) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


def mask_secret(secret: str, salt: str) -> str:
    """iRacing's masking: base64(sha256(secret + lower(trim(salt))))."""
    digest = hashlib.sha256((secret + salt.strip().lower()).encode("utf-8")).digest()
    return base64.b64encode(digest).decode("ascii")


def url_credentials(url: str) -> str | None:
    """The user-info part of a URL (``user:password`` in ``https://user:password@host``), or None."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return None
    userinfo, at, _host = netloc.rpartition("@")
    return userinfo if at and userinfo else None


def mask_url(url: str) -> str:
    """The URL with any user and password replaced by the mask, for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _MASK if "@" in url else url  # unparsable: whatever precedes an @ may be a password
    _userinfo, at, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{_MASK}@{host}")) if at else url
