"""Google's error answers, shaped as the Calendar API sends them.

The client library turns these into `HttpError` whose `error_details` are the `errors` list, so
the shape (domain, reason, message; top-level code and message) is what callers branch on.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

__all__ = ["GoogleApiError", "error_body", "error_response", "fault_error", "unknown_route"]

# The canonical status Google's front end adds to an error for each HTTP code it answers with.
# (Codes with no canonical status, like 410, go without one.)
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    412: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


class GoogleApiError(Exception):
    """Raised by request handling; the app turns it into Google's JSON error answer."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        *,
        retry_after: float | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.retry_after = retry_after
        self.extra = extra or {}

    @classmethod
    def not_found(cls) -> GoogleApiError:
        return cls(404, "notFound", "Not Found")

    @classmethod
    def bad_request(cls, message: str, reason: str = "invalid") -> GoogleApiError:
        return cls(400, reason, message)

    @classmethod
    def full_sync_required(cls) -> GoogleApiError:
        return cls(
            410,
            "fullSyncRequired",
            "Sync token is no longer valid, a full sync is required.",
            extra={"domain": "calendar", "locationType": "parameter", "location": "syncToken"},
        )

    @classmethod
    def time_range_empty(cls, location: str = "timeMax") -> GoogleApiError:
        return cls(
            400,
            "timeRangeEmpty",
            "The specified time range is empty.",
            extra={"domain": "calendar", "locationType": "parameter", "location": location},
        )

    @classmethod
    def forbidden_writer(cls) -> GoogleApiError:
        return cls(
            403,
            "requiredAccessLevel",
            "You need to have writer access to this calendar.",
        )


def error_body(status: int, reason: str, message: str, extra: dict[str, str] | None = None) -> dict[str, Any]:
    detail: dict[str, str] = {"message": message, "domain": "global", "reason": reason}
    detail.update(extra or {})
    error: dict[str, Any] = {"code": status, "message": message, "errors": [detail]}
    if status in _STATUS:
        error["status"] = _STATUS[status]
    return {"error": error}


def error_response(exc: GoogleApiError) -> web.Response:
    headers = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(max(0, round(exc.retry_after)))
    return web.json_response(
        error_body(exc.status, exc.reason, exc.message, exc.extra), status=exc.status, headers=headers
    )


# What Google answers for each status a fault rule may draw (reason, message).
_FAULT_SHAPES: dict[int, tuple[str, str]] = {
    400: ("badRequest", "Bad Request"),
    401: ("authError", "Invalid Credentials"),
    403: ("rateLimitExceeded", "Rate Limit Exceeded"),
    404: ("notFound", "Not Found"),
    409: ("conflict", "Conflict"),
    410: ("fullSyncRequired", "Sync token is no longer valid, a full sync is required."),
    412: ("conditionNotMet", "Precondition Failed"),
    429: ("rateLimitExceeded", "Rate Limit Exceeded"),
    500: ("backendError", "Backend Error"),
    502: ("backendError", "Bad Gateway"),
    503: ("backendError", "Backend Error"),
}

_REASON_MESSAGES = {
    "rateLimitExceeded": "Rate Limit Exceeded",
    "userRateLimitExceeded": "User Rate Limit Exceeded",
    "dailyLimitExceeded": "Daily Limit Exceeded",
    "quotaExceeded": "Calendar usage limits exceeded.",
    "backendError": "Backend Error",
}


def fault_error(status: int, retry_after: float | None, reason: str | None = None) -> GoogleApiError:
    """The error a fault rule's draw turns into; `reason` picks e.g. `userRateLimitExceeded`."""
    default_reason, default_message = _FAULT_SHAPES.get(status, ("backendError", "Backend Error"))
    chosen = reason or default_reason
    message = _REASON_MESSAGES.get(chosen, default_message)
    domain_extra = (
        {"domain": "usageLimits"}
        if chosen in {"rateLimitExceeded", "userRateLimitExceeded", "dailyLimitExceeded"}
        else {}
    )
    return GoogleApiError(status, chosen, message, retry_after=retry_after, extra=domain_extra)


def unknown_route() -> web.Response:
    """What Google answers for a path or method the API does not have: its JSON 404, not a page."""
    return web.json_response(error_body(404, "notFound", "Not Found"), status=404)
