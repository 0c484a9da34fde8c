"""The sandbox's clock: real time plus an offset that tests move, so days pass without sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["Clock"]


class Clock:
    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        """Move the sandbox's time forward (expiries, token lifetimes, delta windows follow)."""
        self.offset += delta

    def skew(self, delta: timedelta) -> None:
        """Set the clock's skew against real time (fault injection: a provider whose clock is off)."""
        self.offset = delta
