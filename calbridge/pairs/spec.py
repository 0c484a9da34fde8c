"""What a person asks for when adding a pair, parsed and checked without I/O.

`USER[/CALENDAR]`: the owner's address, optionally followed by `/` and a provider calendar id.
Without one, the owner's default calendar: `primary`, which every adapter reads as the default
calendar (Google `primary`, Graph `/users/{id}/calendar`, the EWS `calendar` folder).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from calbridge.errors import CalbridgeError
from calbridge.events import Provider
from calbridge.pairs.policy import ConflictPolicy, Detail, Direction, Side

__all__ = [
    "DEFAULT_CALENDAR",
    "CalendarSpec",
    "Detail",
    "Direction",
    "PairSpec",
    "PairSpecInvalid",
    "Side",
    "Via",
    "parse_calendar",
    "parse_choice",
    "provider_of",
    "source_sides",
]

DEFAULT_CALENDAR = "primary"
# Deliberately loose: the provider is the judge of an address; this catches typos and swapped columns.
_ADDRESS = re.compile(r"^[^@\s/]+@[^@\s/]+\.[^@\s/]+$")


class PairSpecInvalid(CalbridgeError):
    """A pair's description is malformed; the message says what to fix."""


class Via(StrEnum):
    GRAPH = "graph"
    EWS = "ews"


def provider_of(side: Side, via: Via) -> Provider:
    """The provider a side of a pair is read and written through. A pair joins a Google calendar
    to a Microsoft one, so its Google side is Google's by definition; its Microsoft side is
    reached through Graph or EWS, as the pair says (`via`)."""
    return Provider.GOOGLE if side is Side.GOOGLE else Provider(via.value)


@dataclass(frozen=True, slots=True)
class CalendarSpec:
    owner: str
    calendar: str = DEFAULT_CALENDAR

    def __str__(self) -> str:
        return self.owner if self.calendar == DEFAULT_CALENDAR else f"{self.owner}/{self.calendar}"


@dataclass(frozen=True, slots=True)
class PairSpec:
    google: CalendarSpec
    microsoft: CalendarSpec
    via: Via = Via.GRAPH
    direction: Direction = Direction.BOTH
    detail: Detail = Detail.FULL
    conflict: ConflictPolicy = ConflictPolicy.NEWEST  # who wins when both copies changed
    meeting_links: bool = False  # make the meetings a keyword in a location asks for
    working_locations: bool = False  # mirror Google working locations as free markers
    mirror_oof: bool = False  # mirror out-of-office state between the two people (docs/hybrid.md)
    google_connection: str | None = None  # connection name; None: the only Google connection
    microsoft_connection: str | None = None

    @property
    def microsoft_provider(self) -> Provider:
        return provider_of(Side.MICROSOFT, self.via)

    def provider(self, side: Side) -> Provider:
        return provider_of(side, self.via)


def parse_calendar(text: str, side: Side) -> CalendarSpec:
    """`alice@example.com` or `alice@example.com/CALENDAR-ID`; addresses are compared lower-case."""
    value = text.strip()
    owner, _, calendar = value.partition("/")
    label = "Google user" if side is Side.GOOGLE else "Microsoft mailbox"
    if not owner:
        raise PairSpecInvalid(f"the {label} is empty")
    if not _ADDRESS.match(owner):
        raise PairSpecInvalid(f"the {label} {owner!r} is not an email address")
    if "/" in value and not calendar.strip():
        raise PairSpecInvalid(f"the {label} {owner!r} has an empty calendar id after '/'")
    calendar = calendar.strip() or DEFAULT_CALENDAR
    if len(calendar) > 512:
        raise PairSpecInvalid(f"the calendar id of {owner!r} is longer than 512 characters")
    return CalendarSpec(owner=owner.lower(), calendar=calendar)


def parse_choice(value: str, choices: type[StrEnum], what: str) -> StrEnum:
    """An enum member from user text, or an error listing the allowed values."""
    try:
        return choices(value.strip().lower())
    except ValueError:
        allowed = "|".join(member.value for member in choices)
        raise PairSpecInvalid(f"{what} must be {allowed}, got {value.strip()!r}") from None


def source_sides(direction: Direction) -> tuple[Side, ...]:
    """The sides whose changes a pair copies: they get a baseline sync on activation."""
    if direction is Direction.GOOGLE_TO_MICROSOFT:
        return (Side.GOOGLE,)
    if direction is Direction.MICROSOFT_TO_GOOGLE:
        return (Side.MICROSOFT,)
    return (Side.GOOGLE, Side.MICROSOFT)
