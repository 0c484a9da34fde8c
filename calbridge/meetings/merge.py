"""One person's events from several calendars -> one list of meetings: a pure function.

An event and its mirror are one meeting. A mirror is recognised by its stamp (calbridge's own
mark on every copy it writes: pair id and source event id, see `calbridge.translate.stamps`),
written by one of the pairs the calendars belong to: it joins the event it copies when that
event was read too (by id, or for an occurrence of a series by the series id and the start).
A mirror whose original lies on a calendar not read (or outside the window) stands for its
meeting. Events that are not mirrors but match exactly (same start, end and title on two
calendars: an invitation accepted on both suites) are also shown once.

Privacy: a private or confidential event, or one on a calendar the person reaches across a
busy-only pair, shows "Busy" and its times only: no title, location, organiser or join URL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time

from calbridge.events import Provider
from calbridge.meetings.join import join_url_of
from calbridge.meetings.types import BUSY_TITLE, CalendarRead, Meeting, PersonCalendar
from calbridge.model import AllDay, Event, Sensitivity
from calbridge.pairs.policy import Detail
from calbridge.providers.base import Fetched

__all__ = ["meeting_of", "merge_meetings"]

_SECRET = frozenset({Sensitivity.PRIVATE, Sensitivity.CONFIDENTIAL})


@dataclass(frozen=True, slots=True)
class _Read:
    calendar: PersonCalendar
    fetched: Fetched

    @property
    def event(self) -> Event:
        return self.fetched.event


def _instant(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.combine(value, time(0), UTC)


def meeting_of(read: CalendarRead | PersonCalendar, fetched: Fetched) -> Meeting:
    """One event as a meeting of the list, with what privacy allows of it."""
    calendar = read.calendar if isinstance(read, CalendarRead) else read
    event = fetched.event
    span = event.span
    private = event.sensitivity in _SECRET or calendar.detail is Detail.BUSY
    return Meeting(
        title=BUSY_TITLE if private else (event.title or "(no title)"),
        start=span.start,
        end=span.end,
        all_day=isinstance(span, AllDay),
        provider=calendar.provider,
        event_id=event.id,
        organizer=None if private or event.organizer is None else event.organizer.address,
        location=None if private else (event.location or None),
        join_url=None if private else join_url_of(event),
        private=private,
    )


def merge_meetings(reads: Iterable[CalendarRead]) -> list[Meeting]:
    """Every meeting once, sorted by start (then end, then title)."""
    events = [
        _Read(read.calendar, fetched)
        for read in reads
        for fetched in read.events
        if not fetched.event.cancelled
    ]
    pairs: frozenset[str] = frozenset().union(*(r.calendar.pairs for r in events))
    by_id: dict[str, int] = {}
    by_occurrence: dict[tuple[str, datetime], int] = {}
    for index, read in enumerate(events):
        if read.fetched.stamp is not None and read.fetched.stamp.pair_id in pairs:
            continue  # a mirror is never the original of another mirror
        by_id.setdefault(read.event.id, index)
        if read.event.instance_of is not None:
            occurrence = (read.event.instance_of.master_id, _instant(read.event.span.start))
            by_occurrence.setdefault(occurrence, index)
    mirrors_of: dict[int, list[int]] = {}
    standalone: list[int] = []
    for index, read in enumerate(events):
        stamp = read.fetched.stamp
        original = None
        if stamp is not None and stamp.pair_id in pairs:
            original = by_occurrence.get((stamp.source_id, _instant(read.event.span.start)))
            if original is None:
                original = by_id.get(stamp.source_id)
        if original is None or original == index:
            standalone.append(index)
        else:
            mirrors_of.setdefault(original, []).append(index)
    meetings: list[Meeting] = []
    seen: dict[tuple[datetime, datetime, str], int] = {}
    for index in standalone:
        read = events[index]
        meeting = meeting_of(read.calendar, read.fetched)
        also = [events[m].calendar.provider for m in mirrors_of.get(index, [])]
        key = (_instant(meeting.start), _instant(meeting.end), read.event.title.strip().casefold())
        twin = seen.get(key)
        if twin is not None and meetings[twin].provider != meeting.provider:
            meetings[twin] = _joined(meetings[twin], meeting, also)
            continue
        seen.setdefault(key, len(meetings))
        meetings.append(replace(meeting, also_on=_unique(also)) if also else meeting)
    meetings.sort(key=lambda m: (_instant(m.start), _instant(m.end), m.title, m.event_id))
    return meetings


def _joined(kept: Meeting, other: Meeting, also: list[Provider]) -> Meeting:
    """Two copies of one invitation: the stricter privacy, the first join URL found."""
    providers = [*kept.also_on, other.provider, *also]
    if other.private and not kept.private:
        kept = replace(other, provider=kept.provider, event_id=kept.event_id)
    return replace(kept, join_url=kept.join_url or other.join_url, also_on=_unique(providers))


def _unique(providers: Iterable[Provider]) -> tuple[Provider, ...]:
    return tuple(dict.fromkeys(providers))
