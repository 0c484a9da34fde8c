"""Runs handlers for delivered messages: one calendar at a time in arrival order, many at once.

A shard queue hands a consumer up to `prefetch` messages; running them one by one would waste the
prefetch, running them all at once would let two changes of one calendar race. Messages with the
same key (the calendar ref) form a chain; different keys run concurrently. `drain` is the graceful
half of stopping: work that has started finishes, work that has not started is not begun (its
message is left unacknowledged, so the broker hands it to the next consumer, in order).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from calbridge.logs import get_logger

__all__ = ["Dispatcher"]

log = get_logger(__name__)

Work = Callable[[], Awaitable[None]]


class Dispatcher:
    def __init__(self) -> None:
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False

    @property
    def stopping(self) -> bool:
        return self._stopping

    def submit(self, key: str, work: Work) -> None:
        """Schedule `work` after every earlier submission with the same key."""
        previous = self._tails.get(key)
        task = asyncio.create_task(self._run(previous, work))
        self._tails[key] = task
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._forget(key, done))

    async def _run(self, previous: asyncio.Task[None] | None, work: Work) -> None:
        if previous is not None:
            await asyncio.wait([previous])  # its outcome is its own; only its end matters here
        if self._stopping:
            return
        current = asyncio.current_task()
        assert current is not None
        self._running.add(current)
        try:
            await work()
        finally:
            self._running.discard(current)

    def _forget(self, key: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            # Work settles its own message; an escape here is a bug, reported and not left dangling.
            log.error("dispatch_work_failed", error=type(error).__name__, exc_info=error)
        if self._tails.get(key) is task:
            del self._tails[key]

    async def drain(self, grace: float) -> bool:
        """Stop starting work and wait for running work; True if it all finished in time.

        Work still running after `grace` seconds is cancelled.
        """
        self._stopping = True
        pending = set(self._tasks)
        if not pending:
            return True
        _, late = await asyncio.wait(pending, timeout=grace)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)
        return not late
