"""The OAuth side through the real google-auth library: JWT-bearer grant, DWD subject, access."""

from __future__ import annotations

import asyncio

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request
from google.oauth2 import service_account
from googleapiclient.errors import HttpError
from sandbox_support import ALICE, CAROL, call, timed

from sandbox.client import SandboxControl
from sandbox.google.tokens import TOKEN_LIFETIME
from sandbox.people import TEAM_CALENDAR
from sandbox.server import Sandbox

pytestmark = pytest.mark.integration


def _foreign_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_given_the_sandbox_key_when_refreshing_then_a_bearer_token_is_granted(sb: Sandbox) -> None:
    credentials = sb.google_credentials(ALICE)
    credentials.refresh(Request())
    assert credentials.token and credentials.token.startswith("ya29.")
    assert credentials.valid


def test_given_an_assertion_signed_by_another_key_when_refreshing_then_invalid_grant(sb: Sandbox) -> None:
    forged = {**sb.info.google_service_account, "private_key": _foreign_key_pem()}
    credentials = service_account.Credentials.from_service_account_info(
        forged, scopes=["https://www.googleapis.com/auth/calendar"], subject=ALICE
    )
    with pytest.raises(RefreshError, match="Invalid JWT Signature"):
        credentials.refresh(Request())


def test_given_a_subject_outside_the_domain_when_refreshing_then_invalid_grant(sb: Sandbox) -> None:
    with pytest.raises(RefreshError, match="Invalid email or User ID"):
        sb.google_credentials("mallory@elsewhere.example").refresh(Request())


async def test_given_alice_when_reading_a_calendar_not_shared_with_her_then_404_not_found(
    sb: Sandbox,
) -> None:
    events = sb.google_service(ALICE).events()
    with pytest.raises(HttpError) as caught:
        await call(events.list(calendarId=CAROL))
    assert caught.value.status_code == 404
    assert caught.value.error_details[0]["reason"] == "notFound"


async def test_given_a_reader_when_writing_then_403_required_access_level(sb: Sandbox) -> None:
    events = sb.google_service(CAROL).events()
    listed = await call(events.list(calendarId=TEAM_CALENDAR))
    assert listed["accessRole"] == "reader"
    with pytest.raises(HttpError) as caught:
        await call(
            events.insert(
                calendarId=TEAM_CALENDAR, body={"summary": "x", **timed("2026-12-01", "09:00", "10:00")}
            )
        )
    assert caught.value.status_code == 403
    assert caught.value.error_details[0]["reason"] == "requiredAccessLevel"


async def test_given_the_sandbox_clock_past_token_expiry_when_calling_then_the_client_refreshes_and_succeeds(
    sb: Sandbox, control: SandboxControl
) -> None:
    events = sb.google_service(ALICE).events()
    await call(events.list(calendarId="primary"))
    await control.advance_clock(TOKEN_LIFETIME.total_seconds() + 60)

    listed = await call(events.list(calendarId="primary"))

    assert listed["kind"] == "calendar#events"
    counters = await control.counters()
    statuses = {(c["operation"], c["status"]): c["count"] for c in counters["calls"]}
    assert statuses[("google.events.list", 401)] == 1  # the stale token was refused once
    assert statuses[("google.oauth.token", 200)] == 2  # and the library fetched a new one


async def test_given_a_fault_on_the_token_endpoint_when_refreshing_then_the_library_reports_it(
    sb: Sandbox, control: SandboxControl
) -> None:
    await control.set_fault("google.oauth.token", error_rate=1.0, error_status=400, reason="invalid_grant")
    with pytest.raises(RefreshError, match="invalid_grant"):
        await asyncio.to_thread(sb.google_credentials(ALICE).refresh, Request())
