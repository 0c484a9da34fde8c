"""The demo's script, as data: who acts where, what they do, and what must then be seen.

A step is one person's change on one calendar and the observation that proves calbridge carried
it: on the other calendar of the pair, an event that satisfies a predicate (or no event any
more). Times are offsets from a base day the runner chooses (a Monday a week ahead), so the
script reads like a week of someone's calendar and never depends on today's date.

Nothing here performs I/O: `calbridge_app.demo.runner` plays the steps through `Person`s that act
on the sandbox's control API, and the tests play them against fakes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from calbridge.pairs.spec import Detail, Direction, Via

__all__ = [
    "CALENDARS",
    "PAIRS",
    "SCENARIO",
    "Activity",
    "At",
    "CreateEvent",
    "DeleteEvent",
    "DemoCalendar",
    "DemoPair",
    "Edit",
    "Expectation",
    "ListMeetings",
    "LookUp",
    "MoveOccurrence",
    "Predicate",
    "Shown",
    "Step",
    "busy_during",
    "gone",
    "shows",
]


class DemoSide(StrEnum):
    GOOGLE = "Google"
    OUTLOOK = "Outlook"
    EXCHANGE = "Exchange"
    FREEBUSY = "free/busy API"
    MEETINGS = "meeting list"


@dataclass(frozen=True, slots=True)
class At:
    """A moment of the demo week: `day` days after the base Monday, at hour:minute UTC."""

    day: int
    hour: int = 0
    minute: int = 0

    def resolve(self, base: datetime) -> datetime:
        return base + timedelta(days=self.day, hours=self.hour, minutes=self.minute)

    def date(self, base: datetime) -> date:
        return self.resolve(base).date()

    def label(self, base: datetime | None = None) -> str:
        day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[self.day % 7]
        return f"{day} {self.hour:02d}:{self.minute:02d}"


@dataclass(frozen=True, slots=True)
class Shown:
    """One event as a side shows it, provider-neutral: what predicates look at.

    Timed events have aware UTC datetimes; all-day events have dates (end exclusive)."""

    id: str
    title: str
    start: datetime | date
    end: datetime | date
    all_day: bool = False
    show_as: str = "busy"  # free, tentative, busy, oof, workingElsewhere
    recurring: bool = False
    moved_occurrences: tuple[datetime, ...] = ()  # new starts of edited occurrences of a series
    text: str = ""  # description / body, as plain as the provider gives it
    source: str | None = None  # the origin's id when calbridge wrote this event (its stamp)
    pair: str | None = None


# --- where people act


@dataclass(frozen=True, slots=True)
class DemoCalendar:
    """A calendar of the demo: `name` is how steps refer to it."""

    name: str
    side: DemoSide
    owner: str
    calendar: str = "primary"  # the provider's id, or a display name the stack resolves
    label: str = ""  # shown to the reader, e.g. "Outlook/From Google"

    @property
    def shown(self) -> str:
        return self.label or str(self.side)


@dataclass(frozen=True, slots=True)
class DemoPair:
    """A pair the demo provisions; `needs` names the capabilities it cannot run without."""

    name: str
    google: str  # calendar names (CALENDARS)
    microsoft: str
    via: Via = Via.GRAPH
    direction: Direction = Direction.BOTH
    detail: Detail = Detail.FULL
    says: str = ""
    needs: frozenset[str] = frozenset({"google", "graph"})
    meeting_links: bool = False  # `--meeting-links`: a keyword in a location makes the meeting


# --- what people do


@dataclass(frozen=True, slots=True)
class CreateEvent:
    key: str  # how later steps name this event
    title: str
    start: At
    end: At
    all_day: bool = False
    weekly: int | None = None  # a weekly series of this many occurrences
    meet: bool = False  # with a Google Meet link
    out_of_office: bool = False
    description: str = ""
    location: str = ""
    guests: tuple[str, ...] = ()  # attendees' addresses; a room's starts with "room"

    def says(self) -> str:
        what = "all-day " if self.all_day else "weekly " if self.weekly else ""
        when = self.start.label().split()[0] if self.all_day else self.start.label()
        extra = " + Meet" if self.meet else f" ({self.weekly}x)" if self.weekly else ""
        if self.location:
            extra += f' at "{self.location}"'
        if self.guests:
            extra += f" with {len(self.guests)} attendees"
        if self.out_of_office:
            return f'is out of office "{self.title}" {when}'
        return f'creates {what}"{self.title}" {when}{extra}'


@dataclass(frozen=True, slots=True)
class Edit:
    key: str
    title: str | None = None
    start: At | None = None
    end: At | None = None

    def says(self) -> str:
        if self.title is not None:
            return f'renames it "{self.title}"'
        assert self.start is not None
        return f"moves it to {self.start.label()}"


@dataclass(frozen=True, slots=True)
class DeleteEvent:
    key: str

    def says(self) -> str:
        return "deletes it"


@dataclass(frozen=True, slots=True)
class MoveOccurrence:
    key: str
    original: At  # the occurrence's original start
    start: At
    end: At

    def says(self) -> str:
        return f"moves the {self.original.label().split()[0]} occurrence to {self.start.label()}"


@dataclass(frozen=True, slots=True)
class LookUp:
    """Ask the free/busy API about someone, over a window."""

    address: str
    start: At
    end: At
    key: None = None  # a lookup changes no event

    def says(self) -> str:
        return f"looks up {self.address.split('@')[0].title()}'s free/busy {self.start.label().split()[0]}"


@dataclass(frozen=True, slots=True)
class ListMeetings:
    """Open someone's meeting list (`GET /v1/meetings`), over a window."""

    address: str
    start: At
    end: At
    key: None = None  # a look changes no event

    def says(self) -> str:
        return (
            f"opens {self.address.split('@')[0].title()}'s meeting list for {self.start.label().split()[0]}"
        )


Activity = CreateEvent | Edit | DeleteEvent | MoveOccurrence | LookUp | ListMeetings


# --- what must be seen


Predicate = Callable[["Shown | None", Sequence["Shown"], datetime], bool]


@dataclass(frozen=True, slots=True)
class Expectation:
    """`met(counterpart, everything seen, base)`: the counterpart is the event the runner
    identified as the step's event on the observed side (None when absent)."""

    says: str
    check: Predicate = field(repr=False)

    def met(self, found: Shown | None, seen: Sequence[Shown], base: datetime) -> bool:
        return self.check(found, seen, base)


def _same_time(value: datetime | date, at: At, base: datetime, all_day: bool) -> bool:
    if all_day:
        return not isinstance(value, datetime) and value == at.date(base)
    return isinstance(value, datetime) and value.astimezone(UTC) == at.resolve(base)


def shows(
    title: str | None = None,
    *,
    start: At | None = None,
    end: At | None = None,
    all_day: bool = False,
    show_as: str | None = None,
    recurring: bool | None = None,
    moved_to: At | None = None,
    text: str | None = None,
    hides: str | None = None,
) -> Expectation:
    """The counterpart exists and shows these values (only the ones given are checked)."""
    parts = [f'"{title}"'] if title is not None else []
    if start is not None:
        parts.append(start.label().split()[0] if all_day else start.label())
    if all_day:
        parts.append("all day")
    if show_as is not None:
        parts.append(f"as {show_as}")
    if recurring:
        parts.append("as a series")
    if moved_to is not None:
        parts.append(f"one occurrence at {moved_to.label()}")
    if text is not None:
        parts.append("with the link" if text.startswith("https://") else f"listing {text}")
    if hides is not None:
        parts.append(f'without "{hides}"')

    def check(found: Shown | None, seen: Sequence[Shown], base: datetime) -> bool:
        if found is None:
            return False
        checks = [
            title is None or found.title == title,
            start is None or _same_time(found.start, start, base, all_day),
            end is None or _same_time(found.end, end, base, all_day),
            found.all_day == all_day,
            show_as is None or found.show_as == show_as,
            recurring is None or found.recurring == recurring,
            moved_to is None or moved_to.resolve(base) in found.moved_occurrences,
            text is None or text in found.text,
            hides is None or (hides not in found.title and hides not in found.text),
        ]
        return all(checks)

    return Expectation(" ".join(parts) or "the event", check)


def listed_once(title: str) -> Expectation:
    """A meeting list showing `title` exactly once (an event and its mirror are one meeting),
    with its join link."""

    def check(found: Shown | None, seen: Sequence[Shown], base: datetime) -> bool:
        listed = [s for s in seen if s.title == title]
        return len(listed) == 1 and listed[0].text.startswith("https://")

    return Expectation(f'"{title}" once, with its join link', check)


def gone() -> Expectation:
    return Expectation("gone", lambda found, seen, base: found is None)


def busy_during(start: At, end: At) -> Expectation:
    """A free/busy answer with a busy block covering [start, end)."""

    def check(found: Shown | None, seen: Sequence[Shown], base: datetime) -> bool:
        lo, hi = start.resolve(base), end.resolve(base)
        return any(
            isinstance(s.start, datetime) and isinstance(s.end, datetime) and s.start <= lo and s.end >= hi
            for s in seen
        )

    return Expectation(f"busy {start.label()}-{end.label().split()[1]}", check)


@dataclass(frozen=True, slots=True)
class Step:
    who: str
    acts_on: str  # a calendar name
    action: Activity
    observe: str  # a calendar name (or "freebusy")
    expect: Expectation
    needs: frozenset[str] = frozenset()  # capabilities beyond the calendars' own
    after: tuple[str, ...] = ()  # keys of events this step relies on (beyond its own)

    def says(self) -> str:
        return f"{self.who} {self.action.says()}"


# --- the demo's world and script

ALICE, BOB, CAROL, DAVE = (f"{name}@example.com" for name in ("alice", "bob", "carol", "dave"))
FROM_GOOGLE = "From Google"  # Bob's dedicated Outlook calendar for the one-way pair

CALENDARS: tuple[DemoCalendar, ...] = (
    DemoCalendar("alice.google", DemoSide.GOOGLE, ALICE),
    DemoCalendar("alice.outlook", DemoSide.OUTLOOK, ALICE),
    DemoCalendar("bob.google", DemoSide.GOOGLE, BOB),
    DemoCalendar("bob.outlook", DemoSide.OUTLOOK, BOB, FROM_GOOGLE, f"Outlook/{FROM_GOOGLE}"),
    DemoCalendar("carol.google", DemoSide.GOOGLE, CAROL),
    DemoCalendar("carol.outlook", DemoSide.OUTLOOK, CAROL),
    DemoCalendar("dave.google", DemoSide.GOOGLE, DAVE),
    DemoCalendar("dave.exchange", DemoSide.EXCHANGE, DAVE, "primary", "Exchange"),
    DemoCalendar("freebusy", DemoSide.FREEBUSY, "", "", "free/busy API"),
    DemoCalendar("meetings", DemoSide.MEETINGS, "", "", "meeting list"),
)

PAIRS: tuple[DemoPair, ...] = (
    DemoPair(
        "alice",
        "alice.google",
        "alice.outlook",
        says="both ways, full, @meet",
        meeting_links=True,
    ),
    DemoPair(
        "bob",
        "bob.google",
        "bob.outlook",
        direction=Direction.GOOGLE_TO_MICROSOFT,
        says="one way, full detail",
    ),
    DemoPair(
        "carol",
        "carol.google",
        "carol.outlook",
        direction=Direction.MICROSOFT_TO_GOOGLE,
        detail=Detail.BUSY,
        says="one way, busy blocks only",
    ),
    DemoPair(
        "dave",
        "dave.google",
        "dave.exchange",
        via=Via.EWS,
        says="both ways, full detail",
        needs=frozenset({"google", "ews"}),
    ),
)

MEET = "https://meet.google.com/cal-brid-gee"

SCENARIO: tuple[Step, ...] = (
    Step(
        "Alice",
        "alice.google",
        CreateEvent("review", "Design review", At(1, 10), At(1, 11)),
        "alice.outlook",
        shows("Design review", start=At(1, 10), end=At(1, 11)),
    ),
    Step(
        "Alice",
        "alice.outlook",
        Edit("review", title="Design review (sync)"),
        "alice.google",
        shows("Design review (sync)"),
    ),
    Step(
        "Alice",
        "alice.google",
        Edit("review", start=At(1, 14), end=At(1, 15)),
        "alice.outlook",
        shows("Design review (sync)", start=At(1, 14), end=At(1, 15)),
    ),
    Step(
        "Alice",
        "alice.outlook",
        CreateEvent("lunch", "Lunch with Erin", At(2, 12), At(2, 13)),
        "alice.google",
        shows("Lunch with Erin", start=At(2, 12), end=At(2, 13)),
    ),
    Step("Alice", "alice.google", DeleteEvent("lunch"), "alice.outlook", gone()),
    Step(
        "Alice",
        "alice.google",
        CreateEvent("standup", "Team sync", At(0, 9), At(0, 9, 30), weekly=4),
        "alice.outlook",
        shows("Team sync", start=At(0, 9), recurring=True),
    ),
    Step(
        "Alice",
        "alice.google",
        MoveOccurrence("standup", original=At(7, 9), start=At(8, 11), end=At(8, 11, 30)),
        "alice.outlook",
        shows("Team sync", recurring=True, moved_to=At(8, 11)),
    ),
    Step(
        "Alice",
        "alice.outlook",
        CreateEvent("offsite", "Team offsite", At(3), At(4), all_day=True),
        "alice.google",
        shows("Team offsite", start=At(3), end=At(4), all_day=True),
    ),
    Step(
        "Alice",
        "alice.google",
        CreateEvent("call", "Customer call", At(2, 15), At(2, 16), meet=True),
        "alice.outlook",
        shows("Customer call", start=At(2, 15), text=MEET),
    ),
    Step(
        "Alice",
        "alice.outlook",
        CreateEvent("poker", "Planning poker", At(2, 10), At(2, 11), location="@meet"),
        "alice.outlook",  # the organiser's own Outlook event gets the Meet link
        shows("Planning poker", start=At(2, 10), text="https://meet.google.com/", hides="@meet"),
    ),
    Step(
        "Alice",
        "alice.google",
        CreateEvent("ooo", "Vacation", At(4, 0), At(5, 0), out_of_office=True),
        "alice.outlook",
        shows(start=At(4, 0), end=At(5, 0), show_as="oof"),
    ),
    Step(
        "Alice",
        "alice.outlook",
        CreateEvent(
            "budget",
            "Budget review",
            At(2, 10),
            At(2, 11),
            guests=(BOB, "erin@partner.example", "room-4@example.com"),
        ),
        "alice.google",
        shows("Budget review", start=At(2, 10), text="erin@partner.example"),
    ),
    Step(
        "Bob",
        "bob.google",
        CreateEvent("planning", "Quarterly planning", At(1, 13), At(1, 14)),
        "bob.outlook",
        shows("Quarterly planning", start=At(1, 13), end=At(1, 14)),
    ),
    Step(
        "Carol",
        "carol.outlook",
        CreateEvent("dentist", "Dentist", At(2, 8), At(2, 9), description="Dr. Ruiz, room 4"),
        "carol.google",
        shows("Busy", start=At(2, 8), end=At(2, 9), hides="Dentist"),
    ),
    Step(
        "Dave",
        "dave.google",
        CreateEvent("vendor", "Vendor demo", At(3, 16), At(3, 17)),
        "dave.exchange",
        shows("Vendor demo", start=At(3, 16), end=At(3, 17)),
    ),
    Step(
        "Dave",
        "dave.exchange",
        Edit("vendor", title="Vendor demo (moved online)"),
        "dave.google",
        shows("Vendor demo (moved online)"),
        needs=frozenset({"ews-listener"}),  # Exchange tells calbridge of changes over a stream
    ),
    Step(
        "Bob",
        "freebusy",
        LookUp(ALICE, At(2, 0), At(3, 0)),
        "freebusy",
        busy_during(At(2, 15), At(2, 16)),
        needs=frozenset({"freebusy"}),
        after=("call",),
    ),
    Step(
        "Bob",
        "meetings",
        ListMeetings(ALICE, At(2, 0), At(3, 0)),
        "meetings",
        listed_once("Customer call"),
        needs=frozenset({"freebusy"}),  # served beside the free/busy API, with its keys
        after=("call",),
    ),
)
