"""GetUserAvailability: free/busy (merged and detailed) for up to 100 mailboxes over a time window."""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from lxml import etree

from sandbox.ews import items as model
from sandbox.ews.occurrences import occurrences
from sandbox.ews.operations import Context, EwsFault
from sandbox.ews.soap import error_message, m, success_message, t

__all__ = ["get_user_availability", "utc_offset"]

MAX_MAILBOXES = 100
MAX_WINDOW = timedelta(days=42)
_BUSY_DIGIT = {"Free": "0", "Tentative": "1", "Busy": "2", "OOF": "3", "WorkingElsewhere": "4", "NoData": "5"}
_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _transition(rule: etree._Element, year: int) -> datetime:
    """The local time a StandardTime/DaylightTime rule fires in `year` (DayOrder 5 = last)."""
    month = int(rule.findtext(t("Month")) or "1")
    weekday = _WEEKDAYS.index(rule.findtext(t("DayOfWeek")) or "Sunday")
    order = int(rule.findtext(t("DayOrder")) or "1")
    hh, mm, *_ = (rule.findtext(t("Time")) or "00:00:00").split(":")
    first = date(year, month, 1)
    day = first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (order - 1))
    while day.month != month:
        day -= timedelta(days=7)
    return datetime(day.year, day.month, day.day, int(hh), int(mm))


def utc_offset(zone: etree._Element | None, instant: datetime) -> timedelta:
    """Offset (local - UTC) of a SOAP t:TimeZone at a UTC instant."""
    if zone is None:
        return timedelta(0)
    bias = int(zone.findtext(t("Bias")) or "0")
    std, dst = zone.find(t("StandardTime")), zone.find(t("DaylightTime"))
    if std is None or dst is None:
        return timedelta(minutes=-bias)
    std_bias, dst_bias = int(std.findtext(t("Bias")) or "0"), int(dst.findtext(t("Bias")) or "0")
    if std_bias == dst_bias:
        return timedelta(minutes=-(bias + std_bias))
    local = (instant - timedelta(minutes=bias + std_bias)).replace(tzinfo=None)
    to_dst, to_std = _transition(dst, local.year), _transition(std, local.year)
    in_dst = to_dst <= local < to_std if to_dst < to_std else not to_std <= local < to_dst
    return timedelta(minutes=-(bias + (dst_bias if in_dst else std_bias)))


def _local(zone: etree._Element | None, instant: datetime) -> str:
    return (instant + utc_offset(zone, instant)).replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%S")


def _parse_window_time(value: str, zone: etree._Element | None) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:  # naive times are in the request's time zone
        guess = parsed.replace(tzinfo=UTC)
        return guess - utc_offset(zone, guess)
    return parsed.astimezone(UTC)


@dataclass(frozen=True, order=True)
class Busy:
    """One calendar event as free/busy shows it, with the details a detailed view carries."""

    start: datetime
    end: datetime
    status: str
    subject: str = ""
    location: str = ""
    entry_id: str = ""
    meeting: bool = False
    recurring: bool = False
    exception: bool = False
    reminder: bool = True
    private: bool = False


def _entry_id(item_id: str) -> str:
    """The hex store entry id `CalendarEventDetails/ID` carries (the tail of the EWS id's blob)."""
    return "00000000" + base64.b64decode(item_id)[-70:].hex().upper()


def _busy_spans(ctx: Context, address: str, low: datetime, high: datetime) -> list[Busy]:
    mailbox = ctx.world.mailboxes[address]
    spans = []
    for item in mailbox.calendar.items.values():
        base = Busy(
            low,
            low,
            item.text("LegacyFreeBusyStatus") or "Busy",
            item.text("Subject") or "",
            item.text("Location") or "",
            _entry_id(item.id),
            meeting=bool(model.attendees(item.fields)),
            reminder=(item.text("ReminderIsSet") or "true") == "true",
            private=item.text("Sensitivity") in {"Private", "Confidential"},
        )
        if "Recurrence" in item.fields:
            for occ in occurrences(item, high):
                override = item.exceptions.get(occ.index, {})
                if occ.start < high and occ.end > low:
                    spans.append(
                        replace(
                            base,
                            start=occ.start,
                            end=occ.end,
                            status=_text(override, "LegacyFreeBusyStatus") or base.status,
                            subject=_text(override, "Subject") or base.subject,
                            location=_text(override, "Location") or base.location,
                            recurring=True,
                            exception=bool(override),
                        )
                    )
            continue
        start, end = model.span(item.fields)
        if start is not None and end is not None and start < high and end > low:
            spans.append(replace(base, start=start, end=end))
    return sorted(spans)


def _text(fields: dict[str, etree._Element], name: str) -> str | None:
    elem = fields.get(name)
    return None if elem is None or elem.text is None else elem.text


def _details(event: etree._Element, busy: Busy) -> None:
    """CalendarEventDetails in schema order: ID, Subject, Location, then the five flags."""
    details = etree.SubElement(event, t("CalendarEventDetails"))
    etree.SubElement(details, t("ID")).text = busy.entry_id
    etree.SubElement(details, t("Subject")).text = busy.subject
    etree.SubElement(details, t("Location")).text = busy.location
    flags = (
        ("IsMeeting", busy.meeting),
        ("IsRecurring", busy.recurring),
        ("IsException", busy.exception),
        ("IsReminderSet", busy.reminder),
        ("IsPrivate", busy.private),
    )
    for name, value in flags:
        etree.SubElement(details, t(name)).text = str(value).lower()


def _merged(spans: list[Busy], low: datetime, high: datetime, minutes: int) -> str:
    rank = {"Free": 0, "WorkingElsewhere": 1, "Tentative": 2, "Busy": 3, "OOF": 4}
    digits = []
    cursor = low
    while cursor < high:
        nxt = cursor + timedelta(minutes=minutes)
        busiest = "Free"
        for span in spans:
            if span.start < nxt and span.end > cursor and rank.get(span.status, 3) > rank[busiest]:
                busiest = span.status if span.status in rank else "Busy"
        digits.append(_BUSY_DIGIT[busiest])
        cursor = nxt
    return "".join(digits)


async def get_user_availability(ctx: Context, op: etree._Element) -> etree._Element:
    zone = op.find(t("TimeZone"))
    options = op.find(t("FreeBusyViewOptions"))
    holder = op.find(m("MailboxDataArray"))
    mailboxes = [] if holder is None else list(holder)
    if options is None or not 1 <= len(mailboxes) <= MAX_MAILBOXES:
        raise EwsFault("ErrorInvalidArgument", "MailboxDataArray must hold 1 to 100 mailboxes.")
    low = _parse_window_time(options.findtext(f"{t('TimeWindow')}/{t('StartTime')}") or "", zone)
    high = _parse_window_time(options.findtext(f"{t('TimeWindow')}/{t('EndTime')}") or "", zone)
    if high - low > MAX_WINDOW:
        raise EwsFault("ErrorInvalidTimeInterval", "The time window may not exceed 42 days.")
    interval = int(options.findtext(t("MergedFreeBusyIntervalInMinutes")) or "30")
    view = (options.findtext(t("RequestedView")) or "DetailedMerged").strip()
    result = etree.Element(m("GetUserAvailabilityResponse"), nsmap={"m": m("")[1:-1], "t": t("")[1:-1]})
    array = etree.SubElement(result, m("FreeBusyResponseArray"))
    for data in mailboxes:
        address = (data.findtext(f"{t('Email')}/{t('Address')}") or "").strip().lower()
        entry = etree.SubElement(array, m("FreeBusyResponse"))
        if address not in ctx.world.mailboxes:
            entry.append(
                error_message(
                    "", "ErrorMailRecipientNotFound", "No mailbox with such guid.", tag="ResponseMessage"
                )
            )
            continue
        entry.append(success_message("", tag="ResponseMessage"))
        spans = _busy_spans(ctx, address, low, high)
        fb = etree.SubElement(entry, m("FreeBusyView"))
        etree.SubElement(fb, t("FreeBusyViewType")).text = view
        if "Merged" in view:
            etree.SubElement(fb, t("MergedFreeBusy")).text = _merged(spans, low, high, interval)
        if view != "MergedOnly":
            events = etree.SubElement(fb, t("CalendarEventArray"))
            for span in spans:
                event = etree.SubElement(events, t("CalendarEvent"))
                etree.SubElement(event, t("StartTime")).text = _local(zone, span.start)
                etree.SubElement(event, t("EndTime")).text = _local(zone, span.end)
                etree.SubElement(event, t("BusyType")).text = span.status
                if view.startswith("Detailed"):
                    _details(event, span)
    return result
