"""The mirror marks on EWS items: the stamp (pair id, source event id, pairing key) and the
facts, as String extended properties (MAPI named properties) registered on exchangelib's
CalendarItem.

They use the SAME property set and names as the Graph adapter (`stamps.GRAPH_PROPERTY_SET`,
calbridgePair / calbridgeSource / calbridgePairing / calbridgeFacts): Graph's
`String {guid} Name calbridgePair` is this very property, so a mailbox moved from Exchange
on-premises to Exchange Online keeps its mirrors recognisable. The names are fixed forever:
changing them orphans every mirror.
"""

from __future__ import annotations

import threading
from typing import Any

import orjson
from exchangelib import CalendarItem, ExtendedProperty

from calbridge.translate import stamps

__all__ = [
    "FACTS_FIELD",
    "MARK_FIELDS",
    "PAIRING_FIELD",
    "PAIR_FIELD",
    "SOURCE_FIELD",
    "STORED_END_FIELD",
    "read_facts",
    "register_marks",
]

# Attribute names on CalendarItem (exchangelib field names; `only_fields` and `filter()` use them).
PAIR_FIELD = "calbridge_pair"
SOURCE_FIELD = "calbridge_source"
PAIRING_FIELD = "calbridge_pairing"
FACTS_FIELD = "calbridge_facts"


class CalbridgePair(ExtendedProperty):  # type: ignore[misc]
    property_set_id = stamps.GRAPH_PROPERTY_SET.lower()
    property_name = "calbridgePair"
    property_type = "String"


class CalbridgeSource(ExtendedProperty):  # type: ignore[misc]
    property_set_id = stamps.GRAPH_PROPERTY_SET.lower()
    property_name = "calbridgeSource"
    property_type = "String"


class CalbridgePairing(ExtendedProperty):  # type: ignore[misc]
    property_set_id = stamps.GRAPH_PROPERTY_SET.lower()
    property_name = "calbridgePairing"
    property_type = "String"


class CalbridgeFacts(ExtendedProperty):  # type: ignore[misc]
    property_set_id = stamps.GRAPH_PROPERTY_SET.lower()
    property_name = "calbridgeFacts"
    property_type = "String"


class AppointmentEndWhole(ExtendedProperty):  # type: ignore[misc]
    """MAPI's own end of an appointment (PidLidAppointmentEndWhole, [MS-OXOCAL] 2.2.1.6), in UTC
    as stored. Read-only here: it is how an all-day item's end is read without exchangelib's
    conversion (`CalendarItem.from_xml` subtracts 24 hours before taking the date, which is a day
    short when the last day is a 23-hour spring-forward day)."""

    distinguished_property_set_id = "Appointment"
    property_id = 0x820E
    property_type = "SystemTime"


# Attribute name of the stored end (not a mark: calbridge never writes it).
STORED_END_FIELD = "calbridge_stored_end"
MARK_FIELDS = (PAIR_FIELD, SOURCE_FIELD, PAIRING_FIELD, FACTS_FIELD)
_MARKS: dict[str, type[ExtendedProperty]] = {
    PAIR_FIELD: CalbridgePair,
    SOURCE_FIELD: CalbridgeSource,
    PAIRING_FIELD: CalbridgePairing,
    FACTS_FIELD: CalbridgeFacts,
    STORED_END_FIELD: AppointmentEndWhole,
}
_register_lock = threading.Lock()


def register_marks() -> None:
    """Make the marks attributes of CalendarItem (once per process; safe to call again)."""
    with _register_lock:
        for name, cls in _MARKS.items():
            try:
                CalendarItem.get_field_by_fieldname(name)
            except ValueError:  # exchangelib's InvalidField: not registered yet
                CalendarItem.register(name, cls)


register_marks()


def read_facts(value: Any) -> dict[str, Any]:
    """The facts JSON of an item; {} when absent or damaged."""
    if not isinstance(value, str) or not value:
        return {}
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError:
        return {}  # a damaged fact is ignored: the visible fields stand on their own
    return decoded if isinstance(decoded, dict) else {}
