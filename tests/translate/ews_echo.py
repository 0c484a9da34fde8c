"""What Exchange returns for a calendar item written with a field map, through exchangelib's own
XML: the item is serialized as exchangelib sends it, reshaped the way Exchange answers (instants
in UTC, booleans as true/false, server-owned fields added), and parsed back by exchangelib.

Used to close round trips without a server: Event -> fields -> (as Exchange returns it) -> Event.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from exchangelib import CalendarItem, EWSTimeZone
from exchangelib.version import EXCHANGE_2016, Version
from lxml import etree

from calbridge.providers.ews.translate import item_fields

T = "{http://schemas.microsoft.com/exchange/services/2006/types}"
OWNER = "mirror.owner@example.com"
VERSION = Version(build=EXCHANGE_2016)
# exchangelib writes these as 1/0; Exchange answers true/false, which is all exchangelib reads back.
BOOLEANS = {"IsAllDayEvent", "ReminderIsSet", "IsResponseRequested", "AllowNewTimeProposal", "IsDraft"}


def ews_echo(
    fields: dict[str, Any], item_id: str = "AAMkAGI2TGuLAAA=", drop_marks: bool = False
) -> dict[str, Any]:
    """The field map of the item Exchange would return after a CreateItem with `fields`."""
    item = CalendarItem(**fields)
    # exchangelib reads the server version off the account while turning all-day dates into
    # midnights; offline, a stand-in carries just that.
    item.account = SimpleNamespace(version=VERSION, default_timezone=EWSTimeZone("UTC"))
    elem = item.to_xml(version=VERSION)
    for child in list(elem):
        name = etree.QName(child).localname
        if name in ("Start", "End"):
            child.text = datetime.fromisoformat(child.text).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        elif child.text in ("0", "1") and name in BOOLEANS:
            child.text = "true" if child.text == "1" else "false"
        elif name == "ExtendedProperty" and drop_marks:
            elem.remove(child)
    recurring = elem.find(f"{T}Recurrence") is not None
    for name, text, attrs in (
        ("ItemId", None, {"Id": item_id, "ChangeKey": "DwAAABYAAAB3"}),
        ("CalendarItemType", "RecurringMaster" if recurring else "Single", {}),
        ("IsCancelled", "false", {}),
        ("LastModifiedTime", "2026-03-01T10:00:00Z", {}),
    ):
        extra = etree.SubElement(elem, f"{T}{name}", attrs)
        extra.text = text
    organizer = etree.SubElement(elem, f"{T}Organizer")
    mailbox = etree.SubElement(organizer, f"{T}Mailbox")
    etree.SubElement(mailbox, f"{T}EmailAddress").text = OWNER
    item = CalendarItem.from_xml(elem=elem, account=None)
    return item_fields(item)
