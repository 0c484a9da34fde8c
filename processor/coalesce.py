"""Coalescing a burst of hints for one calendar into one or two passes.

A hint says "this calendar changed"; the pass reads everything since the cursor. So a hint is
already served by any pass over its calendar that *started after the hint arrived* here and
succeeded: that pass read state at least as new as the change behind the hint. The bus hands one
calendar's hints to the handler one at a time, so a burst of ten queues up behind the first
pass; when the first pass ends, the second hint runs one more pass (it may have arrived after
the first pass read), and every hint that arrived before that second pass started is
acknowledged at once. Ten hints cost one or two passes, and no change is left unread.

Times are this process's monotonic clock (`calbridge.bus.dispatch.arrival_time`), so clock
skew between the receiver and the processor cannot make a hint look older than it is.
"""

from __future__ import annotations

from collections import OrderedDict

__all__ = ["PassLedger"]


class PassLedger:
    """Per calendar ref: when the latest successful pass started. Bounded (oldest forgotten)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._started: OrderedDict[str, float] = OrderedDict()
        self._capacity = capacity

    def covers(self, calendar: str, arrived: float) -> bool:
        """Whether a successful pass over `calendar` started after a hint that arrived at `arrived`."""
        started = self._started.get(calendar)
        return started is not None and started > arrived

    def record(self, calendar: str, started: float) -> None:
        """A pass over `calendar` that started at `started` succeeded."""
        if started >= self._started.get(calendar, float("-inf")):
            self._started[calendar] = started
        self._started.move_to_end(calendar)
        while len(self._started) > self._capacity:
            self._started.popitem(last=False)
