"""The change event: the small, versioned envelope that crosses the bus.

It carries references only (which calendar, which provider object, what kind of change) and
never event content, titles or addresses: the processor pulls the truth from the provider.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from calbridge.errors import MalformedMessage, UnsupportedVersion

__all__ = [
    "ENVELOPE_VERSION",
    "ChangeEvent",
    "ChangeKind",
    "LifecycleEvent",
    "LifecycleKind",
    "Provider",
    "decode_change",
    "decode_lifecycle",
    "encode",
]

ENVELOPE_VERSION: Literal[1] = 1

# A calendar ref is calbridge's own short id for one watched calendar (see the store's
# `calendars` table). Keeping it short lets it travel inside Google channel tokens (256 chars)
# and Graph clientState (128 chars) next to a key id and an HMAC.
CalendarRef = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class Provider(StrEnum):
    GOOGLE = "google"
    GRAPH = "graph"
    EWS = "ews"


class ChangeKind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    CHANGED = "changed"  # something changed, provider does not say what (Google `exists`)
    RESYNC = "resync"  # pull everything since the cursor, or from scratch when there is none


class LifecycleKind(StrEnum):
    REAUTHORIZATION_REQUIRED = "reauthorizationRequired"
    SUBSCRIPTION_REMOVED = "subscriptionRemoved"
    MISSED = "missed"


def _new_id() -> str:
    return uuid.uuid4().hex


def _now() -> datetime:
    return datetime.now(UTC)


class _Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    v: Literal[1] = ENVELOPE_VERSION
    id: Annotated[str, Field(min_length=1, max_length=64)] = Field(default_factory=_new_id)
    provider: Provider
    calendar: CalendarRef
    received_at: datetime = Field(default_factory=_now)
    trace_id: Annotated[str, Field(min_length=1, max_length=64)] = Field(default_factory=_new_id)


class ChangeEvent(_Envelope):
    """A hint that one calendar changed; optionally which provider object and how."""

    kind: ChangeKind
    resource: Annotated[str, Field(max_length=1024)] | None = None  # provider event id, when known
    version: Annotated[str, Field(max_length=256)] | None = None  # changeKey / message number hint
    attempt: Annotated[int, Field(ge=0)] = 0
    reason: Annotated[str, Field(max_length=64)] = "notification"  # notification, reconcile, replay, ...

    def next_attempt(self) -> ChangeEvent:
        return self.model_copy(update={"attempt": self.attempt + 1})


class LifecycleEvent(_Envelope):
    """A provider's word about a subscription itself, for the renewer."""

    kind: LifecycleKind
    subscription: Annotated[str, Field(min_length=1, max_length=256)]


_M = TypeVar("_M", bound=_Envelope)


def encode(message: ChangeEvent | LifecycleEvent) -> bytes:
    return orjson.dumps(message.model_dump(mode="json", exclude_none=True))


def _decode(body: bytes, model: type[_M]) -> _M:
    # One parse, in pydantic's Rust core; the error kinds tell a non-JSON body, a non-object and
    # an unknown envelope version apart from ordinary field errors.
    try:
        message = model.model_validate_json(body)
    except ValidationError as exc:
        errors = exc.errors()
    else:
        if "v" not in message.model_fields_set:  # `v` has a default for senders, never for readers
            raise UnsupportedVersion(f"envelope version None is not supported (expected {ENVELOPE_VERSION})")
        return message
    first = errors[0]
    if first["type"] == "json_invalid":
        raise MalformedMessage(f"not JSON: {first['msg']}") from None
    if first["type"] == "model_type" or not first["loc"]:
        raise MalformedMessage("not a JSON object") from None
    version = orjson.loads(body).get("v")  # only on the error path: the body is valid JSON here
    if version != ENVELOPE_VERSION:
        raise UnsupportedVersion(
            f"envelope version {version!r} is not supported (expected {ENVELOPE_VERSION})"
        )
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'message'}: {err['msg']}" for err in errors[:5]
    )
    raise MalformedMessage(f"invalid {model.__name__}: {problems}") from None


def decode_change(body: bytes) -> ChangeEvent:
    """Decode and validate a change event; raise MalformedMessage with a reason otherwise."""
    return _decode(body, ChangeEvent)


def decode_lifecycle(body: bytes) -> LifecycleEvent:
    return _decode(body, LifecycleEvent)
