"""GET /openapi.json: a valid OpenAPI 3.1 document whose schemas describe real traffic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import jsonschema
import pytest
from freebusy_doubles import KEY, KEYS, make_lookup, three_sources
from openapi_spec_validator import validate

from calbridge.freebusy.app import create_freebusy_app
from calbridge.freebusy.models import Limits


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_freebusy_app(make_lookup(three_sources()), keys=KEYS, limits=Limits(max_addresses=7))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fb.test") as http:
        yield http


def schema_of(document: dict[str, Any], name: str) -> dict[str, Any]:
    """A component schema made standalone (its $refs resolved against the document)."""
    return {"$ref": f"#/components/schemas/{name}", "components": document["components"]}


async def test_given_the_api_when_openapi_is_fetched_then_it_is_a_valid_openapi_31_document(
    client: httpx.AsyncClient,
) -> None:
    reply = await client.get("/openapi.json")  # public: describing the API reveals no data
    assert reply.status_code == 200
    document = reply.json()
    validate(document)  # raises on any structural error
    operation = document["paths"]["/v1/freebusy"]["post"]
    assert set(operation["responses"]) == {"200", "400", "401", "403", "413", "415", "422"}
    assert document["components"]["securitySchemes"]["bearerKey"] == {"type": "http", "scheme": "bearer"}
    assert "At most 7 addresses" in operation["description"]


async def test_given_a_real_answer_then_it_matches_the_documented_response_schema(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    body = {
        "start": "2026-11-23T08:00:00Z",
        "end": "2026-11-23T18:00:00Z",
        "addresses": ["ada@example.com", "nobody@nowhere.org"],
    }
    jsonschema.validate(body, schema_of(document, "FreeBusyRequest"))
    reply = await client.post("/v1/freebusy", json=body, headers={"Authorization": f"Bearer {KEY}"})
    jsonschema.validate(reply.json(), schema_of(document, "FreeBusyResponse"))
    refused = await client.post("/v1/freebusy", json={}, headers={"Authorization": f"Bearer {KEY}"})
    jsonschema.validate(refused.json(), schema_of(document, "Problem"))


async def test_the_request_schema_names_the_statuses_and_error_codes(client: httpx.AsyncClient) -> None:
    text = (await client.get("/openapi.json")).text
    for word in ("workingElsewhere", "tentative", "oof", "unknownAddress", "notPermitted", "providerFailed"):
        assert word in text
