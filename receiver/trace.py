"""Choose a request's trace id: the caller's W3C trace id or request id if usable, else a new one."""

from __future__ import annotations

import re
import uuid

__all__ = ["choose_trace_id"]

# W3C Trace Context: version-traceid-parentid-flags; an all-zero trace id is invalid.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def choose_trace_id(traceparent: str | None, request_id: str | None) -> str:
    if traceparent is not None:
        match = _TRACEPARENT.fullmatch(traceparent.strip())
        if match and match.group(1) != "ff" and match.group(2) != "0" * 32 and match.group(3) != "0" * 16:
            return match.group(2)
    if request_id is not None and _REQUEST_ID.fullmatch(request_id.strip()):
        return request_id.strip()
    return uuid.uuid4().hex
