"""Who takes part in a pass: the pair's policy and, per side, the calendar and its provider."""

from __future__ import annotations

from dataclasses import dataclass

from calbridge.pairs.policy import Policy, Side
from calbridge.providers.base import CalendarAddress, CalendarProvider

__all__ = ["CalendarSide", "Hint", "PairContext"]


@dataclass(frozen=True, slots=True)
class CalendarSide:
    ref: str  # the calendar ref (store row id)
    address: CalendarAddress
    provider: CalendarProvider


@dataclass(frozen=True, slots=True)
class PairContext:
    policy: Policy
    google: CalendarSide
    microsoft: CalendarSide

    def calendar(self, side: Side) -> CalendarSide:
        return self.google if side is Side.GOOGLE else self.microsoft

    def side_of(self, calendar_ref: str) -> Side:
        if calendar_ref == self.google.ref:
            return Side.GOOGLE
        if calendar_ref == self.microsoft.ref:
            return Side.MICROSOFT
        raise ValueError(f"calendar {calendar_ref!r} is not part of pair {self.policy.pair_id!r}")


@dataclass(frozen=True, slots=True)
class Hint:
    """Which calendar changed. The resource id only traces the hint: the pass reads the feed
    since the cursor, which also catches changes whose hints were dropped."""

    calendar: str
    resource_id: str | None = None
