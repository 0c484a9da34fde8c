"""`mailboxSettings`' `automaticRepliesSetting` (Outlook's automatic replies).

As Graph v1.0 serves them: in `GET /users/{id}/mailboxSettings` (`events.get_mailbox_settings`),
`GET /users/{id}/mailboxSettings/automaticRepliesSetting`, and `PATCH /users/{id}/mailboxSettings`
with the properties to change, answered 200 with the settings as they now are. `status` is
`disabled`, `alwaysEnabled` or `scheduled`; a scheduled reply needs both scheduled times, the
end after the start (Graph answers 400 ErrorInvalidArgument otherwise). Times are
`dateTimeTimeZone` values and are given back in the zone they were set in, with seven
fractional digits. Graph sends no change notification for mailbox settings: a change here
wakes no subscription.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox.graph.errors import GraphError
from sandbox.graph.routing import USER, Call, Reply, route
from sandbox.graph.state import Mailbox
from sandbox.graph.timezones import zone_or_utc

__all__ = ["ROUTES", "automatic_replies", "set_automatic_replies"]

_STATUSES = {"disabled": "disabled", "alwaysenabled": "alwaysEnabled", "scheduled": "scheduled"}
_AUDIENCES = {"none": "none", "contactsonly": "contactsOnly", "all": "all"}
_SETTABLE = {
    "status",
    "externalAudience",
    "internalReplyMessage",
    "externalReplyMessage",
    "scheduledStartDateTime",
    "scheduledEndDateTime",
}


def automatic_replies(mailbox: Mailbox) -> dict[str, Any]:
    """The mailbox's automaticRepliesSetting (a new mailbox: disabled)."""
    if not mailbox.automatic_replies:
        now = datetime(2026, 1, 1).strftime("%Y-%m-%dT%H:%M:%S.0000000")
        mailbox.automatic_replies = {
            "status": "disabled",
            "externalAudience": "all",
            "internalReplyMessage": "",
            "externalReplyMessage": "",
            "scheduledStartDateTime": {"dateTime": now, "timeZone": "UTC"},
            "scheduledEndDateTime": {"dateTime": now, "timeZone": "UTC"},
        }
    return dict(mailbox.automatic_replies)


def _when(value: Any, name: str) -> tuple[dict[str, str], datetime]:
    if not isinstance(value, dict) or not value.get("dateTime"):
        raise GraphError(400, "ErrorInvalidArgument", f"{name} must be a dateTimeTimeZone.")
    zone, zone_name = zone_or_utc(str(value.get("timeZone") or "UTC"))
    try:
        wall = datetime.fromisoformat(str(value["dateTime"]))
    except ValueError as exc:
        raise GraphError(400, "ErrorInvalidArgument", f"{name} is not a date-time.") from exc
    wall = wall.replace(tzinfo=None)
    shown = {
        "dateTime": wall.strftime("%Y-%m-%dT%H:%M:%S.0000000"),
        "timeZone": str(value.get("timeZone") or zone_name),
    }
    return shown, wall.replace(tzinfo=zone)


def set_automatic_replies(mailbox: Mailbox, changes: dict[str, Any]) -> dict[str, Any]:
    """Apply a PATCH's `automaticRepliesSetting`, validated as Graph does."""
    unknown = set(changes) - _SETTABLE
    if unknown:
        raise GraphError(
            400, "RequestBodyRead", f"Unknown properties {sorted(unknown)} in automaticRepliesSetting."
        )
    current = automatic_replies(mailbox)
    if "status" in changes:
        status = _STATUSES.get(str(changes["status"]).lower())
        if status is None:
            raise GraphError(400, "RequestBodyRead", f"'{changes['status']}' is not a valid status.")
        current["status"] = status
    if "externalAudience" in changes:
        audience = _AUDIENCES.get(str(changes["externalAudience"]).lower())
        if audience is None:
            raise GraphError(400, "RequestBodyRead", "Not a valid externalAudience.")
        current["externalAudience"] = audience
    for text in ("internalReplyMessage", "externalReplyMessage"):
        if text in changes:
            current[text] = str(changes[text] or "")
    start_shown, start = _when(
        changes.get("scheduledStartDateTime", current["scheduledStartDateTime"]), "scheduledStartDateTime"
    )
    end_shown, end = _when(
        changes.get("scheduledEndDateTime", current["scheduledEndDateTime"]), "scheduledEndDateTime"
    )
    if current["status"] == "scheduled" and not start < end:
        raise GraphError(400, "ErrorInvalidArgument", "The scheduled end must be after the scheduled start.")
    current["scheduledStartDateTime"], current["scheduledEndDateTime"] = start_shown, end_shown
    mailbox.automatic_replies = current
    return dict(current)


def _mailbox(call: Call) -> Mailbox:
    assert call.mailbox is not None
    return call.mailbox


async def get_automatic_replies(call: Call) -> Reply:
    mailbox = _mailbox(call)
    context = call.link(f"/$metadata#users('{mailbox.id}')/mailboxSettings/automaticRepliesSetting")
    return Reply(200, {"@odata.context": context, **automatic_replies(mailbox)})


async def patch_settings(call: Call) -> Reply:
    mailbox = _mailbox(call)
    body = call.body if isinstance(call.body, dict) else {}
    changes = {k: v for k, v in body.items() if not k.startswith("@")}
    if "automaticRepliesSetting" in changes:
        value = changes.pop("automaticRepliesSetting")
        if not isinstance(value, dict):
            raise GraphError(400, "RequestBodyRead", "automaticRepliesSetting must be an object.")
        set_automatic_replies(mailbox, value)
    if changes:
        raise GraphError(400, "RequestBodyRead", f"The sandbox cannot change {sorted(changes)}.")
    from sandbox.graph.events import get_mailbox_settings  # the one rendering of the settings

    return await get_mailbox_settings(call)


SETTINGS = USER + r"/mailboxsettings"
ROUTES = [
    route("PATCH", SETTINGS, "mailboxSettings.update", patch_settings),
    route(
        "GET",
        SETTINGS + r"/automaticrepliessetting",
        "mailboxSettings.automaticReplies",
        get_automatic_replies,
    ),
]
