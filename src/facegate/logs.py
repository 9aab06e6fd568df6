"""The service's logs: one JSON object per line (the default) or plain text.

Each JSON line carries ``timestamp`` (ISO 8601 with the local offset), ``level``, ``logger``
and ``message``, and ``exception`` when an exception is logged; an access line (logger
``facegate.access``) also carries ``method``, ``route`` (the route's path template, such as
``/v1/subjects/{subject_id}``, never the raw URL), ``status`` and ``duration_ms``. No line
carries a face, a template, an identity or reference, an API key, a query string or a
client's address: the service never logs them, and a line of uvicorn's own access logger,
should it be turned on, is rewritten to the method, the path without its query and the
status. ``FACEGATE_LOG_FORMAT`` (``json`` or ``text``) and ``FACEGATE_LOG_LEVEL`` choose;
``facegate serve`` reads them and configures uvicorn's loggers the same way."""

from __future__ import annotations

import json
import logging
import logging.config
import sys
from datetime import datetime
from typing import Any

from facegate.errors import BadInput

FORMATS = ("json", "text")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
ACCESS_FIELDS = ("method", "route", "status", "duration_ms")
UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def _timestamp(record: logging.LogRecord) -> str:
    """When the record was made, ISO 8601 with the local offset, to the millisecond."""
    return datetime.fromtimestamp(record.created).astimezone().isoformat(
        timespec="milliseconds")


def _message(record: logging.LogRecord) -> str:
    """The record's message; uvicorn's access line without the client or the query."""
    if record.name == "uvicorn.access" and isinstance(record.args, tuple) \
            and len(record.args) == 5:
        _, method, path, _, status = record.args
        return f"{method} {str(path).split('?', 1)[0]} {status}"
    return record.getMessage()


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "timestamp": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": _message(record),
        }
        for name in ACCESS_FIELDS:
            if name in record.__dict__:
                out[name] = record.__dict__[name]
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message`` (the access line without client or query too)."""

    def __init__(self) -> None:
        super().__init__(TEXT)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _timestamp(record)

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = _message(record)
        return super().formatMessage(record)


def checked(fmt: str, level: str) -> tuple[str, str]:
    """``fmt`` and ``level`` as known names, or ``BadInput`` naming the setting."""
    fmt, level = fmt.strip().lower(), level.strip().upper()
    if fmt not in FORMATS:
        raise BadInput(f"FACEGATE_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if level not in LEVELS:
        raise BadInput(f"FACEGATE_LOG_LEVEL must be one of {', '.join(LEVELS)}, not {level!r}")
    return fmt, level


def dict_config(fmt: str = "json", level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the root logger and uvicorn's loggers (also what
    ``uvicorn.run(log_config=...)`` applies in each worker process)."""
    fmt, level = checked(fmt, level)
    formatter = "facegate.logs.JsonFormatter" if fmt == "json" else "facegate.logs.TextFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"facegate": {"()": formatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "facegate",
                                "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {name: {"handlers": [], "level": level, "propagate": True}
                    for name in UVICORN},
    }


def configure(fmt: str = "json", level: str = "INFO") -> dict[str, Any]:
    """Send every log record, uvicorn's included, to standard error in format ``fmt``
    (``json`` or ``text``) from ``level`` up; returns the configuration applied."""
    config = dict_config(fmt, level)
    logging.config.dictConfig(config)
    logging.captureWarnings(True)
    sys.stderr.flush()
    return config
