"""Log lines of every ragline process: JSON off a terminal, readable text on one, both with the trace id.

Messages follow the house style `logger.info("upload accepted job_id=%s bytes=%s", job_id, size)`; the
JSON line carries those `key=%s` pairs as fields of their own, so a log store can filter on `job_id`
without parsing the message:

    {"time": "2025-01-31T10:00:00.123Z", "level": "INFO", "logger": "ragline.api.service",
     "message": "upload accepted job_id=3f... bytes=1024", "service": "ragline-api",
     "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7",
     "job_id": "3f...", "bytes": 1024}
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import TextIO

from opentelemetry import trace

# Libraries that log every HTTP call they make at INFO: one line per Chroma request drowns the rest.
CHATTY_LOGGERS = ("httpx", "httpcore", "chromadb", "urllib3")
# Uvicorn installs handlers of its own before the app factory runs; ours replace them.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")

# One `%`-conversion of a logging format string, and the `key=` right before it when there is one.
_CONVERSION = re.compile(r"(?:(\w+)=)?%(?:\(\w+\))?[-#0 +]*(?:\d+|\*)?(?:\.\d+)?[diouxXeEfFgGcrsa%]")
# Fields every record has, and uvicorn's ANSI-coloured copy of its message.
_NOT_EXTRA = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "color_message"}


def trace_fields() -> dict[str, str]:
    """The current span's ids as hex, or nothing outside a recorded trace."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": format(context.trace_id, "032x"), "span_id": format(context.span_id, "016x")}


def message_fields(record: logging.LogRecord) -> dict[str, object]:
    """The `key=%s` pairs of a record's format string, with their arguments.

    >>> record = logging.LogRecord("x", 20, "", 0, "done job_id=%s chunks=%d in %.1f s", ("j1", 3, 0.5), None)
    >>> message_fields(record)
    {'job_id': 'j1', 'chunks': 3}
    """
    if not isinstance(record.msg, str) or not isinstance(record.args, tuple) or not record.args:
        return {}
    conversions = [match.group(1) for match in _CONVERSION.finditer(record.msg) if not match.group(0).endswith("%%")]
    if len(conversions) != len(record.args):
        return {}
    return {key: value for key, value in zip(conversions, record.args, strict=True) if key}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": self._service,
            **trace_fields(),
        }
        for key, value in {**message_fields(record), **_extra_fields(record)}.items():
            line.setdefault(key, value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """For a person at a terminal: time, level, logger, message, then the trace id if there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = trace_fields()
        return f"{text} trace_id={ids['trace_id']}" if ids else text


def configure_logging(service: str, level: int | str = logging.INFO, stream: TextIO | None = None) -> None:
    """Route every logger of this process to one handler on stderr, replacing any handler set before."""
    # The real stderr: Celery replaces sys.stderr with a proxy that logs what is written to it.
    stream = stream or sys.__stderr__
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter() if stream.isatty() else JsonFormatter(service))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        # `--no-access-log` leaves uvicorn.access with no handler and not propagating: keep it off.
        if uvicorn_logger.handlers or uvicorn_logger.propagate:
            uvicorn_logger.handlers.clear()
            uvicorn_logger.propagate = True
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def _extra_fields(record: logging.LogRecord) -> dict[str, object]:
    """Fields passed as `logger.info(..., extra={...})`."""
    return {key: value for key, value in vars(record).items() if key not in _NOT_EXTRA and not key.startswith("_")}
