"""Exchange's identifiers, shaped as Exchange makes them.

Item and folder ids are standard base64 (with `+`, `/` and `=` padding) of a binary blob that
starts with the mailbox's GUID; change keys are 30 bytes of base64 (so `+` and `/`, but no
padding); an occurrence's id is a blob of its own that a client cannot derive from the master's
id; a `UID` is the hex Global Object Id (`040000008200E00074C5B7101A82E008...`). A client that
puts an id in a URL path unquoted, compares ids case-insensitively, or builds one by hand fails
here as it would against Exchange. Everything is drawn from the world's seeded RNG.
"""

from __future__ import annotations

import base64
import binascii
import random
import uuid
from datetime import UTC, datetime

__all__ = [
    "GOID_CLASS",
    "change_key",
    "folder_id",
    "global_object_id",
    "item_id",
    "occurrence_id",
    "parse_occurrence_id",
    "subscription_id",
]

GOID_CLASS = "040000008200E00074C5B7101A82E008"  # the class id every Global Object Id starts with
_ITEM = b"\x00\x03\x24\x00"  # "AAMkA...": a store item id
_FOLDER = b"\x01\x03\x24\x00"  # "AQMkA...": a folder id
_OCCURRENCE = b"\x00\x03\x24\x07"  # an occurrence blob: master blob + instance index
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


def _mailbox_guid(address: str) -> bytes:
    """The mailbox GUID as its 36 ASCII characters, as item ids embed it (stable per address)."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, address.lower())).encode()


def _b64_with_both(rng: random.Random, build: bytes, tail: int) -> str:
    """base64 of `build` + `tail` random bytes, drawn until `+` and `/` both appear."""
    while True:
        encoded = base64.b64encode(build + rng.randbytes(tail)).decode()
        if "+" in encoded and "/" in encoded:
            return encoded


def item_id(rng: random.Random, mailbox: str) -> str:
    # 4 + 36 + 7 + 105 = 152 bytes: 204 characters ending in one `=`, a real item id's length.
    return _b64_with_both(rng, _ITEM + _mailbox_guid(mailbox) + b"\x00\x46\x00\x00\x00\x00\x00", 105)


def folder_id(rng: random.Random, mailbox: str) -> str:
    return _b64_with_both(rng, _FOLDER + _mailbox_guid(mailbox) + b"\x00\x01", 41)


def change_key(rng: random.Random, serial: int) -> str:
    """`DwAAABYAAAA...`: a 30-byte blob whose last bytes count the item's changes."""
    while True:
        blob = b"\x0f\x00\x00\x00\x16\x00\x00\x00" + rng.randbytes(16) + serial.to_bytes(6, "big")
        encoded = base64.b64encode(blob).decode()
        if "+" in encoded and "/" in encoded:
            return encoded


def occurrence_id(master_id: str, index: int) -> str:
    master = base64.b64decode(master_id)
    return base64.b64encode(_OCCURRENCE + index.to_bytes(4, "big") + master).decode()


def parse_occurrence_id(value: str) -> tuple[str, int] | None:
    """(master id, 1-based index) of an occurrence id, or None for any other id."""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(_OCCURRENCE) or len(raw) <= len(_OCCURRENCE) + 4:
        return None
    start = len(_OCCURRENCE)
    index = int.from_bytes(raw[start : start + 4], "big")
    return base64.b64encode(raw[start + 4 :]).decode(), index


def global_object_id(rng: random.Random, created: datetime) -> str:
    """The hex Global Object Id Exchange puts in `UID` for an item it creates: class id, a zero
    instance date (a master), the creation FILETIME, 8 reserved bytes, then a 16-byte blob."""
    ticks = int((created - _FILETIME_EPOCH).total_seconds() * 10_000_000)
    data = rng.randbytes(16)
    blob = b"\x00\x00\x00\x00" + ticks.to_bytes(8, "little") + b"\x00" * 8 + len(data).to_bytes(4, "little")
    return GOID_CLASS + (blob + data).hex().upper()


def subscription_id(rng: random.Random, mailbox: str) -> str:
    """`JwBk...`: the backend's name and a GUID, base64 as Exchange Online issues them."""
    backend = f"{mailbox.split('@')[0]}-be.sandbox.prod.outlook.com".encode()
    return base64.b64encode(b"\x27\x00" + backend + b"\x10\x00\x00\x00" + rng.randbytes(16)).decode()
