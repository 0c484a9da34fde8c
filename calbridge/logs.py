"""Structured logging: JSON in production, readable in a terminal, never content or secrets.

Log calls pass fields (`log.info("published", calendar=ref, count=3)`); a processor below
replaces the value of any field whose name says it may hold event content, an address, a token
or a secret, so a careless call site cannot leak them.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from pydantic import SecretBytes, SecretStr

__all__ = ["REDACTED", "configure_logging", "get_logger", "redact"]

REDACTED = "[redacted]"

# Field names (or parts of them) that must never reach a log line with their value.
_SENSITIVE_PARTS = (
    "token",
    "secret",
    "password",
    "authorization",
    "client_state",
    "clientstate",
    "assertion",
    "cookie",
    "api_key",
    "private_key",
    "title",
    "subject",
    "summary",
    "description",
    "body",
    "location",
    "attendee",
    "organizer",
    "email",
    "address",
)
# Names that contain a sensitive part but are safe counters or ids.
_ALLOWED = frozenset({"token_count", "body_bytes", "trace_id", "sync_token_present"})


def _is_sensitive(key: str) -> bool:
    lowered = key.lower()
    return lowered not in _ALLOWED and any(part in lowered for part in _SENSITIVE_PARTS)


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        if key == "event":
            continue
        if isinstance(value, SecretStr | SecretBytes) or _is_sensitive(key):
            event_dict[key] = REDACTED
    return event_dict


class _CurrentStderr:
    """Writes to whatever sys.stderr is at the time of writing (test runners swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(fmt: str = "json", level: str = "info") -> None:
    """Our own log lines and the libraries' (aio-pika, uvicorn, SQLAlchemy through the standard
    `logging` module) come out in one format, at one level, redacted alike."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    shared: list[Any] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]
    _route_standard_logging(renderer, shared, level)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *shared,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        # No caching: a reconfiguration (tests, `calbridge demo`) reaches loggers already in use.
        cache_logger_on_first_use=False,
    )


class _OurHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler this module installs, so a reconfiguration replaces only its own."""


# Libraries that log every request at INFO, URLs included (a Graph validation token, a Google
# page token, a delta link): only their warnings and errors reach our logs.
_CHATTY = (
    "httpx",
    "aiosqlite",
    "aiohttp.access",
    "httpcore",
    "urllib3",
    "azure",
    "msal",
    "googleapiclient",
    "google",
    "exchangelib",
    "kiota",
)
_QUERY = re.compile(r"\?[^\s\"']+")


def scrub_library_text(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """A library's own sentence may hold a URL with a token in its query: keep the path only."""
    event = event_dict.get("event")
    if isinstance(event, str) and "?" in event:
        event_dict["event"] = _QUERY.sub("?[redacted]", event)
    return event_dict


def _route_standard_logging(renderer: Any, shared: list[Any], level: str) -> None:
    handler = _OurHandler(_CurrentStderr())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[
                scrub_library_text,
                structlog.stdlib.add_logger_name,
                *shared,
                structlog.processors.format_exc_info,
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OurHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    chosen = logging.getLevelNamesMapping()[level.upper()]
    root.setLevel(chosen)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(max(chosen, logging.WARNING))


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
