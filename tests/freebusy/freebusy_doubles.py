"""Test doubles of the FreeBusySource Protocol, and builders shared by the free/busy tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from calbridge.events import Provider
from calbridge.freebusy.cache import FreeBusyCache
from calbridge.freebusy.orchestrate import Lookup
from calbridge.freebusy.resolve import Directory
from calbridge.freebusy.source import FreeBusySource
from calbridge.freebusy.types import (
    AddressError,
    Busy,
    BusyResult,
    BusyStatus,
    ErrorCode,
    LookupOutcome,
    Window,
)

UTC = ZoneInfo("UTC")
KEY = "k" * 40
OTHER_KEY = "o" * 40
KEYS = {"portal": KEY.encode(), "kiosk": OTHER_KEY.encode()}
DOMAINS = {"example.com": "google-main", "contoso.com": "graph-main", "fabrikam.com": "ews-main"}


def at(hour: int, minute: int = 0, day: int = 23, zone: ZoneInfo = UTC) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=zone)


def window(start_hour: int = 8, end_hour: int = 18, zone: ZoneInfo = UTC) -> Window:
    return Window(at(start_hour, zone=zone), at(end_hour, zone=zone))


@dataclass
class FakeSource:
    """Answers from a fixed calendar; records every call; can fail, stall or throttle."""

    provider: Provider
    calendars: dict[str, list[Busy]] = field(default_factory=dict)
    fail_with: list[Exception] = field(default_factory=list)  # raised by the next calls, in order
    stall: asyncio.Event | None = None  # when set, calls wait for it
    calls: list[tuple[tuple[str, ...], datetime, datetime]] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)

    async def query(
        self, addresses: Sequence[str], start: datetime, end: datetime
    ) -> Mapping[str, LookupOutcome]:
        self.calls.append((tuple(addresses), start, end))
        self.started.set()
        if self.stall is not None:
            await self.stall.wait()
        if self.fail_with:
            raise self.fail_with.pop(0)
        answer: dict[str, LookupOutcome] = {}
        for address in addresses:
            if address in self.calendars:
                answer[address] = BusyResult(tuple(self.calendars[address]))
            else:
                answer[address] = AddressError(ErrorCode.UNKNOWN_ADDRESS, "no such mailbox")
        return answer

    @property
    def addresses_asked(self) -> list[str]:
        return [address for call in self.calls for address in call[0]]


def meeting(start: datetime, end: datetime, status: BusyStatus = BusyStatus.BUSY) -> Busy:
    return Busy(start, end, status)


def three_sources() -> dict[str, FakeSource]:
    return {
        "google-main": FakeSource(
            Provider.GOOGLE, {"ada@example.com": [meeting(at(9), at(10)), meeting(at(9, 30), at(11))]}
        ),
        "graph-main": FakeSource(
            Provider.GRAPH, {"grace@contoso.com": [meeting(at(13), at(14), BusyStatus.TENTATIVE)]}
        ),
        "ews-main": FakeSource(
            Provider.EWS, {"linus@fabrikam.com": [meeting(at(7), at(20), BusyStatus.OOF)]}
        ),
    }


async def constant(directory: Directory) -> Directory:
    return directory


def make_lookup(
    sources: Mapping[str, FreeBusySource],
    *,
    ttl: float = 30.0,
    clock: Callable[[], float] | None = None,
    timeouts: Mapping[Provider, float] | None = None,
    sleep: Callable[[float], object] | None = None,
    known: Mapping[str, str] | None = None,
) -> Lookup:
    directory = Directory(domains=DOMAINS, known=known or {})

    async def load() -> Directory:
        return directory

    lookup = Lookup(
        sources=sources,
        directory=load,
        cache=FreeBusyCache(ttl, clock=clock) if clock else FreeBusyCache(ttl),
    )
    if timeouts is not None:
        lookup.timeouts = dict(timeouts)
    if sleep is not None:
        lookup.sleep = sleep  # type: ignore[assignment]
    return lookup


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
