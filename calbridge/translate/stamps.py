"""Where calbridge writes its own marks on a mirror, and how they are read back.

Two kinds of mark, both in provider extended properties that no person sees:

- the *stamp* (`MirrorStamp`: pair id, pairing key and source event id), written on every
  mirror; adapters find a mirror by its source (Google ``privateExtendedProperty`` filter,
  Graph ``$filter`` on ``singleValueExtendedProperties``, an EWS restriction) and compare the
  rest, and the engine recognises its own writes (echoes) by it. The *pairing key*
  (`pairing_key`) names the two calendars, not the pair row: a pair removed and added again
  (or re-created after a store was restored from an older backup) gets a new pair id but the
  same pairing key, so it adopts the mirrors the earlier pair made instead of copying them again;
- the *facts*: the source's values a provider field cannot hold exactly (Graph has no
  "tentative" event status or RRULE text, Google has no tentative/oof show-as or "personal"
  sensitivity, and a mirror holds its attendees as text, never as invitations). A reader
  restores a fact only while the visible field still shows what the writer projected it to, so
  an edit a person makes on the mirror wins over the stored fact.

The property names, the Graph property-set GUID and the pairing key's recipe are fixed forever:
changing them orphans every existing mirror.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from calbridge.providers.base import CalendarAddress, MirrorStamp

__all__ = [
    "GOOGLE_FACTS_KEY",
    "GOOGLE_PAIRING_KEY",
    "GOOGLE_PAIR_KEY",
    "GOOGLE_SOURCE_KEY",
    "GRAPH_FACTS_PROPERTY_ID",
    "GRAPH_PAIRING_PROPERTY_ID",
    "GRAPH_PAIR_PROPERTY_ID",
    "GRAPH_PROPERTY_SET",
    "GRAPH_SOURCE_PROPERTY_ID",
    "google_properties",
    "google_stamp_filters",
    "graph_expand_marks",
    "graph_properties",
    "graph_stamp_filter",
    "pairing_key",
    "read_google_marks",
    "read_graph_marks",
    "stamp_from",
]

GOOGLE_PAIR_KEY = "calbridgePair"
GOOGLE_SOURCE_KEY = "calbridgeSource"
GOOGLE_PAIRING_KEY = "calbridgePairing"
GOOGLE_FACTS_KEY = "calbridgeFacts"  # chunked: calbridgeFacts0, calbridgeFacts1, ...
# Google caps an extended property value (1024 characters in practice); chunks stay below it.
GOOGLE_VALUE_LIMIT = 1000

GRAPH_PROPERTY_SET = "436E8C74-997C-4F55-B362-FCD1A8DF5FC4"
GRAPH_PAIR_PROPERTY_ID = f"String {{{GRAPH_PROPERTY_SET}}} Name calbridgePair"
GRAPH_SOURCE_PROPERTY_ID = f"String {{{GRAPH_PROPERTY_SET}}} Name calbridgeSource"
GRAPH_PAIRING_PROPERTY_ID = f"String {{{GRAPH_PROPERTY_SET}}} Name calbridgePairing"
GRAPH_FACTS_PROPERTY_ID = f"String {{{GRAPH_PROPERTY_SET}}} Name calbridgeFacts"

Facts = dict[str, Any]

PRIMARY = "primary"


def pairing_key(google: CalendarAddress, microsoft: CalendarAddress) -> str:
    """The key of a pairing of two calendars, the same for every pair ever made between them.

    A Google calendar is named by its id, which is globally unique (`primary` is the owner's
    own address, so both spellings give one key); a Microsoft calendar by its mailbox and its
    calendar id within it (`primary` for the default calendar, through Graph or EWS alike).
    Addresses are compared without case. 32 hex characters of SHA-256: no address is written
    onto a mirror."""
    google_calendar = google.owner if google.calendar == PRIMARY else google.calendar
    text = "\x00".join(
        ("google", google_calendar.lower(), "microsoft", microsoft.owner.lower(), microsoft.calendar)
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def google_properties(stamp: MirrorStamp, facts: Facts | None) -> dict[str, str]:
    """The `extendedProperties.private` map of a Google mirror."""
    out = {GOOGLE_PAIR_KEY: stamp.pair_id, GOOGLE_SOURCE_KEY: stamp.source_id}
    if stamp.pairing:
        out[GOOGLE_PAIRING_KEY] = stamp.pairing
    if facts:
        encoded = orjson.dumps(facts).decode()
        for i in range(0, len(encoded), GOOGLE_VALUE_LIMIT):
            out[f"{GOOGLE_FACTS_KEY}{i // GOOGLE_VALUE_LIMIT}"] = encoded[i : i + GOOGLE_VALUE_LIMIT]
    return out


def read_google_marks(event: dict[str, Any]) -> tuple[MirrorStamp | None, Facts]:
    private = (event.get("extendedProperties") or {}).get("private") or {}
    stamp = stamp_from(
        private.get(GOOGLE_PAIR_KEY), private.get(GOOGLE_SOURCE_KEY), private.get(GOOGLE_PAIRING_KEY)
    )
    chunks: list[str] = []
    while (chunk := private.get(f"{GOOGLE_FACTS_KEY}{len(chunks)}")) is not None:
        chunks.append(chunk)
    return stamp, _decode("".join(chunks))


def google_stamp_filters(stamp: MirrorStamp) -> list[str]:
    """Values for the repeated `privateExtendedProperty` parameter of events.list: every mirror
    of the stamp's source event in the calendar (the caller keeps those `stamp.matches`)."""
    return [f"{GOOGLE_SOURCE_KEY}={stamp.source_id}"]


def graph_properties(stamp: MirrorStamp, facts: Facts | None) -> list[dict[str, str]]:
    """The `singleValueExtendedProperties` of a Graph mirror."""
    out = [
        {"id": GRAPH_PAIR_PROPERTY_ID, "value": stamp.pair_id},
        {"id": GRAPH_SOURCE_PROPERTY_ID, "value": stamp.source_id},
    ]
    if stamp.pairing:
        out.append({"id": GRAPH_PAIRING_PROPERTY_ID, "value": stamp.pairing})
    if facts:
        out.append({"id": GRAPH_FACTS_PROPERTY_ID, "value": orjson.dumps(facts).decode()})
    return out


def read_graph_marks(event: dict[str, Any]) -> tuple[MirrorStamp | None, Facts]:
    values = {
        str(p.get("id", "")).lower(): p.get("value") for p in event.get("singleValueExtendedProperties") or []
    }
    stamp = stamp_from(
        values.get(GRAPH_PAIR_PROPERTY_ID.lower()),
        values.get(GRAPH_SOURCE_PROPERTY_ID.lower()),
        values.get(GRAPH_PAIRING_PROPERTY_ID.lower()),
    )
    return stamp, _decode(values.get(GRAPH_FACTS_PROPERTY_ID.lower()) or "")


def graph_expand_marks() -> str:
    """The `$expand` value that makes Graph return the marks with an event."""
    marks = (
        GRAPH_PAIR_PROPERTY_ID,
        GRAPH_SOURCE_PROPERTY_ID,
        GRAPH_PAIRING_PROPERTY_ID,
        GRAPH_FACTS_PROPERTY_ID,
    )
    ids = " or ".join(f"id eq '{pid}'" for pid in marks)
    return f"singleValueExtendedProperties($filter={ids})"


def graph_stamp_filter(stamp: MirrorStamp) -> str:
    """The `$filter` that finds the mirror carrying `stamp`."""

    def match(pid: str, value: str) -> str:
        quoted = value.replace("'", "''")
        return f"singleValueExtendedProperties/Any(ep: ep/id eq '{pid}' and ep/value eq '{quoted}')"

    pair = match(GRAPH_PAIR_PROPERTY_ID, stamp.pair_id)
    return f"{pair} and {match(GRAPH_SOURCE_PROPERTY_ID, stamp.source_id)}"


def stamp_from(pair: Any, source: Any, pairing: Any = None) -> MirrorStamp | None:
    """The stamp held by a mirror's marks; None unless both pair and source are there."""
    if isinstance(pair, str) and isinstance(source, str) and pair and source:
        key = pairing if isinstance(pairing, str) and pairing else None
        return MirrorStamp(pair_id=pair, source_id=source, pairing=key)
    return None


def _decode(text: str) -> Facts:
    if not text:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}  # a damaged fact is ignored: the visible fields stand on their own
    return value if isinstance(value, dict) else {}
