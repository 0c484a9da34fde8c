"""Gmail's vacation responder: `GET`/`PUT /gmail/v1/users/{userId}/settings/vacation`.

As the Gmail API serves it to a service account with domain-wide delegation: the token must
carry `gmail.settings.basic` (which the sandbox's admin delegates only when told to: the control
setting `gmailSettingsDelegated`), else 403 insufficientPermissions; `userId` is `me` or the
impersonated user's own address. A PUT replaces the whole resource and answers it; `startTime`
and `endTime` are epoch milliseconds as strings, the end after the start. A new user's responder
is off.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from sandbox.google.errors import GoogleApiError
from sandbox.google.tokens import GMAIL_SETTINGS, AccessGrant

__all__ = ["check_vacation", "read_vacation"]

_FIELDS = {
    "enableAutoReply": bool,
    "responseSubject": str,
    "responseBodyPlainText": str,
    "responseBodyHtml": str,
    "restrictToContacts": bool,
    "restrictToDomain": bool,
    "startTime": str,
    "endTime": str,
}
OFF = {
    "enableAutoReply": False,
    "responseSubject": "",
    "responseBodyPlainText": "",
    "restrictToContacts": False,
    "restrictToDomain": False,
}


def _user(request: web.Request, grant: AccessGrant) -> str:
    if GMAIL_SETTINGS not in grant.scopes:
        raise GoogleApiError(
            403, "insufficientPermissions", "Request had insufficient authentication scopes."
        )
    asked = request.match_info["userId"]
    if grant.subject is None or asked not in ("me", grant.subject):
        raise GoogleApiError(
            403, "forbidden", "Delegation denied for " + (grant.subject or "the service account")
        )
    return grant.subject


def read_vacation(
    settings: dict[str, dict[str, Any]], request: web.Request, grant: AccessGrant
) -> dict[str, Any]:
    return dict(settings.get(_user(request, grant), OFF))


def check_vacation(
    settings: dict[str, dict[str, Any]], request: web.Request, grant: AccessGrant, body: dict[str, Any]
) -> dict[str, Any]:
    user = _user(request, grant)
    vacation: dict[str, Any] = {}
    for name, value in body.items():
        kind = _FIELDS.get(name)
        if kind is None:
            raise GoogleApiError.bad_request(
                f'Invalid JSON payload received. Unknown name "{name}".', "invalid"
            )
        if kind is str and name in ("startTime", "endTime"):
            if not str(value).isdigit():
                raise GoogleApiError.bad_request(f"Invalid value for {name}.", "invalidArgument")
            value = str(value)
        vacation[name] = value
    if (
        "startTime" in vacation
        and "endTime" in vacation
        and int(vacation["endTime"]) <= int(vacation["startTime"])
    ):
        raise GoogleApiError.bad_request("The end time must be after the start time.", "invalidArgument")
    answer = {**OFF, **vacation}
    settings[user] = answer
    return dict(answer)
