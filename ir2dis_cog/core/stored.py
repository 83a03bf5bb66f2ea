"""Reading stored cards back: the one rule for a frozen dataclass's fields from its JSON object."""

from __future__ import annotations

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
