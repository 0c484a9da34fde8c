"""Time zones as Graph takes and gives them.

`dateTimeTimeZone.timeZone` accepts Windows zone names and the IANA names CLDR maps to one; the
map is exchangelib's CLDR-generated `winzone` table, not a hand-written one. `dateTime` is wall
time in that zone, written with seven fractional digits and no offset.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, tzinfo
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from exchangelib.winzone import IANA_TO_MS_TIMEZONE_MAP, MS_TIMEZONE_TO_IANA_MAP

from sandbox.graph.errors import GraphError

__all__ = ["format_local", "parse_datetime_tz", "resolve_zone", "zone_or_utc"]

_UTC_NAMES = {"utc", "etc/utc", "gmt", "z", "coordinated universal time"}


@cache
def resolve_zone(name: str) -> tzinfo | None:
    """The zone a Graph client means by `name` (Windows or CLDR-listed IANA), or None."""
    stripped = name.strip().strip('"')
    if stripped.lower() in _UTC_NAMES:
        return UTC
    iana = MS_TIMEZONE_TO_IANA_MAP.get(stripped)
    if iana is None and stripped in IANA_TO_MS_TIMEZONE_MAP:
        iana = stripped
    if iana is None:
        return None
    try:
        return ZoneInfo(iana)
    except ZoneInfoNotFoundError:
        return None


def zone_or_utc(name: str | None) -> tuple[tzinfo, str]:
    """The zone a `Prefer: outlook.timezone` asks for, falling back to UTC as Graph does."""
    if name:
        zone = resolve_zone(name)
        if zone is not None:
            return zone, name.strip().strip('"')
    return UTC, "UTC"


def unsupported_zone(name: str) -> GraphError:
    return GraphError(
        400,
        "TimeZoneNotSupportedException",
        f"A valid TimeZone value must be specified. The following TimeZone value is not supported: '{name}'.",
    )


def parse_datetime_tz(value: Any, field: str) -> tuple[datetime, str]:
    """A `dateTimeTimeZone` object as an aware datetime, plus the zone name as given."""
    if not isinstance(value, dict) or not isinstance(value.get("dateTime"), str):
        raise GraphError(400, "ErrorInvalidRequest", f"'{field}' must be a dateTimeTimeZone object.")
    name = value.get("timeZone") or "UTC"
    zone = resolve_zone(name)
    if zone is None:
        raise unsupported_zone(name)
    text = value["dateTime"].rstrip("Z")
    if "." in text:  # Graph writes seven fractional digits; keep six
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    try:
        naive = datetime.fromisoformat(text)
    except ValueError as exc:
        raise GraphError(400, "ErrorInvalidRequest", f"Cannot parse '{field}.dateTime'.") from exc
    if naive.tzinfo is not None:
        return naive.astimezone(UTC), name
    return naive.replace(tzinfo=zone).astimezone(UTC), name


def format_local(moment: datetime, zone: tzinfo, zone_name: str) -> dict[str, str]:
    local = moment.astimezone(zone)
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": zone_name}


def format_floating(day: date, zone_name: str) -> dict[str, str]:
    """An all-day boundary: midnight of that date in whatever zone the reader asked for."""
    return format_local(datetime.combine(day, time(0), UTC), UTC, zone_name)


def format_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
