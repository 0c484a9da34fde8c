"""Act as a person in Outlook: create, edit, move and delete calendar items without the API.
The same world changes follow (change log, streaming events), but no invitations are counted."""

from __future__ import annotations

from typing import Any

from lxml import etree

from sandbox.ews import items as model
from sandbox.ews.operations.items import move
from sandbox.ews.soap import t
from sandbox.ews.state import EwsWorld, Mailbox, StoredItem

__all__ = ["create", "delete", "describe", "edit", "fields_from_json", "relocate"]


class UnknownItem(LookupError):
    """No such item in that mailbox."""


def _text(name: str, value: str, **attrs: str) -> etree._Element:
    elem = etree.Element(t(name), **attrs)
    elem.text = value
    return elem


def fields_from_json(data: dict[str, Any]) -> etree._Element:
    """A t:CalendarItem holding the given person-level fields."""
    item = etree.Element(t("CalendarItem"))
    if "subject" in data:
        item.append(_text("Subject", str(data["subject"])))
    if "body" in data:
        item.append(_text("Body", str(data["body"]), BodyType="Text"))
    if "sensitivity" in data:
        item.append(_text("Sensitivity", str(data["sensitivity"])))
    if "start" in data:
        item.append(_text("Start", model.format_dt(model.parse_dt(str(data["start"])))))
    if "end" in data:
        item.append(_text("End", model.format_dt(model.parse_dt(str(data["end"])))))
    if "is_all_day" in data:
        item.append(_text("IsAllDayEvent", "true" if data["is_all_day"] else "false"))
    if "free_busy" in data:
        item.append(_text("LegacyFreeBusyStatus", str(data["free_busy"])))
    if "location" in data:
        item.append(_text("Location", str(data["location"])))
    if "attendees" in data:
        holder = etree.SubElement(item, t("RequiredAttendees"))
        for address in data["attendees"]:
            mailbox = etree.SubElement(etree.SubElement(holder, t("Attendee")), t("Mailbox"))
            etree.SubElement(mailbox, t("EmailAddress")).text = str(address)
    if "time_zone" in data:
        item.append(etree.Element(t("StartTimeZone"), Id=str(data["time_zone"])))
        item.append(etree.Element(t("EndTimeZone"), Id=str(data["time_zone"])))
    return item


def _find(mailbox: Mailbox, item_id: str) -> tuple[Any, StoredItem]:
    for folder in mailbox.folders.values():
        if item_id in folder.items:
            return folder, folder.items[item_id]
    raise UnknownItem(item_id)


def create(world: EwsWorld, mailbox: Mailbox, data: dict[str, Any]) -> StoredItem:
    folder = mailbox.calendar
    item = model.new_item(world, folder, fields_from_json(data))
    folder.items[item.id] = item
    world.record(folder, item, "create")
    return item


def edit(world: EwsWorld, mailbox: Mailbox, item_id: str, data: dict[str, Any]) -> StoredItem:
    folder, item = _find(mailbox, item_id)
    source = fields_from_json(data)
    for child in source:
        item.fields[etree.QName(child).localname] = child
    item.changekey = world.new_changekey()
    item.modified = world.clock.now()
    world.record(folder, item, "update")
    return item


def relocate(world: EwsWorld, mailbox: Mailbox, item_id: str, target: str) -> StoredItem:
    folder, item = _find(mailbox, item_id)
    return move(world, folder, mailbox.folders[target], item)


def delete(world: EwsWorld, mailbox: Mailbox, item_id: str) -> None:
    folder, item = _find(mailbox, item_id)
    del folder.items[item.id]
    world.record(folder, item, "delete")


def delete_occurrence(world: EwsWorld, mailbox: Mailbox, item_id: str, index: int) -> StoredItem:
    """The owner deletes one occurrence (1-based, as an OccurrenceItemId counts): Exchange keeps
    it in the master's DeletedOccurrences and changes the master."""
    folder, item = _find(mailbox, item_id)
    if "Recurrence" not in item.fields:
        raise UnknownItem(item_id)
    item.deleted_occurrences.add(index)
    item.exceptions.pop(index, None)
    item.changekey = world.new_changekey()
    item.modified = world.clock.now()
    world.record(folder, item, "update")
    return item


def describe(item: StoredItem) -> dict[str, Any]:
    start, end = model.span(item.fields)
    return {
        "id": item.id,
        "changekey": item.changekey,
        "subject": item.text("Subject"),
        "body": item.text("Body"),
        "start": model.format_dt(start) if start else None,
        "end": model.format_dt(end) if end else None,
        "is_all_day": item.text("IsAllDayEvent") == "true",
        "location": item.text("Location"),
        "free_busy": item.text("LegacyFreeBusyStatus"),
        "sensitivity": item.text("Sensitivity"),
        "attendees": sorted(model.attendees(item.fields)),
        "recurring": "Recurrence" in item.fields,
        "modified_occurrences": sorted(item.exceptions),
        "deleted_occurrences": sorted(item.deleted_occurrences),
        "extended_properties": {
            "|".join(key): prop.findtext(t("Value")) for key, prop in item.extended.items()
        },
    }
