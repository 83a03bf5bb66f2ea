"""Redaction and the JSON/text formats, through real loggers and handlers."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from ir2dis_cog.observability.logging import (
    REDACTED,
    RedactionFilter,
    configure_standalone_logging,
    json_formatter,
    log_event,
    redact_text,
)

TOKEN = "MTIz.discord-bot-token.XYZ"
PASSWORD = "hunter2-pa$$"
CLIENT_SECRET = "s3cr3t-client-value"


@dataclass(frozen=True)
class FakeSettings:
    log_level: str = "INFO"
    log_format: str = "json"
    secrets: tuple[str, ...] = field(default=(TOKEN, PASSWORD, CLIENT_SECRET))

    def secret_values(self) -> list[str]:
        return list(self.secrets)


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO, RedactionFilter]]:
    """A logger tree 'red.ir2dis_t' with a redaction filter attached, like the cog does it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    parent = logging.getLogger("red.ir2dis_t")
    child = logging.getLogger("red.ir2dis_t.part")  # exists before attach, like module loggers
    parent.addHandler(handler)
    parent.setLevel(logging.DEBUG)
    redaction = RedactionFilter([TOKEN, PASSWORD])
    redaction.attach("red.ir2dis_t")
    yield child, stream, redaction
    redaction.detach()
    parent.removeHandler(handler)


def test_redact_text_replaces_longest_first() -> None:
    assert redact_text("a abcdef b", ["abc", "abcdef"]) == f"a {REDACTED} b"
    # Sorted by the filter: the long secret goes first, so no tail of it survives.
    f = RedactionFilter(["abc", "abcdef"])
    assert f.secrets == ("abcdef", "abc")


def test_message_args_and_child_loggers_are_redacted(captured) -> None:
    child, stream, _ = captured
    child.info("login with %s and token=%r", PASSWORD, TOKEN)
    out = stream.getvalue()
    assert PASSWORD not in out and TOKEN not in out
    assert out.count(REDACTED) == 2 and out.startswith("red.ir2dis_t.part login with")


def test_secret_split_across_format_and_args_is_redacted(captured) -> None:
    child, stream, _ = captured
    half = len(TOKEN) // 2
    child.warning(TOKEN[:half] + "%s", TOKEN[half:])
    assert TOKEN not in stream.getvalue()


def test_exception_text_and_extra_fields_are_redacted(captured) -> None:
    child, stream, _ = captured
    try:
        raise RuntimeError(f"server refused password {PASSWORD}")
    except RuntimeError:
        child.exception("auth failed", extra={"event": "auth_failure", "detail": {"pw": [PASSWORD]}, "n": 3})
    out = stream.getvalue()
    assert "RuntimeError: server refused password " + REDACTED in out
    assert PASSWORD not in out


def test_extra_fields_reach_a_json_handler_redacted(captured) -> None:
    child, _, _ = captured
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    child.addHandler(handler)
    try:
        log_event(child, "auth_failure", mode="oauth", reason=f"bad secret {TOKEN}", attempts=2)
    finally:
        child.removeHandler(handler)
    record = json.loads(stream.getvalue())
    assert record["event"] == "auth_failure" and record["attempts"] == 2
    assert record["reason"] == f"bad secret {REDACTED}"


def test_update_swaps_secrets_and_masked_forms(captured) -> None:
    child, stream, redaction = captured
    masked = PASSWORD[:3] + "***"
    redaction.update([CLIENT_SECRET, masked])
    child.info("new %s old %s masked %s", CLIENT_SECRET, PASSWORD, masked)
    out = stream.getvalue()
    assert CLIENT_SECRET not in out and masked not in out
    assert PASSWORD in out  # no longer registered: the update replaced the set


def test_detach_stops_redacting(captured) -> None:
    child, stream, redaction = captured
    redaction.detach()
    child.info("%s", TOKEN)
    assert TOKEN in stream.getvalue()


def test_standalone_json_one_object_per_line_with_required_keys() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_standalone_logging(FakeSettings(), stream=stream)
        configure_standalone_logging(FakeSettings(), stream=stream)  # twice: still one handler
        assert len(root.handlers) == 1
        log_event(
            logging.getLogger("red.ir2dis.poller"),
            "cycle_done",
            drivers_polled=12,
            requests=14,
            new_results=2,
            posts=3,
            duration_seconds=1.25,
        )
        logging.getLogger("discord.client").warning("token %s rejected", TOKEN)
        logging.getLogger("red.ir2dis").debug("not shown at INFO")
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert {"time", "level", "logger", "event"} <= first.keys()
    assert first["event"] == "cycle_done" and first["level"] == "INFO" and first["logger"] == "red.ir2dis.poller"
    assert (first["drivers_polled"], first["requests"], first["new_results"], first["posts"]) == (12, 14, 2, 3)
    assert second["event"] == "log" and second["logger"] == "discord.client"
    assert TOKEN not in lines[1] and REDACTED in second["message"]


def test_standalone_text_format() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_standalone_logging(FakeSettings(log_format="text", log_level="DEBUG"), stream=stream)
        logging.getLogger("red.ir2dis").debug("client secret is %s", CLIENT_SECRET)
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    line = stream.getvalue().strip()
    assert line.endswith(f"DEBUG red.ir2dis: client secret is {REDACTED}")
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_log_event_keeps_fields_named_like_record_attributes(captured) -> None:
    child, _, _ = captured
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    handler = Keep()
    child.addHandler(handler)
    try:
        log_event(child, "post_failed", name="channel", guild_id=5)
    finally:
        child.removeHandler(handler)
    assert seen[0].name_ == "channel" and seen[0].guild_id == 5 and seen[0].event == "post_failed"
