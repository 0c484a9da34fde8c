"""Why a request is refused, as exceptions that carry their HTTP status.

Every status is chosen so that the provider does the right thing: Google and Graph retry 5xx
(we send 503 only when the broker could not confirm), and a 4xx means "this request can never
succeed as sent", which is what a forged, malformed or oversized request deserves.
"""

from __future__ import annotations

from calbridge.errors import CalbridgeError

__all__ = ["BadRequest", "Forbidden", "PayloadTooLarge", "Refused", "UnsupportedMediaType"]


class Refused(CalbridgeError):
    """A request the receiver answers with a 4xx; `detail` is safe to send back (no input echoed)."""

    status = 400
    outcome = "malformed"  # the label of calbridge_notifications_total it is counted under

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(Refused):
    status = 400


class Forbidden(Refused):
    status = 403
    outcome = "forged"


class PayloadTooLarge(Refused):
    status = 413
    outcome = "oversized"


class UnsupportedMediaType(Refused):
    status = 415
