"""Calendar items: build them from request XML, change them field by field, render them in a shape."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from lxml import etree

from sandbox.ews.recurrence import expand, zone_for
from sandbox.ews.soap import t
from sandbox.ews.state import EwsWorld, Folder, StoredItem

__all__ = [
    "Occurrence",
    "Shape",
    "apply_delete",
    "apply_set",
    "attendees",
    "extended_key",
    "format_dt",
    "new_item",
    "occurrence_id",
    "occurrences",
    "parse_dt",
    "parse_occurrence_id",
    "render",
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
_OCC = "OCC."
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


def _element(name: str, text: str | None = None, **attrs: str) -> etree._Element:
    elem = etree.Element(t(name), **attrs)
    if text is not None:
        elem.text = text
    return elem


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
        id=world.new_id(),
        changekey=world.new_changekey(),
        folder_id=folder.id,
        uid=uid_elem.text if uid_elem is not None and uid_elem.text else world.new_id("040000008200E000"),
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


# --- recurrences ------------------------------------------------------------------------------------


def occurrence_id(master_id: str, index: int) -> str:
    return f"{_OCC}{index}.{master_id}"


def parse_occurrence_id(item_id: str) -> tuple[str, int] | None:
    if not item_id.startswith(_OCC):
        return None
    index, _, master = item_id[len(_OCC) :].partition(".")
    return (master, int(index)) if index.isdigit() and master else None


@dataclass(frozen=True)
class Occurrence:
    index: int
    original_start: datetime
    start: datetime
    end: datetime
    modified: bool


def occurrences(item: StoredItem, until: datetime) -> list[Occurrence]:
    """The master's occurrences up to `until`, deleted ones left out and modified ones moved."""
    recurrence = item.fields.get("Recurrence")
    start, end = span(item.fields)
    if recurrence is None or start is None or end is None:
        return []
    zone_elem = item.fields.get("StartTimeZone")
    zone = zone_for(zone_elem.get("Id") if zone_elem is not None else None)
    found: list[Occurrence] = []
    for index, occ_start in enumerate(expand(recurrence, start, zone, until), start=1):
        if index in item.deleted_occurrences:
            continue
        override = item.exceptions.get(index, {})
        o_start, o_end = span(override)
        found.append(
            Occurrence(
                index, occ_start, o_start or occ_start, o_end or occ_start + (end - start), bool(override)
            )
        )
    return found


def find_occurrence(item: StoredItem, index: int) -> Occurrence | None:
    start, _ = span(item.fields)
    if start is None:
        return None
    horizon = start + timedelta(days=3660)
    for occ in occurrences(item, horizon):
        if occ.index == index:
            return occ
        if occ.index > index:
            break
    return None


# --- rendering --------------------------------------------------------------------------------------


@dataclass
class Shape:
    """What a request asked to get back: all properties, or named fields and extended properties."""

    all_properties: bool = False
    names: set[str] = field(default_factory=set)
    extended: set[tuple[str, str, str]] = field(default_factory=set)

    @classmethod
    def parse(cls, shape: etree._Element | None) -> Shape:
        if shape is None:
            return cls(all_properties=True)
        base = shape.findtext(t("BaseShape")) or "IdOnly"
        parsed = cls(all_properties=base.strip() in ("AllProperties", "Default"))
        extra = shape.find(t("AdditionalProperties"))
        if extra is not None:
            for uri in extra:
                local = etree.QName(uri).localname
                if local == "FieldURI":
                    parsed.names.add((uri.get("FieldURI") or "").split(":")[-1])
                elif local == "ExtendedFieldURI":
                    parsed.extended.add(extended_key(uri))
        return parsed

    def wants(self, name: str) -> bool:
        return self.all_properties or name in self.names


def _computed(item: StoredItem, folder: Folder, mailbox_name: str) -> dict[str, etree._Element]:
    is_recurring = "Recurrence" in item.fields
    values: dict[str, etree._Element] = {
        "ParentFolderId": _element("ParentFolderId", Id=folder.id, ChangeKey=folder.changekey),
        "ItemClass": _element("ItemClass", "IPM.Appointment"),
        "DateTimeCreated": _element("DateTimeCreated", format_dt(item.created)),
        "LastModifiedTime": _element("LastModifiedTime", format_dt(item.modified)),
        "UID": _element("UID", item.uid),
        "IsRecurring": _element("IsRecurring", "false"),
        "CalendarItemType": _element("CalendarItemType", "RecurringMaster" if is_recurring else "Single"),
        "IsMeeting": _element("IsMeeting", "true" if attendees(item.fields) else "false"),
        "IsCancelled": _element("IsCancelled", "false"),
        "MyResponseType": _element("MyResponseType", "Organizer"),
    }
    organizer = _element("Organizer")
    mailbox = etree.SubElement(organizer, t("Mailbox"))
    etree.SubElement(mailbox, t("Name")).text = mailbox_name
    etree.SubElement(mailbox, t("EmailAddress")).text = folder.mailbox
    etree.SubElement(mailbox, t("RoutingType")).text = "SMTP"
    values["Organizer"] = organizer
    if is_recurring and (item.exceptions or item.deleted_occurrences):
        occs = {o.index: o for o in occurrences(item, _far_future(item))}
        if item.exceptions:
            modified = _element("ModifiedOccurrences")
            for index in sorted(item.exceptions):
                occ = occs.get(index)
                if occ is None:
                    continue
                entry = etree.SubElement(modified, t("Occurrence"))
                entry.append(_element("ItemId", Id=occurrence_id(item.id, index), ChangeKey=item.changekey))
                entry.append(_element("Start", format_dt(occ.start)))
                entry.append(_element("End", format_dt(occ.end)))
                entry.append(_element("OriginalStart", format_dt(occ.original_start)))
            values["ModifiedOccurrences"] = modified
        if item.deleted_occurrences:
            deleted = _element("DeletedOccurrences")
            all_starts = _all_starts(item)
            for index in sorted(item.deleted_occurrences):
                if index <= len(all_starts):
                    entry = etree.SubElement(deleted, t("DeletedOccurrence"))
                    entry.append(_element("Start", format_dt(all_starts[index - 1])))
            values["DeletedOccurrences"] = deleted
    return values


def _far_future(item: StoredItem) -> datetime:
    start, _ = span(item.fields)
    return (start or datetime.now(UTC)) + timedelta(days=3660)


def _all_starts(item: StoredItem) -> list[datetime]:
    recurrence = item.fields["Recurrence"]
    start, _ = span(item.fields)
    zone_elem = item.fields.get("StartTimeZone")
    zone = zone_for(zone_elem.get("Id") if zone_elem is not None else None)
    assert start is not None
    return expand(recurrence, start, zone, _far_future(item))


def render(
    item: StoredItem, folder: Folder, shape: Shape, mailbox_name: str, occurrence: Occurrence | None = None
) -> etree._Element:
    """The t:CalendarItem for `item` (or one of its occurrences) holding what `shape` asks for."""
    elem = etree.Element(t("CalendarItem"))
    if occurrence is None:
        elem.append(_element("ItemId", Id=item.id, ChangeKey=item.changekey))
        fields = dict(item.fields)
        computed = _computed(item, folder, mailbox_name)
    else:
        elem.append(_element("ItemId", Id=occurrence_id(item.id, occurrence.index), ChangeKey=item.changekey))
        fields = {k: v for k, v in item.fields.items() if k != "Recurrence"}
        fields.update(item.exceptions.get(occurrence.index, {}))
        fields["Start"] = _element("Start", format_dt(occurrence.start))
        fields["End"] = _element("End", format_dt(occurrence.end))
        computed = _computed(item, folder, mailbox_name)
        computed["CalendarItemType"] = _element(
            "CalendarItemType", "Exception" if occurrence.modified else "Occurrence"
        )
        computed["IsRecurring"] = _element("IsRecurring", "true")
        computed["OriginalStart"] = _element("OriginalStart", format_dt(occurrence.original_start))
        computed.pop("ModifiedOccurrences", None)
        computed.pop("DeletedOccurrences", None)
    for name, value in {**fields, **computed}.items():
        if shape.wants(name):
            elem.append(copy.deepcopy(value))
    for key, prop in item.extended.items():
        if key in shape.extended:
            elem.append(copy.deepcopy(prop))
    return elem
