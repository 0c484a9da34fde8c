"""Ids shaped like Exchange Online's, so a client meets what it will meet in production.

Graph's ids are opaque: base64 of an Exchange store id with `/` written `-` and `+` written
`_`, ending in `=` padding (`AAMkAD...AAA=`). A client must treat them as opaque strings,
URL-encode them in paths (msgraph-sdk sends `=` as `%3D`) and never build one itself. Here:

- default-format (REST) ids start `AAMkA`, immutable ids `AAkAL`; both carry the mailbox's
  GUID, random bytes from the world's seeded RNG, and at least one `-` and one `_`.
- an occurrence's id starts like its series' id (as Exchange's do) and ends in a keyed digest of
  the occurrence: a client holding the series id and the original start cannot derive it.
- change keys are plain base64 (`+`, `/`, `==`), as Exchange's are, so etags carry them too.
"""

from __future__ import annotations

import base64
import hashlib
import random

__all__ = ["calendar_id", "change_key", "event_ids", "occurrence_id"]

_REST_HEAD = b"\x00\x03\x24\x00"  # encodes as "AAMkA..."
_IMMUTABLE_HEAD = b"\x00\x09\x00\x2e\x00"  # encodes as "AAkAL..."
_FOLDER_HEAD = b"\x00\x03\x24\x00"  # a folder id has the same store prefix, then a shorter tail
_REST_ALPHABET = bytes.maketrans(b"/+", b"-_")


def _encode(raw: bytes) -> str:
    """Graph's spelling: base64, `/` -> `-`, `+` -> `_`, with the two zero bytes that give `AAA=`."""
    padded = raw + b"\x00" * (-len(raw) % 3) + b"\x00\x00"
    return base64.b64encode(padded).translate(_REST_ALPHABET).decode()


def _opaque(rng: random.Random, head: bytes, owner: str, size: int) -> str:
    """An id with both `-` and `_` in it (drawn again until it has them: still seeded)."""
    while True:
        body = rng.getrandbits(size * 8).to_bytes(size, "big")
        found = _encode(head + owner.encode() + b"\x00\x46\x00\x00" + body)
        if "-" in found and "_" in found:
            return found


def event_ids(rng: random.Random, mailbox_guid: str) -> tuple[str, str]:
    """A fresh (immutable id, default-format id) pair for an item in this mailbox."""
    return _opaque(rng, _IMMUTABLE_HEAD, mailbox_guid, 46), _opaque(rng, _REST_HEAD, mailbox_guid, 46)


def calendar_id(rng: random.Random, mailbox_guid: str) -> str:
    return _opaque(rng, _FOLDER_HEAD, mailbox_guid, 28)


def change_key(rng: random.Random) -> str:
    return base64.b64encode(rng.getrandbits(128).to_bytes(16, "big")).decode()


def occurrence_id(salt: bytes, series_id: str, key: str) -> str:
    """The id of occurrence `key` of the series whose id (in the same format) is `series_id`."""
    raw = base64.b64decode(series_id.translate(str.maketrans("-_", "/+")))
    digest = hashlib.blake2b(f"{series_id}|{key}".encode(), key=salt, digest_size=24).digest()
    return _encode(raw.rstrip(b"\x00") + b"\x10\x00" + digest)
