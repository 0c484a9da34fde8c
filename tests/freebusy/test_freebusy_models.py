"""Request validation as a pure function: what is accepted, what is refused and why."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from calbridge.freebusy.models import FreeBusyRequest, Limits

BASE = {"start": "2026-11-23T08:00:00Z", "end": "2026-11-23T18:00:00Z"}


def request(limits: Limits | None = None, **fields: object) -> FreeBusyRequest:
    body = {**BASE, "addresses": ["a@example.com"], **fields}
    return FreeBusyRequest.model_validate(body, context={"limits": limits or Limits()})


def refusal(**fields: object) -> str:
    with pytest.raises(ValidationError) as caught:
        request(**fields)
    return str(caught.value.errors()[0]["type"])


@pytest.mark.parametrize(
    "address",
    ["a.b+tag@mail.example.com", "o'brien@example.ie", "x@xn--80ak6aa92e.xn--p1ai", "ROOM-4@Contoso.COM"],
)
def test_given_plausible_addresses_then_they_are_accepted(address: str) -> None:
    assert request(addresses=[address]).addresses == [address.lower()]


@pytest.mark.parametrize(
    "address",
    ["plain", "a@b", "a@@b.com", ".a@b.com", "a..b@b.com", "a b@b.com", "a@-b.com", "a@b.c", "<a@b.com>"],
)
def test_given_malformed_addresses_then_refused_as_address_syntax(address: str) -> None:
    assert refusal(addresses=[address]) == "address_syntax"


def test_given_a_long_window_across_a_dst_change_then_its_real_length_is_checked() -> None:
    # 2026-10-25 has 25 hours in Berlin: one wall-clock day is longer than 24 real hours.
    limits = Limits(max_window=timedelta(hours=24))
    body = {"start": "2026-10-25T00:00", "end": "2026-10-26T00:00", "timeZone": "Europe/Berlin"}
    with pytest.raises(ValidationError, match="at most 1 days"):
        request(limits, **body)


def test_given_naive_times_and_a_zone_then_the_window_is_in_that_zone() -> None:
    parsed = request(start="2026-11-23T08:00", end="2026-11-23T18:00", timeZone="America/New_York")
    window = parsed.window()
    assert window.start.utcoffset() == timedelta(hours=-5)
    assert str(window.zone) == "America/New_York"


def test_given_an_offset_and_a_zone_then_the_instant_is_kept_and_shown_in_the_zone() -> None:
    parsed = request(start="2026-11-23T08:00:00Z", end="2026-11-23T18:00:00Z", timeZone="Asia/Tokyo")
    assert parsed.window().start.hour == 17


def test_given_limits_in_context_then_they_apply() -> None:
    with pytest.raises(ValidationError) as caught:
        request(Limits(max_addresses=2), addresses=["a@x.com", "b@x.com", "c@x.com"])
    assert caught.value.errors()[0]["type"] == "too_many_addresses"
    assert len(request(Limits(max_addresses=2), addresses=["a@x.com", "A@x.com", "b@x.com"]).addresses) == 2
