"""POST /notifications/google: authenticated pushes become confirmed change events, others nothing."""

from __future__ import annotations

import httpx
import pytest
from receiver_fixtures import KEYS, RecordingBus, flip_last, google_token

from calbridge.events import ChangeEvent, ChangeKind, Provider
from calbridge.metrics import REGISTRY

URL = "/notifications/google"


def google_headers(
    state: str = "exists", *, channel: str = "chan-1", token: str | None = None
) -> dict[str, str]:
    return {
        "X-Goog-Channel-ID": channel,
        "X-Goog-Channel-Token": token if token is not None else google_token("cal_1", channel),
        "X-Goog-Resource-State": state,
        "X-Goog-Resource-ID": "res-opaque-1",
        "X-Goog-Resource-URI": "https://www.googleapis.com/calendar/v3/calendars/x/events",
        "X-Goog-Message-Number": "4711",
        "X-Goog-Channel-Expiration": "Mon, 08 Jun 2026 12:00:00 GMT",
    }


def count(outcome: str) -> float:
    return (
        REGISTRY.get_sample_value("calbridge_notifications_total", {"provider": "google", "outcome": outcome})
        or 0.0
    )


@pytest.mark.parametrize("state", ["exists", "not_exists"])
async def test_given_a_change_push_then_one_changed_event_is_confirmed_before_200(
    client: httpx.AsyncClient, bus: RecordingBus, state: str
) -> None:
    response = await client.post(URL, headers=google_headers(state))
    assert response.status_code == 200
    assert len(bus.published) == 1
    event = bus.published[0]
    assert isinstance(event, ChangeEvent)
    assert (event.provider, event.calendar, event.kind, event.version) == (
        Provider.GOOGLE,
        "cal_1",
        ChangeKind.CHANGED,
        "4711",
    )
    assert event.trace_id == response.headers["X-Request-ID"]


async def test_given_the_sync_message_then_200_and_nothing_published(
    client: httpx.AsyncClient, bus: RecordingBus
) -> None:
    before = count("sync")
    response = await client.post(URL, headers=google_headers("sync"))
    assert response.status_code == 200
    assert bus.attempts == 0
    assert count("sync") == before + 1


async def test_given_a_token_signed_by_the_previous_key_then_still_accepted(
    client: httpx.AsyncClient, bus: RecordingBus
) -> None:
    token = google_token("cal_9", "chan-1", keys={"k1": KEYS["k1"]})
    response = await client.post(URL, headers=google_headers(token=token))
    assert response.status_code == 200
    assert [e.calendar for e in bus.published] == ["cal_9"]


@pytest.mark.parametrize(
    "token",
    [
        google_token("cal_1", "other-channel"),  # replayed from another channel
        google_token("cal_1", "chan-1", keys={"k2": b"z" * 32}),  # forged with a guessed kid
        google_token("cal_1", "chan-1", keys={"gone": b"a" * 32}),  # unknown kid
        flip_last(google_token("cal_1", "chan-1")),  # tampered MAC
        "forwardTo=hr&createdBy=mobile",  # not ours at all
        "x" * 300,  # over the 256-char limit
    ],
)
async def test_given_a_forged_token_then_403_and_nothing_published(
    client: httpx.AsyncClient, bus: RecordingBus, token: str
) -> None:
    before = count("forged")
    response = await client.post(URL, headers=google_headers(token=token))
    assert response.status_code == 403
    assert bus.attempts == 0
    assert count("forged") == before + 1


async def test_given_an_expired_token_then_403_counted_as_expired(
    client: httpx.AsyncClient, bus: RecordingBus
) -> None:
    from datetime import timedelta

    from receiver_fixtures import NOW

    from calbridge.tokens import sign_token

    token = sign_token(Provider.GOOGLE, "cal_1", NOW - timedelta(minutes=1), KEYS, channel_id="chan-1")
    before = count("expired")
    response = await client.post(URL, headers=google_headers(token=token))
    assert response.status_code == 403
    assert bus.attempts == 0
    assert count("expired") == before + 1


@pytest.mark.parametrize("missing", ["X-Goog-Channel-ID", "X-Goog-Channel-Token", "X-Goog-Resource-State"])
async def test_given_a_required_header_missing_then_400_and_nothing_published(
    client: httpx.AsyncClient, bus: RecordingBus, missing: str
) -> None:
    headers = google_headers()
    del headers[missing]
    response = await client.post(URL, headers=headers)
    assert response.status_code == 400
    assert missing.lower() in response.text
    assert bus.attempts == 0


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Goog-Resource-State", "exploded"),
        ("X-Goog-Message-Number", "12a"),
        ("X-Goog-Resource-ID", "r" * 2000),
    ],
)
async def test_given_a_malformed_header_then_400(
    client: httpx.AsyncClient, bus: RecordingBus, header: str, value: str
) -> None:
    response = await client.post(URL, headers={**google_headers(), header: value})
    assert response.status_code == 400
    assert bus.attempts == 0


async def test_given_a_body_over_the_limit_then_413_and_nothing_published(
    client: httpx.AsyncClient, bus: RecordingBus
) -> None:
    response = await client.post(URL, headers=google_headers(), content=b"x" * 5000)
    assert response.status_code == 413
    assert bus.attempts == 0


async def test_given_a_get_then_405(client: httpx.AsyncClient) -> None:
    assert (await client.get(URL)).status_code == 405
