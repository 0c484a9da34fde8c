"""Runs handlers for delivered messages: one calendar at a time in arrival order, many at once.

A shard queue hands a consumer up to `prefetch` messages; running them one by one would waste the
prefetch, running them all at once would let two changes of one calendar race. Messages with the
same key (the calendar ref) form a chain: each waits for the one before it; different keys run
concurrently. `drain` is the graceful half of stopping: work that has started finishes, work that
has not started is not begun (its message stays unacknowledged, so the broker hands it to the
next consumer, in order).
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Awaitable, Callable

from calbridge.logs import get_logger

__all__ = ["Dispatcher", "arrival_time"]

log = get_logger(__name__)

Work = Callable[[], Awaitable[None]]

# When the message being handled reached this process (time.monotonic()), before it waited
# behind earlier messages of its calendar. A handler uses it to tell whether a pass that
# started after that moment already covered the message (coalescing bursts of hints).
_ARRIVED: contextvars.ContextVar[float] = contextvars.ContextVar("calbridge_arrived")


def arrival_time() -> float:
    """When the message now being handled arrived (monotonic); now, outside a dispatcher."""
    return _ARRIVED.get(time.monotonic())


class Dispatcher:
    def __init__(self) -> None:
        self._tails: dict[str, asyncio.Future[None]] = {}  # per key: done when its last work ends
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False

    async def run(self, key: str, work: Work) -> None:
        """Run `work` in the calling task after every earlier call with the same key.

        The place in the chain is taken before the first await, so callers keep their order
        as long as they call in arrival order (aio-pika starts delivery callbacks in order).
        """
        if self._stopping:
            return
        _ARRIVED.set(time.monotonic())  # this task's context: seen by `work` only
        previous = self._tails.get(key)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[key] = done
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            if previous is not None:
                await previous  # only this call waits on it, so cancelling it here harms no one
            if not self._stopping:
                await work()
        finally:
            if not done.done():
                done.set_result(None)
            if self._tails.get(key) is done:
                del self._tails[key]
            self._tasks.discard(task)

    def submit(self, key: str, work: Work) -> None:
        """Like `run`, in a task of its own (for callers that must not wait)."""
        task = asyncio.create_task(self.run(key, work))
        task.add_done_callback(_report)

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


def _report(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (error := task.exception()) is not None:
        # Work settles its own message; an escape here is a bug, reported and not left dangling.
        log.error("dispatch_work_failed", error=type(error).__name__, exc_info=error)
