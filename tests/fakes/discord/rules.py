"""Discord's rules the fake enforces: the limits of a message, and interaction options typed by a command's schema."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .protocol import OPT_BOOLEAN, OPT_INTEGER, OPT_NUMBER, OPT_SUB_COMMAND, OPT_SUB_GROUP

_USER_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")


def pinged(content: str, allowed_mentions: Mapping[str, Any] | None) -> tuple[list[int], list[int], bool]:
    """Whom a message's content pings under its ``allowed_mentions``, as Discord decides it.

    Without ``allowed_mentions`` every mention in the content pings; with it, a user (role) pings
    when ``parse`` holds "users" ("roles") or its id is listed, and @everyone only with "everyone".
    Returns (user ids, role ids, everyone), in the content's order.
    """
    parse = set(allowed_mentions.get("parse") or ()) if allowed_mentions is not None else {"users", "roles", "everyone"}
    users_ok = {int(u) for u in (allowed_mentions or {}).get("users") or ()}
    roles_ok = {int(r) for r in (allowed_mentions or {}).get("roles") or ()}
    users = [
        u for u in dict.fromkeys(int(m) for m in _USER_MENTION.findall(content)) if "users" in parse or u in users_ok
    ]
    roles = [
        r for r in dict.fromkeys(int(m) for m in _ROLE_MENTION.findall(content)) if "roles" in parse or r in roles_ok
    ]
    everyone = "everyone" in parse and ("@everyone" in content or "@here" in content)
    return users, roles, everyone


def validate_message_body(body: Mapping[str, Any], *, has_files: bool = False) -> str | None:
    """Discord's limits on a message; None when fine, else the reason (Discord answers 400)."""
    content = body.get("content") or ""
    embeds = body.get("embeds") or []
    if not content and not embeds and not has_files and not body.get("components"):
        return "Cannot send an empty message"
    if len(content) > 2000:
        return "content: Must be 2000 or fewer in length."
    if len(embeds) > 10:
        return "embeds: Must be 10 or fewer in length."
    total = 0
    for i, e in enumerate(embeds):
        for key, limit in (("title", 256), ("description", 4096)):
            n = len(e.get(key) or "")
            total += n
            if n > limit:
                return f"embeds.{i}.{key}: Must be {limit} or fewer in length."
        fields = e.get("fields") or []
        if len(fields) > 25:
            return f"embeds.{i}.fields: Must be 25 or fewer in length."
        for j, f in enumerate(fields):
            if not f.get("name") or not f.get("value"):
                return f"embeds.{i}.fields.{j}: name and value are required."
            if len(f["name"]) > 256 or len(f["value"]) > 1024:
                return f"embeds.{i}.fields.{j}: too long."
            total += len(f["name"]) + len(f["value"])
        footer = (e.get("footer") or {}).get("text") or ""
        author = (e.get("author") or {}).get("name") or ""
        if len(footer) > 2048 or len(author) > 256:
            return f"embeds.{i}: footer or author too long."
        total += len(footer) + len(author)
    if total > 6000:
        return "embeds: the embeds together exceed 6000 characters."
    return None


def build_command_options(
    schema: list[Mapping[str, Any]], path: list[str], values: Mapping[str, Any], focused: str | None
) -> list[dict[str, Any]]:
    """Interaction options for `path` (subcommand names) and `values`, typed by the registered schema."""
    if path:
        name = path[0]
        for opt in schema:
            if opt["name"] == name and opt["type"] in (OPT_SUB_COMMAND, OPT_SUB_GROUP):
                inner = build_command_options(opt.get("options") or [], path[1:], values, focused)
                return [{"type": opt["type"], "name": name, "options": inner}]
        raise ValueError(f"no subcommand {name!r} in the registered command")
    known = {o["name"]: o for o in schema}
    out: list[dict[str, Any]] = []
    for name, value in values.items():
        if name not in known:
            raise ValueError(f"no option {name!r}; registered: {sorted(known)}")
        kind = known[name]["type"]
        if focused == name:  # autocomplete sends the partial text as typed
            out.append({"type": kind, "name": name, "value": str(value), "focused": True})
            continue
        if kind == OPT_INTEGER:
            value = int(value)
        elif kind == OPT_NUMBER:
            value = float(value)
        elif kind == OPT_BOOLEAN:
            value = bool(value)
        else:  # strings, and snowflakes (users, channels, roles), which Discord sends as strings
            value = str(value)
        out.append({"type": kind, "name": name, "value": value})
    missing = [o["name"] for o in schema if o.get("required") and o["name"] not in values]
    if missing and focused is None:
        raise ValueError(f"required options missing: {missing}")
    return out


def leaf_options(options: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The options of the innermost subcommand (the ones that carry values)."""
    for o in options:
        if o["type"] in (OPT_SUB_COMMAND, OPT_SUB_GROUP):
            return leaf_options(o.get("options") or [])
    return options
