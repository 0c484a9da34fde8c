"""The data free/busy speaks in, apart from HTTP: busy blocks, per-address outcomes, the window.

A source answers each address with a `BusyResult` (its busy blocks, possibly overlapping and
reaching past the window: merging and clipping happen once, centrally) or an `AddressError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

__all__ = [
    "AddressError",
    "Busy",
    "BusyResult",
    "BusyStatus",
    "ErrorCode",
    "LookupOutcome",
    "Window",
]


class BusyStatus(StrEnum):
    BUSY = "busy"
    TENTATIVE = "tentative"
    OOF = "oof"
    WORKING_ELSEWHERE = "workingElsewhere"


class ErrorCode(StrEnum):
    UNKNOWN_ADDRESS = "unknownAddress"  # no connection serves this address
    NOT_PERMITTED = "notPermitted"  # the provider refused to show this calendar
    PROVIDER_FAILED = "providerFailed"  # the provider failed, timed out or kept throttling


@dataclass(frozen=True, slots=True)
class Busy:
    """One block of busy time; `start` and `end` are aware."""

    start: datetime
    end: datetime
    status: BusyStatus = BusyStatus.BUSY


@dataclass(frozen=True, slots=True)
class BusyResult:
    busy: tuple[Busy, ...] = ()


@dataclass(frozen=True, slots=True)
class AddressError:
    code: ErrorCode
    detail: str
    retry_after: float | None = None  # seconds, when the provider said when to come back

    @property
    def cacheable(self) -> bool:
        """Answers about the address itself are stable; a provider's failure is not."""
        return self.code is not ErrorCode.PROVIDER_FAILED


LookupOutcome = BusyResult | AddressError


@dataclass(frozen=True, slots=True)
class Window:
    """The requested span; `start`/`end` carry the zone all-day blocks are read in."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a window needs aware datetimes")
        if not self.start.astimezone(UTC) < self.end.astimezone(UTC):
            raise ValueError("a window must start before it ends")

    @property
    def zone(self) -> ZoneInfo:
        tz = self.start.tzinfo
        return tz if isinstance(tz, ZoneInfo) else ZoneInfo("UTC")

    @property
    def length(self) -> timedelta:
        return self.end.astimezone(UTC) - self.start.astimezone(UTC)
