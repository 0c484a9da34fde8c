"""Bounded waiting for tests: poll a condition until it holds, fail with what was awaited."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

__all__ = ["eventually"]


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]],
    within: float = 30.0,
    what: str = "condition",
    interval: float = 0.02,
) -> None:
    """Poll `condition` (plain or async) until it holds; fail after `within` seconds.

    The bound is generous because a loaded 2-core CI machine is slow; a condition that holds
    returns at the next poll, so the bound costs nothing when things work.
    """
    deadline = time.monotonic() + within
    while True:
        result = condition()
        if await result if inspect.isawaitable(result) else result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g}s waiting for {what}")
        await asyncio.sleep(interval)
