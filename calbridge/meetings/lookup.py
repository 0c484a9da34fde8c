"""Answer one person's meetings over a window, and people's out-of-office state: cache first,
then every calendar of theirs concurrently, each provider within its own deadline.

The pieces are free/busy's: the per-address cache with single flight (`ResultCache`), the
directory that routes an address to a connection, the per-provider timeouts and the guarded
call (`guarded_call`: one Retry-After honoured, every failure an `AddressError`). A calendar
that cannot be read leaves the list partial (its provider is named in `unavailable`); only when
none can be read does the person get an error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from calbridge.clock import Sleep
from calbridge.events import Provider
from calbridge.freebusy.cache import CacheKey, ResultCache
from calbridge.freebusy.orchestrate import default_timeouts, guarded_call
from calbridge.freebusy.resolve import Directory, resolve
from calbridge.freebusy.types import AddressError, ErrorCode, Window
from calbridge.meetings.calendars import PairSides, calendars_of
from calbridge.meetings.merge import merge_meetings
from calbridge.meetings.oof import combine
from calbridge.meetings.source import MeetingSource
from calbridge.meetings.types import CalendarRead, Oof, PersonCalendar, PersonMeetings
from calbridge.providers.base import CalendarAddress
from calbridge.providers.registry import profile_for

__all__ = ["MeetingLookup", "MeetingOutcome", "OofOutcome"]

MeetingOutcome = PersonMeetings | AddressError
OofOutcome = Oof | AddressError
_OOF_KEY_TIME = datetime(1970, 1, 1, tzinfo=UTC)  # out-of-office answers are about now, not a window


def _log() -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger("calbridge.meetings")  # type: ignore[no-any-return]


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def _no_pairs() -> list[PairSides]:
    return []


@dataclass
class MeetingLookup:
    """Everything a meeting list needs; the HTTP app and the CLI share one."""

    sources: Mapping[str, MeetingSource]  # connection name -> source
    directory: Callable[[], Awaitable[Directory]]
    cache: ResultCache[MeetingOutcome]
    oof_cache: ResultCache[OofOutcome]
    pairs: Callable[[], Awaitable[list[PairSides]]] = _no_pairs
    timeouts: Mapping[Provider, float] = field(default_factory=lambda: default_timeouts())
    now: Callable[[], datetime] = _utc_now
    sleep: Sleep = asyncio.sleep

    async def answer(self, address: str, window: Window) -> MeetingOutcome:
        key = CacheKey(address, window.start.astimezone(UTC), window.end.astimezone(UTC), str(window.zone))
        claim = self.cache.claim([key])
        if claim.hits:
            return claim.hits[key]
        if claim.waiting:
            return await asyncio.shield(claim.waiting[key])
        outcome: MeetingOutcome = AddressError(ErrorCode.PROVIDER_FAILED, "the lookup was interrupted")
        try:
            outcome = await self._fetch(address, window)
        finally:
            self.cache.settle(key, outcome)
        return outcome

    async def oof_of(self, addresses: Sequence[str]) -> dict[str, OofOutcome]:
        """Each address's out-of-office state (cached like the meeting list)."""
        keys = [CacheKey(address, _OOF_KEY_TIME, _OOF_KEY_TIME, "oof") for address in addresses]
        claim = self.oof_cache.claim(keys)
        fresh: dict[str, OofOutcome] = {}
        try:
            if claim.owned:
                owned = [key.address for key in claim.owned]
                answers = await asyncio.gather(*(self._oof_alone(address) for address in owned))
                fresh = dict(zip(owned, answers, strict=True))
        finally:
            for key in claim.owned:
                failed = AddressError(ErrorCode.PROVIDER_FAILED, "the lookup was interrupted")
                self.oof_cache.settle(key, fresh.get(key.address) or failed)
        waited = {key.address: await asyncio.shield(future) for key, future in claim.waiting.items()}
        known = {key.address: outcome for key, outcome in claim.hits.items()} | waited | fresh
        return {address: known[address] for address in addresses}

    async def _calendars(self, address: str) -> list[PersonCalendar] | AddressError:
        try:
            found = calendars_of(address, await self.pairs())
        except Exception as exc:  # the store is away: fall back to the directory
            _log().warning("meetings_pairs_unavailable", error_type=type(exc).__name__)
            found = []
        if found:
            return found
        try:
            directory = await self.directory()
        except Exception as exc:
            _log().error("meetings_directory_unavailable", error_type=type(exc).__name__)
            return AddressError(ErrorCode.PROVIDER_FAILED, "the address directory is unavailable")
        routing = resolve([address], directory)
        for name in routing.routes:
            source = self.sources.get(name)
            if source is None:
                return AddressError(ErrorCode.PROVIDER_FAILED, f"connection {name!r} is not available")
            return [PersonCalendar(name, source.provider, CalendarAddress(address, "primary"))]
        return AddressError(ErrorCode.UNKNOWN_ADDRESS, "no connection serves this address")

    async def _fetch(self, address: str, window: Window) -> MeetingOutcome:
        calendars = await self._calendars(address)
        if isinstance(calendars, AddressError):
            return calendars
        reads = asyncio.gather(*(self._read(calendar, window) for calendar in calendars))
        read_answers, oof_answers = await asyncio.gather(reads, self.oof_of([address]))
        good = [answer for answer in read_answers if isinstance(answer, CalendarRead)]
        failed = [
            (calendar, answer)
            for calendar, answer in zip(calendars, read_answers, strict=True)
            if isinstance(answer, AddressError)
        ]
        if not good and failed:
            return failed[0][1]
        oof = oof_answers.get(address)
        return PersonMeetings(
            meetings=tuple(merge_meetings(good)),
            oof=oof if isinstance(oof, Oof) else None,
            unavailable=tuple(dict.fromkeys(calendar.provider for calendar, _ in failed)),
        )

    async def _oof_alone(self, address: str) -> OofOutcome:
        calendars = await self._calendars(address)
        if isinstance(calendars, AddressError):
            return calendars
        own = {c.connection: c for c in calendars if c.address.owner == address}
        now = self.now()
        answers = await asyncio.gather(*(self._oof(calendar, now) for calendar in own.values()))
        states = [answer for answer in answers if isinstance(answer, Oof)]
        if states:
            return combine(states)
        errors = [answer for answer in answers if isinstance(answer, AddressError)]
        return errors[0] if errors else AddressError(ErrorCode.UNKNOWN_ADDRESS, "no calendar of this person")

    def _deadline(self, provider: Provider) -> tuple[float, float]:
        budget = self.timeouts.get(provider, profile_for(provider).freebusy_timeout)
        return asyncio.get_running_loop().time() + budget, budget

    async def _read(self, calendar: PersonCalendar, window: Window) -> CalendarRead | AddressError:
        source = self.sources.get(calendar.connection)
        if source is None:
            return AddressError(
                ErrorCode.PROVIDER_FAILED, f"connection {calendar.connection!r} is not available"
            )
        deadline, budget = self._deadline(source.provider)
        answer = await guarded_call(
            str(source.provider),
            lambda: source.events(calendar.address, window.start, window.end),
            deadline=deadline,
            budget=budget,
            sleep=self.sleep,
        )
        if isinstance(answer, AddressError):
            return answer
        return CalendarRead(calendar, tuple(answer))

    async def _oof(self, calendar: PersonCalendar, now: datetime) -> OofOutcome:
        source = self.sources.get(calendar.connection)
        if source is None:
            return AddressError(
                ErrorCode.PROVIDER_FAILED, f"connection {calendar.connection!r} is not available"
            )
        deadline, budget = self._deadline(source.provider)
        return await guarded_call(
            str(source.provider),
            lambda: source.oof(calendar.address.owner, now),
            deadline=deadline,
            budget=budget,
            sleep=self.sleep,
        )
