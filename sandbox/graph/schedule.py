"""`POST /users/{id}/calendar/getSchedule`: free/busy of up to 20 mailboxes over a window.

Free/busy comes from each mailbox's default calendar, as Exchange publishes it. Subject and
location are shown only for `normal`/`personal` events. `availabilityView` has one digit per
interval: 0 free (and working elsewhere, which Graph folds into 0 for backward compatibility),
1 tentative, 2 busy, 3 out of office; the strongest status in a slot wins. Item statuses are
the freeBusyStatus enum values (`busy`, `tentative`, `oof`), lowercase as the service sends them.

Each item also carries `isMeeting`, `isRecurring`, `isException` and `isReminderSet`: the real
service sends them although v1.0's scheduleItem does not define them (msgraph-sdk puts them in
`additional_data`; see msgraph-typescript-typings#428).
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from sandbox.graph.errors import GraphError
from sandbox.graph.instances import Instance, expand_all
from sandbox.graph.odata import typed_collection
from sandbox.graph.routing import USER, Call, Reply, Route, route
from sandbox.graph.state import Mailbox
from sandbox.graph.timezones import format_local, parse_datetime_tz

__all__ = ["ROUTES", "availability_view"]

MAX_SCHEDULES = 20
MAX_WINDOW = timedelta(days=62)
_DIGIT = {"free": "0", "tentative": "1", "busy": "2", "oof": "3", "workingElsewhere": "0", "unknown": "2"}


def _status(inst: Instance) -> str:
    return str(inst.shown.fields.get("showAs", "busy"))


def availability_view(instances: list[Instance], start: Any, end: Any, interval: timedelta) -> str:
    slots = math.ceil((end - start) / interval)
    digits = []
    for n in range(slots):
        slot_start, slot_end = start + n * interval, min(start + (n + 1) * interval, end)
        best = "0"
        for inst in instances:
            if inst.start < slot_end and inst.end > slot_start:
                digit = _DIGIT.get(_status(inst), "2")
                if digit > best:
                    best = digit
        digits.append(best)
    return "".join(digits)


def _schedule(call: Call, mailbox: Mailbox, start: Any, end: Any, interval: timedelta) -> dict[str, Any]:
    prefs = call.prefs
    instances = [
        i for i in expand_all(mailbox.default_calendar.events.values(), start, end) if _status(i) != "free"
    ]
    items = []
    for inst in instances:
        fields = inst.shown.fields
        sensitivity = fields.get("sensitivity", "normal")
        item: dict[str, Any] = {
            "isPrivate": sensitivity in ("private", "confidential"),
            "status": _status(inst),
        }
        if sensitivity in ("normal", "personal"):
            item["subject"] = fields.get("subject", "")
            item["location"] = (fields.get("location") or {}).get("displayName", "")
        item.update(
            isMeeting=bool(fields.get("attendees")),
            isRecurring=inst.kind in ("occurrence", "exception"),
            isException=inst.kind == "exception",
            isReminderSet=bool(fields.get("isReminderOn", True)),
            start=format_local(inst.start, prefs.zone, prefs.zone_name),
            end=format_local(inst.end, prefs.zone, prefs.zone_name),
        )
        items.append(item)
    return {
        "scheduleId": mailbox.address,
        "availabilityView": availability_view(instances, start, end, interval),
        "scheduleItems": items,
        "workingHours": {
            "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "startTime": "08:00:00.0000000",
            "endTime": "17:00:00.0000000",
            "timeZone": {"name": "UTC"},
        },
    }


async def get_schedule(call: Call) -> Reply:
    # action parameters are matched case-insensitively (msgraph-sdk sends "Schedules", "StartTime")
    body = {str(k).lower(): v for k, v in call.body.items()} if isinstance(call.body, dict) else {}
    schedules = body.get("schedules")
    if not isinstance(schedules, list) or not 1 <= len(schedules) <= MAX_SCHEDULES:
        raise GraphError(400, "ErrorInvalidParameter", "schedules must name between 1 and 20 mailboxes.")
    start, _ = parse_datetime_tz(body.get("starttime"), "startTime")
    end, _ = parse_datetime_tz(body.get("endtime"), "endTime")
    if end <= start:
        raise GraphError(400, "ErrorInvalidParameter", "endTime must be after startTime.")
    if end - start > MAX_WINDOW:
        raise GraphError(
            400, "ErrorInvalidTimeInterval", "The requested time duration specified is too long; it "
            "must be less than 62 days.",
        )  # fmt: skip
    minutes = int(body.get("availabilityviewinterval") or 30)
    if not 5 <= minutes <= 1440:
        raise GraphError(400, "ErrorInvalidParameter", "availabilityViewInterval must be 5 to 1440.")
    rows = []
    for address in schedules:
        mailbox = call.ctx.world.mailbox(str(address))
        if mailbox is None:
            rows.append(
                {
                    "scheduleId": address,
                    "availabilityView": "",
                    "scheduleItems": [],
                    "error": {
                        "message": "The specified mailbox could not be found.",
                        "responseCode": "ErrorMailRecipientNotFound",
                    },
                }
            )
            continue
        rows.append(_schedule(call, mailbox, start, end, timedelta(minutes=minutes)))
    context = typed_collection(call, "microsoft.graph.scheduleInformation")
    return Reply(200, {"@odata.context": context, "value": rows})


ROUTES: list[Route] = [route("POST", USER + r"/calendar/getschedule", "calendar.getSchedule", get_schedule)]
