"""Reading a person's out-of-office state from what each suite answers: pure functions of the
provider's own shapes and the current time.

- Graph `mailboxSettings/automaticRepliesSetting`: `status` disabled / alwaysEnabled /
  scheduled, with `scheduledStartDateTime` / `scheduledEndDateTime` (dateTimeTimeZone).
- EWS `GetUserOofSettings`: `OofState` Disabled / Enabled / Scheduled and a `Duration`.
- Google: an `outOfOffice` event covering now (events that touch chain into one absence), and
  Gmail's vacation responder (`enableAutoReply`, `startTime` / `endTime` in epoch ms).

A scheduled reply outside its span is off. Several sources (a Google OOF event and the Gmail
responder) combine: active if any is, until the latest end among the active ones (None, "until
turned off", wins).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from calbridge.meetings.types import Oof

__all__ = [
    "OFF",
    "combine",
    "graph_time",
    "oof_from_ews",
    "oof_from_gmail_vacation",
    "oof_from_google_events",
    "oof_from_graph",
]

OFF = Oof(active=False)


def _scheduled(start: datetime | None, end: datetime | None, now: datetime) -> Oof:
    if start is None or end is None or not start <= now < end:
        return OFF
    return Oof(active=True, until=end.astimezone(UTC))


def oof_from_graph(setting: Mapping[str, Any] | None, now: datetime) -> Oof:
    """An `automaticRepliesSetting` object."""
    if not setting:
        return OFF
    status = str(setting.get("status") or "disabled").lower()
    if status == "alwaysenabled":
        return Oof(active=True)
    if status == "scheduled":
        return _scheduled(
            graph_time(setting.get("scheduledStartDateTime")),
            graph_time(setting.get("scheduledEndDateTime")),
            now,
        )
    return OFF


def oof_from_ews(state: str | None, start: datetime | None, end: datetime | None, now: datetime) -> Oof:
    """`OofState` and the `Duration`'s start and end (aware)."""
    lowered = (state or "Disabled").lower()
    if lowered == "enabled":
        return Oof(active=True)
    if lowered == "scheduled":
        return _scheduled(start, end, now)
    return OFF


def oof_from_google_events(items: Iterable[Mapping[str, Any]], now: datetime) -> Oof:
    """`outOfOffice` events (events.list items) covering `now`, touching ones chained."""
    spans = sorted(
        (start, end)
        for item in items
        if item.get("eventType") == "outOfOffice" and item.get("status") != "cancelled"
        for start, end in [(_google_time(item.get("start")), _google_time(item.get("end")))]
        if start is not None and end is not None
    )
    until: datetime | None = None
    for start, end in spans:
        if until is None and start <= now < end:
            until = end
        elif until is not None and start <= until:
            until = max(until, end)
    return OFF if until is None else Oof(active=True, until=until.astimezone(UTC))


def oof_from_gmail_vacation(settings: Mapping[str, Any] | None, now: datetime) -> Oof:
    """Gmail's `users.settings.vacation` resource."""
    if not settings or not settings.get("enableAutoReply"):
        return OFF
    start, end = _epoch_ms(settings.get("startTime")), _epoch_ms(settings.get("endTime"))
    if (start is not None and now < start) or (end is not None and now >= end):
        return OFF
    return Oof(active=True, until=end)


def combine(states: Iterable[Oof]) -> Oof:
    active = [state for state in states if state.active]
    if not active:
        return OFF
    if any(state.until is None for state in active):
        return Oof(active=True)
    return Oof(active=True, until=max(state.until for state in active if state.until is not None))


def graph_time(value: Any) -> datetime | None:
    if not isinstance(value, Mapping) or not value.get("dateTime"):
        return None
    wall = datetime.fromisoformat(str(value["dateTime"]))
    if wall.tzinfo is not None:
        return wall
    from calbridge.translate.zones import zone_info  # Windows zone names; loads exchangelib's map

    return wall.replace(tzinfo=zone_info(str(value.get("timeZone") or "UTC")))


def _google_time(value: Any) -> datetime | None:
    if not isinstance(value, Mapping):
        return None
    if value.get("dateTime"):
        return datetime.fromisoformat(str(value["dateTime"]))
    return None  # an outOfOffice event is always timed (Google refuses all-day ones)


def _epoch_ms(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    except (TypeError, ValueError):
        return None
