"""The OData query options the emulator understands on events: extended-property `$filter` and
`$expand`, and the `startDateTime`/`endDateTime` window of calendar views."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from multidict import MultiDict

from sandbox.graph.errors import GraphError
from sandbox.graph.state import StoredEvent

__all__ = ["ExtendedFilter", "parse_expand", "parse_filter", "parse_select", "parse_window"]

_ANY = re.compile(
    r"^\s*singleValueExtendedProperties/any\(\s*(?P<v>\w+)\s*:\s*(?P=v)/id\s+eq\s+'(?P<id>(?:[^']|'')*)'"
    r"(?:\s+and\s+(?P=v)/value\s+eq\s+'(?P<value>(?:[^']|'')*)')?\s*\)\s*$",
    re.IGNORECASE,
)
_EXPAND = re.compile(
    r"^\s*singleValueExtendedProperties(?:\(\s*\$filter\s*=\s*(?P<filter>.*)\))?\s*$", re.IGNORECASE
)
_ID_EQ = re.compile(r"id\s+eq\s+'((?:[^']|'')*)'", re.IGNORECASE)


def normalize_property_id(pid: str) -> str:
    """Type and GUID compare case-insensitively; the property's Name is case-sensitive."""
    head, sep, name = pid.partition(" Name ")
    if not sep:
        head, sep, name = pid.partition(" name ")
    return f"{head.lower()}{' name ' if sep else ''}{name}"


class ExtendedFilter:
    def __init__(self, pid: str, value: str | None) -> None:
        self.pid = normalize_property_id(pid)
        self.value = value

    def matches(self, item: StoredEvent) -> bool:
        for pid, value in item.extended.items():
            if normalize_property_id(pid) == self.pid:
                return self.value is None or value.lower() == self.value.lower()
        return False


def parse_filter(text: str | None) -> ExtendedFilter | None:
    if not text:
        return None
    match = _ANY.match(text)
    if match is None:
        raise GraphError(
            400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes."
        )
    value = match.group("value")
    return ExtendedFilter(
        match.group("id").replace("''", "'"), None if value is None else value.replace("''", "'")
    )


def parse_expand(text: str | None) -> set[str] | None:
    """Lower-cased normalized ids to include, `{"*"}` for all, None when nothing is expanded."""
    if not text:
        return None
    match = _EXPAND.match(text)
    if match is None:
        raise GraphError(400, "BadRequest", f"Parsing OData Select and Expand failed: '{text}'.")
    if match.group("filter") is None:
        return {"*"}
    ids = [m.replace("''", "'") for m in _ID_EQ.findall(match.group("filter"))]
    return {pid.lower() for pid in ids}


_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


def parse_select(text: str | None) -> list[str] | None:
    """The property names of a `$select`, None when there is none."""
    if text is None:
        return None
    names = [name.strip() for name in text.split(",")]
    if not all(_NAME.match(name) for name in names):
        raise GraphError(400, "BadRequest", f"Parsing OData Select and Expand failed: '{text}'.")
    return names


def _moment(text: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise GraphError(400, "ErrorInvalidParameter", f"Cannot parse '{name}'.") from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_window(query: MultiDict[str]) -> tuple[datetime, datetime]:
    lowered = {k.lower(): v for k, v in query.items()}
    start, end = lowered.get("startdatetime"), lowered.get("enddatetime")
    if not start or not end:
        raise GraphError(
            400,
            "ErrorInvalidParameter",
            "This request requires a time window specified by the query string parameters "
            "StartDateTime and EndDateTime.",
        )
    return _moment(start, "startDateTime"), _moment(end, "endDateTime")
