"""POST /v1/freebusy over HTTP: bearer keys, every refusal with its reason, the answer's shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from freebusy_doubles import KEY, KEYS, OTHER_KEY, FakeSource, make_lookup, three_sources

from calbridge.errors import TransientProviderError
from calbridge.freebusy.app import MAX_BODY_BYTES, create_freebusy_app
from calbridge.freebusy.models import Limits

MIXED = ["ada@example.com", "grace@contoso.com", "linus@fabrikam.com"]
GOOD = {"start": "2026-11-23T08:00:00Z", "end": "2026-11-23T18:00:00Z", "addresses": MIXED}
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
def sources() -> dict[str, FakeSource]:
    return three_sources()


@pytest.fixture
async def client(sources: dict[str, FakeSource]) -> AsyncIterator[httpx.AsyncClient]:
    app = create_freebusy_app(
        make_lookup(sources), keys=KEYS, limits=Limits(max_window=timedelta(days=31), max_addresses=5)
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://freebusy.test") as http:
        yield http


async def post(client: httpx.AsyncClient, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return await client.post("/v1/freebusy", json=body, headers=AUTH if headers is None else headers)


async def test_given_mixed_addresses_when_posted_then_each_gets_its_busy_blocks(
    client: httpx.AsyncClient,
) -> None:
    reply = await post(client, GOOD)
    assert reply.status_code == 200
    body = reply.json()
    assert list(body["results"]) == MIXED
    assert body["results"]["ada@example.com"] == {
        "busy": [{"start": "2026-11-23T09:00:00Z", "end": "2026-11-23T11:00:00Z", "status": "busy"}]
    }
    assert body["results"]["grace@contoso.com"]["busy"][0]["status"] == "tentative"
    assert body["results"]["linus@fabrikam.com"]["busy"][0]["status"] == "oof"
    assert body["timeZone"] == "UTC"


async def test_given_a_time_zone_then_times_are_read_and_answered_in_it(client: httpx.AsyncClient) -> None:
    body = {
        "start": "2026-11-23T09:00",
        "end": "2026-11-23T19:00",
        "timeZone": "Europe/Berlin",
        "addresses": MIXED,
    }
    reply = await post(client, body)
    assert reply.status_code == 200
    assert reply.json()["results"]["ada@example.com"]["busy"][0]["start"] == "2026-11-23T10:00:00+01:00"
    assert reply.json()["start"] == "2026-11-23T09:00:00+01:00"


async def test_given_a_failing_provider_then_the_request_still_answers_200_with_per_address_errors(
    client: httpx.AsyncClient, sources: dict[str, FakeSource]
) -> None:
    sources["ews-main"].fail_with = [TransientProviderError("down")]
    reply = await post(client, GOOD)
    assert reply.status_code == 200
    results = reply.json()["results"]
    assert results["linus@fabrikam.com"] == {
        "error": {"code": "providerFailed", "message": "the provider failed"}
    }
    assert "busy" in results["ada@example.com"] and "busy" in results["grace@contoso.com"]


async def test_given_an_unknown_domain_then_that_address_says_unknownAddress(
    client: httpx.AsyncClient,
) -> None:
    reply = await post(client, {**GOOD, "addresses": ["x@nowhere.org", "ada@example.com"]})
    assert reply.json()["results"]["x@nowhere.org"]["error"]["code"] == "unknownAddress"


async def test_given_mixed_case_and_repeated_addresses_then_each_is_answered_once_in_lower_case(
    client: httpx.AsyncClient,
) -> None:
    reply = await post(client, {**GOOD, "addresses": ["Ada@Example.com", "ada@example.com"]})
    assert list(reply.json()["results"]) == ["ada@example.com"]


# --- authentication


async def test_given_no_authorization_then_401_asks_for_a_bearer_key(client: httpx.AsyncClient) -> None:
    reply = await post(client, GOOD, headers={})
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"].startswith("Bearer")
    assert reply.headers["content-type"] == "application/problem+json"
    assert "Bearer" in reply.json()["detail"]


async def test_given_another_scheme_then_401(client: httpx.AsyncClient) -> None:
    reply = await post(client, GOOD, headers={"Authorization": f"Basic {KEY}"})
    assert reply.status_code == 401


async def test_given_a_wrong_key_then_403(client: httpx.AsyncClient) -> None:
    reply = await post(client, GOOD, headers={"Authorization": "Bearer " + "x" * 40})
    assert reply.status_code == 403
    assert reply.json()["detail"] == "this key is not accepted"


async def test_given_a_key_that_is_a_prefix_of_a_real_one_then_403(client: httpx.AsyncClient) -> None:
    reply = await post(client, GOOD, headers={"Authorization": "Bearer " + KEY[:-1]})
    assert reply.status_code == 403


async def test_given_any_configured_key_then_accepted(client: httpx.AsyncClient) -> None:
    reply = await post(client, GOOD, headers={"Authorization": f"Bearer {OTHER_KEY}"})
    assert reply.status_code == 200


async def test_given_no_key_then_refused_before_the_body_is_looked_at(client: httpx.AsyncClient) -> None:
    reply = await client.post(
        "/v1/freebusy", content=b"not json", headers={"content-type": "application/json"}
    )
    assert reply.status_code == 401


# --- bad requests


async def test_given_a_body_that_is_not_json_then_400(client: httpx.AsyncClient) -> None:
    reply = await client.post(
        "/v1/freebusy", content=b"{nope", headers={**AUTH, "content-type": "application/json"}
    )
    assert reply.status_code == 400
    assert reply.json()["detail"] == "the body is not valid JSON"


async def test_given_another_media_type_then_415(client: httpx.AsyncClient) -> None:
    reply = await client.post(
        "/v1/freebusy", content=b"start=x", headers={**AUTH, "content-type": "text/plain"}
    )
    assert reply.status_code == 415


async def test_given_a_huge_body_then_413(client: httpx.AsyncClient) -> None:
    body = b'{"pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    reply = await client.post(
        "/v1/freebusy", content=body, headers={**AUTH, "content-type": "application/json"}
    )
    assert reply.status_code == 413


async def test_given_more_addresses_than_allowed_then_413_says_the_limit(client: httpx.AsyncClient) -> None:
    reply = await post(client, {**GOOD, "addresses": [f"p{i}@example.com" for i in range(6)]})
    assert reply.status_code == 413
    assert "at most 5 per request" in reply.json()["detail"]


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"end": "2026-11-23T08:00:00Z"}, "(body)", "start must be before end"),
        ({"end": "2026-11-23T07:00:00Z"}, "(body)", "start must be before end"),
        ({"start": "2026-11-23T08:00:00"}, "(body)", "need an offset, or give timeZone"),
        ({"timeZone": "Mars/Olympus"}, "timeZone", "Mars/Olympus is not an IANA time zone"),
        ({"end": "2027-01-23T08:00:00Z"}, "(body)", "the window is 61 days; at most 31 days per request"),
        ({"addresses": ["not-an-address"]}, "addresses", "not an email address: not-an-address"),
        ({"addresses": ["a@b"]}, "addresses", "not an email address: a@b"),
        ({"addresses": []}, "addresses", "at least 1 item"),
        ({"start": "tomorrow"}, "start", "datetime"),
        ({"colour": "blue"}, "colour", "Extra inputs are not permitted"),
    ],
)
async def test_given_an_invalid_request_then_422_names_the_field_and_the_reason(
    client: httpx.AsyncClient, sources: dict[str, FakeSource], change: dict[str, Any], field: str, reason: str
) -> None:
    reply = await post(client, {**GOOD, **change})
    assert reply.status_code == 422
    problem = reply.json()
    assert problem["status"] == 422
    assert any(e["field"] == field and reason in e["message"] for e in problem["errors"]), problem
    assert all(not s.calls for s in sources.values())  # nothing reached a provider


async def test_given_a_missing_field_then_422_names_it(client: httpx.AsyncClient) -> None:
    reply = await post(client, {"start": GOOD["start"], "addresses": MIXED})
    assert reply.status_code == 422
    assert [e["field"] for e in reply.json()["errors"]] == ["end"]


async def test_given_get_on_the_query_route_then_405(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/freebusy", headers=AUTH)).status_code == 405


async def test_given_a_lookup_with_failures_then_logs_name_no_address_and_no_key(
    client: httpx.AsyncClient, sources: dict[str, FakeSource]
) -> None:
    from structlog.testing import capture_logs

    sources["ews-main"].fail_with = [TransientProviderError("down")]
    with capture_logs() as logs:
        await post(client, GOOD)
        await post(client, GOOD, headers={"Authorization": "Bearer " + "x" * 40})
    text = repr(logs)
    assert "freebusy_answered" in text and "freebusy_refused" in text
    assert not any(address in text for address in MIXED)
    assert KEY not in text and "x" * 40 not in text
