"""Render stored items as t:CalendarItem elements in the shape a request asked for."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from lxml import etree

from sandbox.ews.items import attendees, extended_key, format_dt
from sandbox.ews.occurrences import Occurrence, all_starts, far_future, occurrence_id, occurrences
from sandbox.ews.schema_order import schema_position
from sandbox.ews.soap import t
from sandbox.ews.state import Folder, StoredItem

__all__ = ["Shape", "render"]


def _element(name: str, text: str | None = None, **attrs: str) -> etree._Element:
    elem = etree.Element(t(name), **attrs)
    if text is not None:
        elem.text = text
    return elem


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
        occs = {o.index: o for o in occurrences(item, far_future(item))}
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
            starts = all_starts(item)
            for index in sorted(item.deleted_occurrences):
                if index <= len(starts):
                    entry = etree.SubElement(deleted, t("DeletedOccurrence"))
                    entry.append(_element("Start", format_dt(starts[index - 1])))
            values["DeletedOccurrences"] = deleted
    return values


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
    chosen = [(name, value) for name, value in {**fields, **computed}.items() if shape.wants(name)]
    chosen += [("ExtendedProperty", prop) for key, prop in item.extended.items() if key in shape.extended]
    chosen += [("ExtendedProperty", prop) for prop in _appointment_times(fields, shape)]
    # The schema fixes the order of a CalendarItem's children; stricter clients reject any other.
    for _, value in sorted(chosen, key=lambda pair: schema_position(pair[0])):
        elem.append(copy.deepcopy(value))
    return elem


# MAPI's own copies of an appointment's start and end (PSETID_Appointment PidLidAppointmentStartWhole
# 0x820D and PidLidAppointmentEndWhole 0x820E, PT_SYSTIME, always UTC). Exchange keeps them in step
# with Start and End and answers them to any client that names them as extended properties
# ([MS-OXOCAL] 2.2.1.5, 2.2.1.6); they are the instants as stored, before any client's conversion.
_APPOINTMENT_TIMES = {
    ("appointment", "33293", "SystemTime"): "Start",  # 0x820D
    ("appointment", "33294", "SystemTime"): "End",  # 0x820E
}


def _appointment_times(fields: dict[str, etree._Element], shape: Shape) -> list[etree._Element]:
    out = []
    for key, name in _APPOINTMENT_TIMES.items():
        value = fields.get(name)
        if key not in shape.extended or value is None or not value.text:
            continue
        prop = etree.Element(t("ExtendedProperty"))
        _, prop_id, prop_type = key
        prop.append(_element("ExtendedFieldURI", DistinguishedPropertySetId="Appointment", PropertyId=prop_id,
                             PropertyType=prop_type))  # fmt: skip
        etree.SubElement(prop, t("Value")).text = value.text
        out.append(prop)
    return out
