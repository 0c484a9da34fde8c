"""What a request asks for in its `Prefer` headers: id format, response time zone, page size."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, tzinfo

from sandbox.graph.timezones import zone_or_utc

__all__ = ["Prefs", "applied", "parse_prefs"]

_PAIR = re.compile(r'\s*([A-Za-z.]+)\s*=\s*("([^"]*)"|[^,;\s]+)')


@dataclass(frozen=True)
class Prefs:
    immutable_ids: bool = False
    zone: tzinfo = UTC
    zone_name: str = "UTC"
    max_page_size: int | None = None


def parse_prefs(values: list[str]) -> Prefs:
    found: dict[str, str] = {}
    for value in values:
        for match in _PAIR.finditer(value):
            found[match.group(1).lower()] = match.group(3) if match.group(3) is not None else match.group(2)
    zone, zone_name = zone_or_utc(found.get("outlook.timezone"))
    size = found.get("odata.maxpagesize", "")
    return Prefs(
        immutable_ids=found.get("idtype", "").lower() == "immutableid",
        zone=zone,
        zone_name=zone_name,
        max_page_size=int(size) if size.isdigit() and int(size) > 0 else None,
    )


def applied(prefs: Prefs) -> str | None:
    """The `Preference-Applied` header Graph answers with, if any preference was honoured."""
    parts = []
    if prefs.zone_name != "UTC":
        parts.append(f'outlook.timezone="{prefs.zone_name}"')
    if prefs.max_page_size is not None:
        parts.append(f"odata.maxpagesize={prefs.max_page_size}")
    if prefs.immutable_ids:
        parts.append('IdType="ImmutableId"')
    return ", ".join(parts) or None
