"""Calendar items: build them from request XML and change them field by field."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from lxml import etree

from sandbox.ews.soap import t
from sandbox.ews.state import EwsWorld, Folder, StoredItem

__all__ = [
    "apply_delete",
    "apply_set",
    "attendees",
    "extended_key",
    "format_dt",
    "new_item",
    "parse_dt",
    "span",
]

ATTENDEE_FIELDS = ("RequiredAttendees", "OptionalAttendees", "Resources")
# Fields the server owns: a client's value for them is ignored.
COMPUTED = {
    "ItemId",
    "ParentFolderId",
    "DateTimeCreated",
    "LastModifiedTime",
    "UID",
    "IsRecurring",
    "CalendarItemType",
    "ModifiedOccurrences",
    "DeletedOccurrences",
    "ItemClass",
    "Organizer",
    "MyResponseType",
    "IsMeeting",
    "IsCancelled",
    "OriginalStart",
}
# exchangelib writes booleans as 1/0; Exchange answers true/false, which is all exchangelib parses back.
BOOLEANS = {
    "IsAllDayEvent",
    "ReminderIsSet",
    "IsResponseRequested",
    "AllowNewTimeProposal",
    "IsOnlineMeeting",
    "IsDraft",
    "IsRead",
    "HasAttachments",
    "IsAssociated",
    "IsSubmitted",
    "IsFromMe",
    "IsResend",
}


def parse_dt(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_dt(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def extended_key(uri: etree._Element) -> tuple[str, str, str]:
    set_id = uri.get("PropertySetId") or uri.get("DistinguishedPropertySetId") or ""
    name = uri.get("PropertyName") or uri.get("PropertyId") or uri.get("PropertyTag") or ""
    return (set_id.lower(), name, uri.get("PropertyType") or "")


def _normalize(child: etree._Element) -> etree._Element:
    elem = copy.deepcopy(child)
    name = etree.QName(elem).localname
    if name in ("Start", "End") and elem.text:
        elem.text = format_dt(parse_dt(elem.text))
    elif name in BOOLEANS and elem.text in ("0", "1"):
        elem.text = "true" if elem.text == "1" else "false"
    return elem


def _store_fields(
    target: dict[str, etree._Element],
    extended: dict[tuple[str, str, str], etree._Element],
    source: etree._Element,
) -> None:
    for child in source:
        if not isinstance(child.tag, str):
            continue
        name = etree.QName(child).localname
        if name == "ExtendedProperty":
            uri = child.find(t("ExtendedFieldURI"))
            if uri is not None:
                extended[extended_key(uri)] = copy.deepcopy(child)
        elif name not in COMPUTED:
            target[name] = _normalize(child)


def new_item(world: EwsWorld, folder: Folder, source: etree._Element) -> StoredItem:
    now = world.clock.now()
    uid_elem = source.find(t("UID"))
    item = StoredItem(
        id=world.new_item_id(folder.mailbox),
        changekey=world.new_changekey(),
        folder_id=folder.id,
        uid=uid_elem.text if uid_elem is not None and uid_elem.text else world.new_uid(now),
        created=now,
        modified=now,
    )
    _store_fields(item.fields, item.extended, source)
    return item


def apply_set(item: StoredItem, uri: etree._Element, value_holder: etree._Element, index: int | None) -> None:
    """SetItemField: `value_holder` is the t:CalendarItem carrying the new value."""
    if etree.QName(uri).localname == "ExtendedFieldURI":
        _store_fields({}, item.extended, value_holder)
        return
    target = item.fields if index is None else item.exceptions.setdefault(index, {})
    _store_fields(target, {}, value_holder)


def apply_delete(item: StoredItem, uri: etree._Element, index: int | None) -> None:
    if etree.QName(uri).localname == "ExtendedFieldURI":
        item.extended.pop(extended_key(uri), None)
        return
    name = (uri.get("FieldURI") or "").split(":")[-1]
    # On an occurrence, dropping a field drops its override: the master's value shows again.
    target = item.fields if index is None else item.exceptions.get(index, {})
    target.pop(name, None)


def attendees(fields: dict[str, etree._Element]) -> set[str]:
    found: set[str] = set()
    for name in ATTENDEE_FIELDS:
        holder = fields.get(name)
        if holder is None:
            continue
        for address in holder.iter(t("EmailAddress")):
            if address.text:
                found.add(address.text.strip().lower())
    return found


def span(fields: dict[str, etree._Element]) -> tuple[datetime | None, datetime | None]:
    start, end = fields.get("Start"), fields.get("End")
    return (
        parse_dt(start.text) if start is not None and start.text else None,
        parse_dt(end.text) if end is not None and end.text else None,
    )
