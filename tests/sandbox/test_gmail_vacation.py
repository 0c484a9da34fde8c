"""Gmail's vacation responder as the sandbox serves it to google-api-python-client's Gmail
client (`build('gmail', 'v1')`), scope-checked as domain-wide delegation is."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from google.auth.exceptions import RefreshError
from googleapiclient.errors import HttpError

from sandbox.server import Sandbox

pytestmark = pytest.mark.integration
ALICE = "alice@example.com"
GMAIL_SETTINGS = "https://www.googleapis.com/auth/gmail.settings.basic"
CALENDAR = "https://www.googleapis.com/auth/calendar"


def gmail(sb: Sandbox, subject: str, scopes: list[str]) -> Any:
    from google.api_core.client_options import ClientOptions
    from googleapiclient.discovery import build

    return build(
        "gmail",
        "v1",
        credentials=sb.google_credentials(subject, scopes=scopes),
        static_discovery=True,
        cache_discovery=False,
        client_options=ClientOptions(api_endpoint=sb.info.as_json()["google"]["base_url"]),
    )


async def test_given_the_scope_delegated_then_the_responder_is_read_and_written_through_the_sdk(
    sb: Sandbox,
) -> None:
    async with sb.control() as control:
        await control.call("PUT", "/google/settings", {"gmailSettingsDelegated": True})
    users = gmail(sb, ALICE, [GMAIL_SETTINGS]).users().settings()
    first = await asyncio.to_thread(users.getVacation(userId="me").execute)
    assert first["enableAutoReply"] is False
    body = {
        "enableAutoReply": True,
        "responseSubject": "Away",
        "startTime": "1795000000000",
        "endTime": "1795600000000",
    }
    written = await asyncio.to_thread(users.updateVacation(userId=ALICE, body=body).execute)
    again = await asyncio.to_thread(users.getVacation(userId="me").execute)
    assert written == again and again["enableAutoReply"] is True and again["endTime"] == "1795600000000"
    backwards = {**body, "endTime": "1794000000000"}
    with pytest.raises(HttpError) as refused:
        await asyncio.to_thread(users.updateVacation(userId="me", body=backwards).execute)
    assert refused.value.status_code == 400


async def test_given_the_scope_not_delegated_then_no_token_and_a_calendar_token_is_refused(
    sb: Sandbox,
) -> None:
    users = gmail(sb, ALICE, [GMAIL_SETTINGS]).users().settings()
    with pytest.raises(RefreshError):  # the admin delegated Calendar only
        await asyncio.to_thread(users.getVacation(userId="me").execute)
    calendar_only = gmail(sb, ALICE, [CALENDAR]).users().settings()
    with pytest.raises(HttpError) as refused:
        await asyncio.to_thread(calendar_only.getVacation(userId="me").execute)
    assert refused.value.status_code == 403
