"""The Graph side's own small router: one table serves direct calls and `$batch` items alike.

A `Call` is a Graph request reduced to what handlers need; a `Reply` is what goes back. Routes
are matched case-insensitively, as Graph's are, and `delta` and `delta()` are the same segment.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from multidict import CIMultiDict, MultiDict

from sandbox.graph.prefs import Prefs, parse_prefs

if TYPE_CHECKING:
    from sandbox.graph.context import GraphContext
    from sandbox.graph.state import Mailbox

__all__ = ["Call", "Reply", "Route", "make_call"]


@dataclass
class Call:
    ctx: GraphContext
    method: str
    path: str  # after /v1.0, e.g. /users/alice@example.com/events
    query: MultiDict[str]
    headers: CIMultiDict[str]
    body: Any
    origin: str  # scheme://host of the request, for next/delta links
    prefs: Prefs
    match: re.Match[str] | None = None
    mailbox: Mailbox | None = None

    def param(self, name: str) -> str:
        assert self.match is not None
        return self.match.group(name)

    def link(self, path: str) -> str:
        return f"{self.origin}/v1.0{path}"


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Call], Awaitable[Reply]]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    operation: str  # fault and counter name, without the `graph.` prefix
    handler: Handler


USER = r"/users/(?P<user>[^/]+)"
EVENTS = USER + r"(?:/calendar|/calendars/(?P<calendar>[^/]+))?/events"
VIEW = USER + r"(?:/calendar|/calendars/(?P<calendar>[^/]+))?/calendarview"


def route(method: str, pattern: str, operation: str, handler: Handler) -> Route:
    return Route(method, re.compile(f"^{pattern}/?$", re.IGNORECASE), operation, handler)


def make_call(
    ctx: GraphContext,
    method: str,
    path: str,
    query: MultiDict[str],
    headers: CIMultiDict[str],
    body: Any,
    origin: str,
) -> Call:
    prefs = parse_prefs(headers.getall("Prefer", []))
    return Call(ctx, method.upper(), path, query, headers, body, origin, prefs)
