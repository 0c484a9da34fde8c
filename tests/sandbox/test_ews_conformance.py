"""The EWS emulator's element order, checked against a reference this project did not write.

Microsoft's `types.xsd`/`messages.xsd` are not shipped by any package available offline (the
EWS client packages fetch them from the server, or ship only `xml.xsd`). exchangelib, however,
declares every element it reads and writes in the schema's sequence order, because Exchange
rejects a request whose elements are out of order: its `FIELDS` lists are the ordering
reference here. Extended properties sit where exchangelib inserts them (after
`has_attachments`, its `INSERT_AFTER_FIELD`). One known divergence: exchangelib declares
`TextBody` next to `Body`, while the 2013+ schema puts it among the late item fields; the
emulator never renders `TextBody`, so it is left out of the comparison.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from ews_support import NS, children, ews_soap
from exchangelib import CalendarItem, EWSDateTime, EWSTimeZone, ExtendedProperty
from exchangelib.items import Item
from exchangelib.properties import Attendee, CalendarEvent, CalendarEventDetails, Mailbox
from exchangelib.recurrence import DailyPattern, Recurrence
from lxml import etree

from sandbox.ews.occurrences import far_future, occurrences
from sandbox.ews.render import Shape, render
from sandbox.ews.schema_order import CALENDAR_ITEM_ORDER
from sandbox.ews.testing import RunningEws, basic_account, sample_world, serve_in_thread

pytestmark = pytest.mark.integration
UTC = EWSTimeZone("UTC")


class Note(ExtendedProperty):  # type: ignore[misc]
    property_set_id = "c11ff724-aa03-4555-9952-8fa248a11c3e"
    property_name = "calbridgeNote"
    property_type = "String"


def _reference_order() -> list[str]:
    """CalendarItem's element names in exchangelib's declared order, extended properties placed."""
    names: list[str] = []
    for field in CalendarItem.FIELDS:
        uri = getattr(field, "field_uri", None)
        if not uri or ":" not in uri:
            continue
        name = uri.split(":", 1)[1]
        if name != "TextBody":
            names.append(name)
        if field.name == Item.INSERT_AFTER_FIELD:
            names.append("ExtendedProperty")
    return names


def _in_order(names: list[str], reference: list[str]) -> bool:
    positions = [reference.index(n) for n in names if n in reference]
    return positions == sorted(positions)


@pytest.fixture
def ews() -> Iterator[RunningEws]:
    CalendarItem.register("note", Note)
    try:
        with serve_in_thread(sample_world()) as running:
            yield running
    finally:
        CalendarItem.deregister("note")


def test_given_exchangelibs_field_order_when_compared_then_the_emulators_schema_order_agrees() -> None:
    reference = _reference_order()
    shared = [n for n in CALENDAR_ITEM_ORDER if n in reference]

    assert len(shared) >= 60  # the comparison covers the item and calendar fields, not a handful
    assert _in_order(list(CALENDAR_ITEM_ORDER), reference)
    assert not _in_order(["UID", "ParentFolderId"], reference)  # the check can fail


def test_given_items_written_in_any_order_when_rendered_then_children_follow_the_reference_order(
    ews: RunningEws,
) -> None:
    acc: Any = basic_account(ews)
    start = EWSDateTime(2026, 5, 4, 9, tzinfo=UTC)
    series = CalendarItem(
        account=acc,
        folder=acc.calendar,
        subject="Weekly",
        body="Agenda",
        location="Room 1",
        start=start,
        end=start + (EWSDateTime(2026, 5, 4, 10, tzinfo=UTC) - start),
        required_attendees=[Attendee(mailbox=Mailbox(email_address="bob@example.com"))],
        recurrence=Recurrence(pattern=DailyPattern(interval=1), start=start.date(), number=4),
        note="kept",
    )
    series.save(send_meeting_invitations="SendToNone")
    occurrence = next(iter(acc.calendar.view(start=start, end=EWSDateTime(2026, 5, 5, 23, tzinfo=UTC))))
    occurrence.subject = "Moved"
    occurrence.save(update_fields=["subject"], send_meeting_invitations="SendToNone")
    series.categories, series.sensitivity = ["Blue"], "Private"  # set after the rest: appended last
    series.save(update_fields=["categories", "sensitivity"], send_meeting_invitations="SendToNone")

    def rendered() -> list[list[str]]:
        mailbox = ews.world.mailboxes["alice@example.com"]
        folder = mailbox.calendar
        item = next(iter(folder.items.values()))
        shape = Shape(all_properties=True, extended={next(iter(item.extended))})
        elements = [render(item, folder, shape, mailbox.display_name)]
        elements += [
            render(item, folder, shape, mailbox.display_name, occ)
            for occ in occurrences(item, far_future(item))
        ][:2]
        return [[etree.QName(c).localname for c in e] for e in elements]

    reference = _reference_order()
    for names in ews.in_loop(rendered):
        assert names[:2] == ["ItemId", "ParentFolderId"]
        assert {"Categories", "Sensitivity", "ExtendedProperty", "Recurrence", "Organizer"} & set(names)
        assert _in_order(names, reference), names


AVAILABILITY = """<m:GetUserAvailabilityRequest>
  <t:TimeZone><t:Bias>0</t:Bias></t:TimeZone>
  <m:MailboxDataArray><t:MailboxData><t:Email><t:Address>alice@example.com</t:Address></t:Email>
    <t:AttendeeType>Organizer</t:AttendeeType><t:ExcludeConflicts>false</t:ExcludeConflicts>
  </t:MailboxData></m:MailboxDataArray>
  <t:FreeBusyViewOptions><t:TimeWindow><t:StartTime>2026-05-04T00:00:00</t:StartTime>
    <t:EndTime>2026-05-05T00:00:00</t:EndTime></t:TimeWindow>
    <t:MergedFreeBusyIntervalInMinutes>30</t:MergedFreeBusyIntervalInMinutes>
    <t:RequestedView>Detailed</t:RequestedView></t:FreeBusyViewOptions>
</m:GetUserAvailabilityRequest>"""


def test_given_calendar_event_details_when_answered_then_they_follow_exchangelibs_declared_order(
    ews: RunningEws,
) -> None:
    acc: Any = basic_account(ews)
    CalendarItem(
        account=acc,
        folder=acc.calendar,
        subject="Plan",
        start=EWSDateTime(2026, 5, 4, 9, tzinfo=UTC),
        end=EWSDateTime(2026, 5, 4, 10, tzinfo=UTC),
    ).save(send_meeting_invitations="SendToNone")

    event = ews_soap(ews, AVAILABILITY).find(".//t:CalendarEventArray/t:CalendarEvent", NS)

    assert event is not None
    assert children(event) == [f.field_uri for f in CalendarEvent.FIELDS[:3]] + ["CalendarEventDetails"]
    details = event.find("t:CalendarEventDetails", NS)
    assert details is not None
    assert children(details) == [f.field_uri for f in CalendarEventDetails.FIELDS]
    assert details.findtext("t:Subject", namespaces=NS) == "Plan"
