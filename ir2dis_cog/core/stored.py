"""Stored cards: their versioned JSON, and the one rule for a frozen dataclass's fields read back."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import MISSING, fields
from typing import Any


def plain_fields(cls: type, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``cls`` from ``raw``: an absent optional field was ``None`` (or has its
    default); an absent required one is an error (it must not read back as ``None``)."""
    if not isinstance(raw, Mapping):
        raise TypeError("expected an object")
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in raw:
            values[f.name] = raw[f.name]
        elif f.default is not MISSING:
            values[f.name] = f.default
        elif "None" in str(f.type):
            values[f.name] = None
        else:
            raise KeyError(f.name)
    return values


def versioned_json(body: dict[str, Any], version: int) -> str:
    """Compact JSON with its format version under ``v``; ASCII only (safe in any database charset)."""
    return json.dumps({**body, "v": version}, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def versioned_object(text: str, version: int, what: str, error: type[Exception]) -> dict[str, Any]:
    """The JSON object stored by ``versioned_json``; ``error`` when it is no JSON object of that version."""
    try:
        raw = json.loads(text)
    except (TypeError, ValueError):
        raise error(f"{what} is not JSON") from None
    if not isinstance(raw, dict) or raw.get("v") != version:
        raise error(f"{what} has an unknown format version")
    return raw
