"""Helpers shared by the sandbox tests: the people, a bounded poll, off-loop SDK calls."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

ALICE = "alice@example.com"
BOB = "bob@example.com"
CAROL = "carol@example.com"


async def call(request: Any) -> Any:
    """Execute a google-api-python-client request off the event loop (the library is sync)."""
    return await asyncio.to_thread(request.execute)


async def wait_until(condition: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@dataclass
class Receiver:
    url: str
    messages: list[Mapping[str, str]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)

    def states(self) -> list[str]:
        return [m["X-Goog-Resource-State"] for m in self.messages]


def timed(day: str, start: str, end: str, tz: str | None = None) -> dict[str, Any]:
    """A timed event body: `timed("2026-12-01", "10:00", "11:00", "Europe/Berlin")`."""
    shape: dict[str, Any] = {
        "start": {"dateTime": f"{day}T{start}:00"},
        "end": {"dateTime": f"{day}T{end}:00"},
    }
    if tz:
        shape["start"]["timeZone"] = tz
        shape["end"]["timeZone"] = tz
    else:
        shape["start"]["dateTime"] += "Z"
        shape["end"]["dateTime"] += "Z"
    return shape
