"""Structured logs with every configured secret redacted.

Two pieces:
- ``RedactionFilter``: rewrites a record so that no registered secret (or masked form of one)
  survives in its message, arguments, exception text, stack text or extra fields. In cog mode it
  is attached to the ``red.ir2dis`` logger tree and Red's handlers are left alone; in standalone
  mode it sits on the one root handler, so it also covers Red's and discord.py's records.
- ``configure_standalone_logging``: one JSON object per line (python-json-logger) or plain text.

``log_event(logger, "cycle_done", drivers_polled=3, ...)`` logs a key event with its fields.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable, Mapping
from typing import IO, Any, Protocol

from pythonjsonlogger.json import JsonFormatter

REDACTED = "[redacted]"

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("x", logging.INFO, __file__, 0, "", None, None)).keys()) | {
    "message",
    "asctime",
    "taskName",
}

_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _SettingsLike(Protocol):
    @property
    def log_level(self) -> str: ...

    @property
    def log_format(self) -> str: ...

    def secret_values(self) -> list[str]: ...


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` with each secret replaced; longer secrets first so that a secret holding
    another one is replaced whole."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret and secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _redact_value(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, Mapping):
        return {_redact_value(k, secrets): _redact_value(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(v, secrets) for v in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    # Any other object is rendered the way a formatter would render it, then redacted.
    text = str(value)
    redacted = redact_text(text, secrets)
    return value if redacted == text else redacted


class RedactionFilter(logging.Filter):
    """Removes configured secrets from every record it sees. Never drops a record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        self._attached: list[logging.Logger] = []
        self.update(secrets)

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def update(self, secrets: Iterable[str]) -> None:
        """Replace the set of secrets (e.g. after new credentials); masked forms count too."""
        unique = {s for s in secrets if isinstance(s, str) and s}
        with self._lock:
            self._secrets = tuple(sorted(unique, key=len, reverse=True))

    def attach(self, name: str = "red.ir2dis") -> None:
        """Attach to logger ``name`` and every existing logger below it.

        A logger's filters see only the records logged on that very logger, not those
        propagated from children, so each ``red.ir2dis.<part>`` logger needs it as well.
        The cog's modules are imported (and their loggers made) before ``cog_load`` runs.
        """
        self.detach()
        prefix = name + "."
        names = [name, *sorted(n for n in logging.root.manager.loggerDict if n.startswith(prefix))]
        for logger_name in names:
            logger = logging.getLogger(logger_name)
            logger.addFilter(self)
            self._attached.append(logger)

    def detach(self) -> None:
        for logger in self._attached:
            logger.removeFilter(self)
        self._attached = []

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = self._secrets
        if not secrets:
            return True
        # The message, merged with its arguments first: a secret may only appear once joined.
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the raw parts, still redacted
            message = f"{record.msg!s} {record.args!r}"
        record.msg = redact_text(message, secrets)
        record.args = None
        if record.exc_info:
            # Formatted once here so that no handler formats the live exception (and its secret) again.
            if not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info, secrets)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS:
                setattr(record, key, _redact_value(value, secrets))
        return True


def log_event(
    logger: logging.Logger,
    event: str,
    message: str | None = None,
    /,
    *,
    level: int = logging.INFO,
    exc_info: BaseException | bool | None = None,
    **fields: Any,
) -> None:
    """Log key event ``event`` with its fields as structured extras.

    ``message`` is the human sentence text logs show (Red's own log files have no fields);
    it defaults to the event name.
    """
    clashes = _STANDARD_ATTRS.intersection(fields)
    if clashes:
        # logging refuses extras named like record attributes; keep them under a safe name.
        for key in clashes:
            fields[f"{key}_"] = fields.pop(key)
    logger.log(level, message or event, exc_info=exc_info, extra={"event": event, **fields})


class _EventJsonFormatter(JsonFormatter):
    """python-json-logger with ``event`` always present (``"log"`` for plain records)."""

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data.setdefault("event", "log")


def json_formatter() -> logging.Formatter:
    """One JSON object per line: time, level, logger, event, message and the event's fields."""
    return _EventJsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        datefmt="%Y-%m-%dT%H:%M:%S%z",
        json_ensure_ascii=False,
    )


def text_formatter() -> logging.Formatter:
    return logging.Formatter(_TEXT_FORMAT, datefmt="%Y-%m-%dT%H:%M:%S%z")


def configure_standalone_logging(settings: _SettingsLike, stream: IO[str] | None = None) -> RedactionFilter:
    """Route every record in the process through one handler, JSON or text, with secrets redacted.

    Returns the handler's ``RedactionFilter`` so the caller can update it later. Replaces any
    root handlers set before (calling it twice leaves one handler).
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream if stream is not None else sys.stdout)
    handler.setFormatter(json_formatter() if settings.log_format == "json" else text_formatter())
    redaction = RedactionFilter(settings.secret_values())
    handler.addFilter(redaction)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    # discord.py's DEBUG output is a firehose even when the bot's own level is DEBUG.
    logging.getLogger("discord").setLevel(max(logging.INFO, root.level))
    logging.captureWarnings(True)
    return redaction
