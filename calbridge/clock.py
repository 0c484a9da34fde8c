"""Time as a parameter: the clock and the sleep that code takes instead of reading the system's.

Decisions take `now` as data; loops that must wait take a `Sleep`; both default to the system's,
so tests drive them with fakes in milliseconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

__all__ = ["Clock", "Sleep", "system_clock", "system_sleep"]

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


def system_clock() -> datetime:
    return datetime.now(UTC)


system_sleep: Sleep = asyncio.sleep
