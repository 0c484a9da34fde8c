"""The Google side's world: users, calendars with their ACLs, and events, all in memory.

Every change to an event takes the next value of one world-wide serial; sync tokens and push
notifications are built on it. Ids come from a seeded RNG so a run is repeatable.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.clock import Clock
from sandbox.counters import Counters, Invitation
from sandbox.google.errors import GoogleApiError
from sandbox.google.event_types import check_type_write
from sandbox.google.guests import guest_copy, guests_of, html_link
from sandbox.google.invitations import recipients_to_mail
from sandbox.google.recurrence import instance_resource, original_starts, split_instance_id
from sandbox.google.shapes import (
    TIME_FIELDS,
    WRITABLE,
    MeetRoom,
    apply_fields,
    as_seen_from,
    conference_made,
    is_client_id,
    merge,
    with_new_organizer,
    writable,
)
from sandbox.google.times import EventTime, format_millis

__all__ = ["ROLE_RANK", "Calendar", "GoogleUser", "GoogleWorld"]

ROLE_RANK = {"none": 0, "freeBusyReader": 1, "reader": 2, "writer": 3, "owner": 4}
_BASE32HEX = "0123456789abcdefghijklmnopqrstuv"


@dataclass(frozen=True)
class GoogleUser:
    email: str
    name: str
    time_zone: str


@dataclass
class Calendar:
    id: str
    summary: str
    time_zone: str
    acl: dict[str, str]  # email -> role
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    serials: dict[str, int] = field(default_factory=dict)  # event id -> serial of its last change
    token_epoch: int = 0  # bumped to invalidate every sync token issued before

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


ChangeListener = Callable[[str], None]  # called with the calendar id after each change


class GoogleWorld:
    def __init__(
        self,
        clock: Clock,
        counters: Counters,
        *,
        seed: int = 0,
        users: Iterable[GoogleUser] = (),
        domains: Iterable[str] = ("example.com",),
    ) -> None:
        self.clock = clock
        self.counters = counters
        self.seed = seed
        self.domains = tuple(domains)
        self.seeded = {u.email: u for u in users}
        self.listeners: list[ChangeListener] = []
        self.reset()

    def add_user(self, user: GoogleUser) -> None:
        """A person added after the start (forgotten by `reset`), with a primary calendar."""
        self.users[user.email] = user
        self.add_calendar(user.email, user.name, user.time_zone, {user.email: "owner"})

    def reset(self) -> None:
        self.users = dict(self.seeded)
        self.guest_copies = True  # put events on invited users' calendars, as Google does
        # Meet creation answers `pending` and completes at the calendar's next API call (with a
        # change notification), as Google may; False: it succeeds in the write's own answer.
        self.meet_pending = False
        self.pending_meets: list[tuple[str, str]] = []  # (calendar id, event id)
        self.rng = random.Random(self.seed)
        self.serial = 0
        self.calendars: dict[str, Calendar] = {}
        self.vacations: dict[str, dict[str, Any]] = {}  # Gmail's vacation responder by user (gmail.py)
        for user in self.users.values():
            self.add_calendar(user.email, user.name, user.time_zone, {user.email: "owner"})

    def add_calendar(self, calendar_id: str, summary: str, time_zone: str, acl: dict[str, str]) -> Calendar:
        calendar = Calendar(calendar_id, summary, time_zone, dict(acl))
        self.calendars[calendar_id] = calendar
        return calendar

    def new_id(self, length: int = 26) -> str:
        return "".join(self.rng.choice(_BASE32HEX) for _ in range(length))

    # -- access ---------------------------------------------------------------------------------

    def role(self, calendar: Calendar, who: str | None) -> str:
        if who is None:
            return "none"
        return calendar.acl.get(who, "none")

    def calendar_for(self, calendar_id: str, subject: str | None, minimum: str = "reader") -> Calendar:
        """The calendar `subject` may use at `minimum` role; Google's 404 / 403 otherwise."""
        if calendar_id == "primary":
            if subject is None or subject not in self.calendars:
                raise GoogleApiError.not_found()
            calendar_id = subject
        calendar = self.calendars.get(calendar_id)
        role = self.role(calendar, subject) if calendar is not None else "none"
        if calendar is None or ROLE_RANK[role] < min(ROLE_RANK[minimum], ROLE_RANK["reader"]):
            raise GoogleApiError.not_found()
        if ROLE_RANK[role] < ROLE_RANK[minimum]:
            raise GoogleApiError.forbidden_writer()
        self._complete_meets(calendar)
        return calendar

    def _complete_meets(self, calendar: Calendar) -> None:
        """Pending Meet creations on this calendar complete: the event changes (new etag, a push)."""
        waiting = [(cal, eid) for cal, eid in self.pending_meets if cal == calendar.id]
        if not waiting:
            return
        self.pending_meets = [item for item in self.pending_meets if item[0] != calendar.id]
        for _, event_id in waiting:
            current = calendar.events.get(event_id)
            data = (current or {}).get("conferenceData") or {}
            if (
                current is None
                or (data.get("createRequest") or {}).get("status", {}).get("statusCode") != "pending"
            ):
                continue
            made = dict(current)
            made["conferenceData"] = conference_made(data, self._meet_room)
            for point in made["conferenceData"]["entryPoints"]:
                if point.get("entryPointType") == "video":
                    made["hangoutLink"] = point["uri"]
            self._commit(calendar, made)

    # -- reads ----------------------------------------------------------------------------------

    def find_event(self, calendar: Calendar, event_id: str) -> dict[str, Any] | None:
        """A stored event, or a computed instance of a stored series."""
        stored = calendar.events.get(event_id)
        if stored is not None:
            return stored
        split = split_instance_id(event_id)
        if split is None:
            return None
        series = calendar.events.get(split[0])
        if series is None or not series.get("recurrence") or series.get("status") == "cancelled":
            return None
        wanted = split[1]
        for original in original_starts(series):
            if _same_start(original, wanted):
                return instance_resource(series, original, calendar.tz)
            if original.instant(calendar.tz) > wanted.instant(calendar.tz):
                break
        return None

    def get_event(self, calendar: Calendar, event_id: str) -> dict[str, Any]:
        event = self.find_event(calendar, event_id)
        if event is None:
            raise GoogleApiError.not_found()
        return event

    # -- writes ---------------------------------------------------------------------------------

    def insert_event(
        self,
        calendar: Calendar,
        body: dict[str, Any],
        actor: str,
        send_updates: str | None,
        conference_version: int = 0,
        *,
        record: bool = True,
    ) -> dict[str, Any]:
        event_id = body.get("id")
        if event_id is not None:
            if not is_client_id(event_id):
                raise GoogleApiError.bad_request("Invalid resource id value.")
            if event_id in calendar.events:
                raise GoogleApiError(409, "duplicate", "The requested identifier already exists.")
        else:
            event_id = self.new_id()
        if record:  # the app's own call: the event type's rules apply
            check_type_write(body, None, primary=calendar.id in self.users, patch=False)
        now = format_millis(self.clock.now())
        event: dict[str, Any] = {
            "kind": "calendar#event",
            "id": event_id,
            "status": "confirmed",
            "htmlLink": html_link(event_id, calendar.id),
            "created": now,
            "creator": {"email": actor, **({"self": True} if actor == calendar.id else {})},
            "organizer": _organizer(calendar, self.users),
            "iCalUID": body.get("iCalUID") or f"{event_id}@google.com",
            "sequence": 0,
            "reminders": {"useDefault": True},
            "eventType": "default",
        }
        self._apply_fields(calendar, event, body, conference_version)
        self._commit(calendar, event)
        self._share_with_guests(calendar, event, None)
        if record:
            self._record_mail(calendar, event, send_updates, "insert")
        return event

    def update_event(
        self,
        calendar: Calendar,
        event_id: str,
        body: dict[str, Any],
        actor: str,
        send_updates: str | None,
        *,
        patch: bool,
        conference_version: int = 0,
        if_match: str | None = None,
        record: bool = True,
    ) -> dict[str, Any]:
        current = self.get_event(calendar, event_id)
        if if_match and if_match not in {"*", current.get("etag")}:
            raise GoogleApiError(
                412,
                "conditionNotMet",
                "Precondition Failed",
                extra={"locationType": "header", "location": "If-Match"},
            )
        if record:
            check_type_write(body, current, primary=calendar.id in self.users, patch=patch)
        event = dict(current)
        fields = merge(writable(current), body) if patch else body
        if not patch:
            kept = {"sequence", "status", "eventType"}
            if conference_version < 1:  # conferenceDataVersion=0: the conference is left as it is
                kept |= {"conferenceData"}
            for key in WRITABLE - kept:
                event.pop(key, None)
        requested_sequence = body.get("sequence")
        if isinstance(requested_sequence, int) and requested_sequence < current.get("sequence", 0):
            raise GoogleApiError.bad_request(
                "Invalid sequence value. The specified sequence number is below the current sequence "
                "number of the resource.",
                "invalidSequenceValue",
            )
        self._apply_fields(calendar, event, fields, conference_version)
        if any(event.get(k) != current.get(k) for k in TIME_FIELDS):
            event["sequence"] = max(current.get("sequence", 0) + 1, event.get("sequence", 0))
        self._commit(calendar, event)
        self._share_with_guests(calendar, event, current)
        if record:
            self._record_mail(calendar, event, send_updates, "update")
        return event

    def delete_event(
        self, calendar: Calendar, event_id: str, send_updates: str | None, *, record: bool = True
    ) -> None:
        current = self.get_event(calendar, event_id)
        if current.get("status") == "cancelled":
            raise GoogleApiError(410, "deleted", "Resource has been deleted")
        if record:
            self._record_mail(calendar, current, send_updates, "delete")
        self._cancel(calendar, current)
        self._share_with_guests(calendar, calendar.events[current["id"]], current)
        if current.get("recurrence"):  # a deleted series takes its exceptions with it
            for other in list(calendar.events.values()):
                if other.get("recurringEventId") == event_id and other.get("status") != "cancelled":
                    self._cancel(calendar, other)
                    self._share_with_guests(calendar, calendar.events[other["id"]], other)
        self._notify(calendar.id)

    def move_event(self, source: Calendar, event_id: str, destination: Calendar) -> dict[str, Any]:
        current = self.get_event(source, event_id)
        if current.get("status") == "cancelled" or current.get("recurringEventId"):
            raise GoogleApiError.bad_request(
                "Cannot change the organizer of an instance.", "cannotChangeOrganizerOfInstance"
            )
        if event_id in destination.events:
            raise GoogleApiError(409, "duplicate", "The requested identifier already exists.")
        moved = dict(current)
        moved["organizer"] = _organizer(destination, self.users)
        if moved.get("attendees"):
            moved["attendees"] = with_new_organizer(moved["attendees"], destination.id, destination.id)
        moved = as_seen_from(moved, destination.id)
        moved["htmlLink"] = html_link(event_id, destination.id)
        self._cancel(source, current)
        self._notify(source.id)
        self._commit(destination, moved)
        self._share_with_guests(destination, moved, current)
        return moved

    def respond(self, calendar: Calendar, event_id: str, attendee: str, response: str) -> dict[str, Any]:
        """An attendee answers; the answer lands on the organizer's event and every copy."""
        if response not in {"needsAction", "declined", "tentative", "accepted"}:
            raise GoogleApiError.bad_request("Invalid attendee response status.")
        seen = self.get_event(calendar, event_id)
        organizer = self.calendars.get(seen.get("organizer", {}).get("email", ""))
        if organizer is not None and organizer is not calendar and event_id in organizer.events:
            calendar = organizer
        current = self.get_event(calendar, event_id)
        event = dict(current)
        attendees = [dict(a) for a in event.get("attendees", [])]
        matching = [a for a in attendees if a.get("email", "").lower() == attendee.lower()]
        if not matching:
            raise GoogleApiError.not_found()
        matching[0]["responseStatus"] = response
        event["attendees"] = attendees
        self._commit(calendar, event)
        self._share_with_guests(calendar, event, current)
        return event

    def expire_sync_tokens(self, calendar: Calendar) -> None:
        calendar.token_epoch += 1

    # -- internals ------------------------------------------------------------------------------

    def _apply_fields(
        self, calendar: Calendar, event: dict[str, Any], body: dict[str, Any], conference_version: int
    ) -> None:
        apply_fields(
            event,
            body,
            calendar_id=calendar.id,
            tz=calendar.tz,
            conference_version=conference_version,
            meet=self._meet_room,
            pending=self.meet_pending,
        )
        data = event.get("conferenceData") or {}
        if (data.get("createRequest") or {}).get("status", {}).get("statusCode") == "pending":
            self.pending_meets.append((calendar.id, event["id"]))
        if event.get("recurrence"):  # Google refuses a rule it cannot expand when it is written
            next(original_starts(event), None)

    def _meet_room(self) -> MeetRoom:
        letters = "abcdefghijklmnopqrstuvwxyz"
        code = "-".join("".join(self.rng.choice(letters) for _ in range(n)) for n in (3, 4, 3))

        def digits(n: int) -> str:
            return "".join(self.rng.choice("0123456789") for _ in range(n))

        signature = base64.b64encode(self.rng.randbytes(30)).decode()
        return MeetRoom(code, digits(13), "555" + digits(7), digits(9), signature)

    def _cancel(self, calendar: Calendar, event: dict[str, Any]) -> None:
        tombstone = dict(event)
        tombstone["status"] = "cancelled"
        self._commit(calendar, tombstone, notify=False)

    def _commit(self, calendar: Calendar, event: dict[str, Any], *, notify: bool = True) -> None:
        self.serial += 1
        now = self.clock.now()
        event["updated"] = format_millis(now)
        event["etag"] = f'"{int(now.timestamp() * 1000) * 1000 + self.serial % 1000}"'
        calendar.events[event["id"]] = event
        calendar.serials[event["id"]] = self.serial
        if notify:
            self._notify(calendar.id)

    def _share_with_guests(
        self, calendar: Calendar, event: dict[str, Any], previous: dict[str, Any] | None
    ) -> None:
        """Write, refresh or cancel the guests' copies of an organizer's event."""
        if not self.guest_copies or event.get("organizer", {}).get("email") != calendar.id:
            return
        now = guests_of(event, calendar.id, self.users)
        for guest in sorted(now):
            target = self.calendars[guest]
            self._commit(target, guest_copy(event, guest, target.events.get(event["id"])))
        for guest in sorted(guests_of(previous, calendar.id, self.users) - now):
            target = self.calendars[guest]
            existing = target.events.get(event["id"])
            if existing is not None and existing.get("status") != "cancelled":
                self._cancel(target, existing)
                self._notify(target.id)

    def _notify(self, calendar_id: str) -> None:
        for listener in list(self.listeners):
            listener(calendar_id)

    def _record_mail(
        self, calendar: Calendar, event: dict[str, Any], send_updates: str | None, what: str
    ) -> None:
        self.counters.send_updates[send_updates or "unset"] += 1
        organizer = event.get("organizer", {}).get("email", calendar.id)
        count = recipients_to_mail(event.get("attendees", []), organizer, send_updates, self.domains)
        if count:
            self.counters.invitations.append(
                Invitation("google", calendar.id, event["id"], count, f"{what} sendUpdates={send_updates}")
            )


def _same_start(a: EventTime, b: EventTime) -> bool:
    if a.day is not None or b.day is not None:
        return a.day == b.day
    return a.moment == b.moment


def _organizer(calendar: Calendar, users: dict[str, GoogleUser]) -> dict[str, Any]:
    organizer: dict[str, Any] = {"email": calendar.id, "self": True}
    user = users.get(calendar.id)
    organizer["displayName"] = user.name if user else calendar.summary
    return organizer
