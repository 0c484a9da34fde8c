"""The HTTP API's request and response, as pydantic models (they also make the OpenAPI schema).

A request is validated completely before any provider is asked: times aware or given with an
IANA zone, start before end, the window and the number of addresses within the configured
limits (passed as validation context), each address a plausible SMTP address. Addresses are
compared case-insensitively: they are lower-cased and duplicates dropped, keeping the order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from calbridge.freebusy.types import AddressError, BusyResult, BusyStatus, ErrorCode, LookupOutcome, Window
from calbridge.meetings.types import Oof

__all__ = [
    "ADDRESS_LIMIT_ERROR",
    "AddressBusy",
    "AddressFailure",
    "BusyBlock",
    "ErrorBody",
    "FreeBusyRequest",
    "FreeBusyResponse",
    "Limits",
    "OofBody",
    "Problem",
    "check_addresses",
    "check_zone",
    "checked_window",
    "render_response",
]

ADDRESS_LIMIT_ERROR = "too_many_addresses"  # the error type the HTTP layer answers with 413
HARD_MAX_ADDRESSES = 1000  # whatever the settings say; bounds the work of validation itself
# RFC 5321 sizes; the local part as most providers accept it (dot-atom, no quoted strings).
_ADDRESS = re.compile(
    r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+([a-z]{2,63}|xn--[a-z0-9-]{1,59})$"
)


@dataclass(frozen=True, slots=True)
class Limits:
    max_window: timedelta = timedelta(days=31)
    max_addresses: int = 100


def _limits(info: ValidationInfo) -> Limits:
    context = info.context or {}
    limits = context.get("limits") if isinstance(context, dict) else None
    return limits if isinstance(limits, Limits) else Limits()


def check_zone(value: str | None) -> str | None:
    """An IANA zone name, or a validation error (free/busy and the meeting list)."""
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise PydanticCustomError(
            "unknown_zone", "{zone} is not an IANA time zone", {"zone": value}
        ) from None
    return value


def check_addresses(addresses: list[str]) -> None:
    """Each (lower-cased) address a plausible SMTP address, or a validation error."""
    bad = [address for address in addresses if not _ADDRESS.match(address)]
    if bad:
        raise PydanticCustomError(
            "address_syntax", "not an email address: {bad}", {"bad": ", ".join(bad[:5])}
        )


def checked_window(
    start: datetime, end: datetime, time_zone: str | None, limits: Limits
) -> tuple[datetime, datetime]:
    """Start and end made aware (naive ones read in `time_zone`), start before end, the window
    within the limits; a validation error otherwise."""
    zone = ZoneInfo(time_zone or "UTC")
    if (start.tzinfo is None or end.tzinfo is None) and time_zone is None:
        raise PydanticCustomError("naive_time", "start and end need an offset, or give timeZone")
    start, end = (t.replace(tzinfo=zone) if t.tzinfo is None else t for t in (start, end))
    length = end.astimezone(UTC) - start.astimezone(UTC)
    if length <= timedelta(0):
        raise PydanticCustomError("empty_window", "start must be before end")
    if length > limits.max_window:
        raise PydanticCustomError(
            "window_too_long",
            "the window is {length} days; at most {limit} days per request",
            {
                "length": f"{length / timedelta(days=1):.4g}",
                "limit": f"{limits.max_window / timedelta(days=1):g}",
            },
        )
    return start, end


class FreeBusyRequest(BaseModel):
    """Whom to look up, and when."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    start: datetime = Field(
        description="Start of the window (RFC 3339). Without an offset it is read in `timeZone`.",
        examples=["2026-11-23T08:00:00+01:00"],
    )
    end: datetime = Field(
        description="End of the window, after `start`.", examples=["2026-11-23T18:00:00+01:00"]
    )
    time_zone: str | None = Field(
        default=None,
        alias="timeZone",
        description="IANA zone (e.g. Europe/Berlin): required when start/end carry no offset; answers "
        "and all-day blocks are expressed in it. Default UTC.",
        examples=["Europe/Berlin"],
    )
    addresses: list[Annotated[str, Field(max_length=320)]] = Field(
        min_length=1,
        max_length=HARD_MAX_ADDRESSES,
        description="SMTP addresses of people or rooms, on Google, Microsoft 365 or Exchange.",
        examples=[["ada@example.com", "grace@contoso.com"]],
    )

    @field_validator("time_zone")
    @classmethod
    def _check_zone(cls, value: str | None) -> str | None:
        return check_zone(value)

    @field_validator("addresses")
    @classmethod
    def _check_addresses(cls, value: list[str], info: ValidationInfo) -> list[str]:
        unique = list(dict.fromkeys(address.strip().lower() for address in value))
        check_addresses(unique)
        limit = _limits(info).max_addresses
        if len(unique) > limit:
            raise PydanticCustomError(
                ADDRESS_LIMIT_ERROR,
                "{count} addresses given; at most {limit} per request",
                {"count": len(unique), "limit": limit},
            )
        return unique

    @model_validator(mode="after")
    def _check_window(self, info: ValidationInfo) -> FreeBusyRequest:
        start, end = checked_window(self.start, self.end, self.time_zone, _limits(info))
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        return self

    def window(self) -> Window:
        """The window in the requested zone (sources ask providers to answer in it)."""
        zone = ZoneInfo(self.time_zone or "UTC")
        return Window(self.start.astimezone(zone), self.end.astimezone(zone))


class BusyBlock(BaseModel):
    start: datetime
    end: datetime
    status: BusyStatus = Field(description="oof > busy > workingElsewhere > tentative where blocks overlap.")


class OofBody(BaseModel):
    """Out of office now: an automatic reply (Outlook), an out-of-office event or the Gmail
    vacation responder (Google). `until` is absent when it lasts until turned off."""

    active: bool
    until: datetime | None = None

    @classmethod
    def of(cls, state: Oof, zone: ZoneInfo) -> OofBody:
        return cls(active=state.active, until=state.until.astimezone(zone) if state.until else None)


class AddressBusy(BaseModel):
    """The address's busy time inside the window: sorted, disjoint, clipped to the window."""

    busy: list[BusyBlock]
    oof: OofBody | None = Field(
        default=None, description="Out-of-office state now; absent when no suite could tell."
    )


class ErrorBody(BaseModel):
    code: ErrorCode
    message: str
    retry_after: float | None = Field(
        default=None, alias="retryAfter", description="Seconds after which asking again may succeed."
    )

    model_config = ConfigDict(populate_by_name=True)


class AddressFailure(BaseModel):
    """This address could not be answered; the others in the request are unaffected."""

    error: ErrorBody


class FreeBusyResponse(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start: datetime
    end: datetime
    time_zone: str = Field(alias="timeZone")
    results: dict[str, AddressBusy | AddressFailure] = Field(
        description="One entry per requested address (lower-cased), in request order."
    )


class Problem(BaseModel):
    """An RFC 9457 problem: why the request as a whole was refused."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Validation errors: `field` (a JSON path) and `message`."
    )


def render_response(
    request: FreeBusyRequest,
    outcomes: dict[str, LookupOutcome],
    oof: Mapping[str, Oof | AddressError] | None = None,
) -> FreeBusyResponse:
    window = request.window()
    zone = window.zone
    results: dict[str, AddressBusy | AddressFailure] = {}
    for address, outcome in outcomes.items():
        if isinstance(outcome, BusyResult):
            blocks = [
                BusyBlock(start=b.start.astimezone(zone), end=b.end.astimezone(zone), status=b.status)
                for b in outcome.busy
            ]
            state = (oof or {}).get(address)
            shown = OofBody.of(state, zone) if isinstance(state, Oof) else None
            results[address] = AddressBusy(busy=blocks, oof=shown)
        elif isinstance(outcome, AddressError):
            results[address] = AddressFailure(
                error=ErrorBody(code=outcome.code, message=outcome.detail, retryAfter=outcome.retry_after)
            )
    return FreeBusyResponse(start=window.start, end=window.end, timeZone=str(zone), results=results)
