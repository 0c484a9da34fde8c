"""Windows <-> IANA zone names through CLDR's windowsZones table (as shipped by exchangelib).

Graph accepts every Windows zone name but only some IANA names, and Google speaks IANA only, so
writes to Graph always convert IANA -> Windows, and reads accept either. The table is the CLDR
`windowsZones.xml` mapping that exchangelib generates; nothing here is typed by hand except the
few names Graph uses that are not zones in that table ("UTC" spellings).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from exchangelib.winzone import CLDR_TO_MS_TIMEZONE_MAP, IANA_TO_MS_TIMEZONE_MAP, MS_TIMEZONE_TO_IANA_MAP

from calbridge.translate.errors import UnknownTimeZone

__all__ = ["iana_to_windows", "to_iana", "wall_time_is_ambiguous", "zone_info"]

# Names Graph and Outlook use for UTC itself; CLDR lists "UTC" as a Windows zone of its own.
# `tzone://Microsoft/Utc` is the label Outlook records for an event made in UTC.
_UTC_NAMES = frozenset(
    {"UTC", "Etc/UTC", "Etc/GMT", "GMT", "Z", "Coordinated Universal Time", "tzone://Microsoft/Utc"}
)


@cache
def to_iana(name: str) -> str:
    """The IANA zone for a Windows or IANA name (as Graph may send either). Raises UnknownTimeZone."""
    if name in _UTC_NAMES:
        return "UTC"
    if name in MS_TIMEZONE_TO_IANA_MAP:
        return str(MS_TIMEZONE_TO_IANA_MAP[name])
    if _is_iana(name):
        return name
    raise UnknownTimeZone(name)


@cache
def iana_to_windows(zone: str) -> str:
    """The Windows zone name Graph should be sent for an IANA zone. Raises UnknownTimeZone."""
    if zone in _UTC_NAMES:
        return "UTC"
    for table in (IANA_TO_MS_TIMEZONE_MAP, CLDR_TO_MS_TIMEZONE_MAP):
        entry = table.get(zone)
        if entry:
            # exchangelib stores (windows_name, territory) pairs in some versions, plain names in others.
            return entry[0] if isinstance(entry, tuple) else str(entry)
    if zone in MS_TIMEZONE_TO_IANA_MAP:  # already a Windows name
        return zone
    raise UnknownTimeZone(zone)


def zone_info(name: str) -> ZoneInfo:
    """A ZoneInfo for a Windows or IANA name."""
    return ZoneInfo(to_iana(name))


def _is_iana(name: str) -> bool:
    if not name or name.startswith(("/", ".")) or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def wall_time_is_ambiguous(zone: str, *instants: datetime) -> bool:
    """Whether the wall time of any of `instants` in `zone` fails to name that instant alone: the
    repeated hour of a fall-back night (01:30 in New York on 2027-11-07 is 05:30Z and 06:30Z).
    A target that takes wall time plus a zone name picks one of the two (Exchange: the first),
    so such a time is written as an instant instead (UTC), which is what callers check this for."""
    tz = ZoneInfo(to_iana(zone))
    for instant in instants:
        wall = instant.astimezone(tz).replace(tzinfo=None)
        if any(wall.replace(tzinfo=tz, fold=fold).astimezone(UTC) != instant for fold in (0, 1)):
            return True
    return False
