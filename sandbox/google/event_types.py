"""What Google lets an app write for each event type (the Calendar API's event types guide).

- `default`: anything.
- `birthday`: an app may insert one only in the shape Google makes (all day, one day long,
  `RRULE:FREQ=YEARLY`, private, transparent, and only summary, colorId, reminders and
  birthdayProperties besides); an update or patch may change only colorId, summary, reminders
  and the dates.
- `fromGmail`: cannot be created through the API; an update or patch may change only colorId,
  reminders, visibility, transparency, status and private extended properties.
- `outOfOffice`, `focusTime`, `workingLocation`: only on a user's primary calendar (Workspace
  users); a working location needs its `workingLocationProperties`.
- The type of an existing event cannot be changed.

Only the app's own API calls are checked: a person's edits through the control API are theirs.
Refused writes answer 400 with reason `eventTypeRestriction` (the guide names no reason; the
message is what a client would log).
"""

from __future__ import annotations

from typing import Any

from sandbox.google.errors import GoogleApiError

__all__ = ["check_type_write"]

_PRIMARY_ONLY = frozenset({"outOfOffice", "focusTime", "workingLocation"})
_BIRTHDAY_INSERT = frozenset(
    {"summary", "colorId", "reminders", "birthdayProperties", "start", "end", "recurrence", "visibility",
     "transparency", "eventType", "id"}
)  # fmt: skip
_BIRTHDAY_UPDATE = frozenset({"summary", "colorId", "reminders", "start", "end"})
_GMAIL_UPDATE = frozenset(
    {"colorId", "reminders", "visibility", "transparency", "status", "extendedProperties"}
)


def _refuse(message: str) -> GoogleApiError:
    return GoogleApiError.bad_request(message, "eventTypeRestriction")


def check_type_write(
    body: dict[str, Any], current: dict[str, Any] | None, *, primary: bool, patch: bool
) -> None:
    """Raise what Google answers when an app's insert (`current` None) or update/patch of an
    event of a special type breaks that type's rules."""
    kind = str((current or {}).get("eventType") or body.get("eventType") or "default")
    if current is not None and body.get("eventType") not in (None, kind):
        raise _refuse("The event type cannot be changed.")
    if kind in _PRIMARY_ONLY and not primary:
        raise _refuse(f"Events of type {kind} can only be created on a user's primary calendar.")
    if current is None:
        _check_insert(kind, body)
    else:
        _check_update(kind, body, current, patch=patch)


def _check_insert(kind: str, body: dict[str, Any]) -> None:
    if kind == "fromGmail":
        raise _refuse("Events of type fromGmail cannot be created through the API.")
    if kind == "workingLocation" and not body.get("workingLocationProperties"):
        raise _refuse("A workingLocation event needs workingLocationProperties.")
    if kind == "birthday":
        extra = set(body) - _BIRTHDAY_INSERT
        shaped = (
            "date" in (body.get("start") or {})
            and body.get("recurrence")
            in (["RRULE:FREQ=YEARLY"], ["RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=-1"])
            and body.get("visibility") == "private"
            and body.get("transparency") == "transparent"
        )
        if extra or not shaped:
            raise _refuse("A birthday event must be a private, transparent, yearly all-day event.")


def _check_update(kind: str, body: dict[str, Any], current: dict[str, Any], *, patch: bool) -> None:
    allowed = {"birthday": _BIRTHDAY_UPDATE, "fromGmail": _GMAIL_UPDATE}.get(kind)
    if allowed is None:
        return
    # An update (PUT) restates the event: a field it leaves as it was is no change.
    changed = {
        key for key, value in body.items() if key not in ("eventType", "id") and current.get(key) != value
    }
    if not patch:
        changed |= {key for key in current if key in _WRITABLE_HINT and key not in body}
    if changed - allowed:
        names = ", ".join(sorted(changed - allowed))
        raise _refuse(f"Events of type {kind} allow no change of: {names}.")


_WRITABLE_HINT = frozenset({"description", "location", "attendees", "conferenceData"})
