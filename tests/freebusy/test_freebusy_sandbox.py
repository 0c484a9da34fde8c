"""The SDK-backed sources against the sandbox's emulators: real google-api-python-client,
msgraph-sdk and exchangelib over loopback, the sandbox's own call counters and faults.

Alice's calendar is asked through Google, Bob's through Graph, Carol's through EWS (the same
people exist on all three, as in a company that runs both; the directory says which to ask).
Skipped until the emulators are in this build.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests.adapters
from exchangelib import Identity, OAuth2Credentials
from exchangelib.protocol import BaseProtocol
from freebusy_doubles import make_lookup

from calbridge.freebusy.sources.base import FreeBusySource
from calbridge.freebusy.sources.ews import open_ews_source
from calbridge.freebusy.sources.google import open_google_source
from calbridge.freebusy.sources.graph import open_graph_source
from calbridge.freebusy.types import AddressError, BusyResult, BusyStatus, ErrorCode, Window

# Reached through importorskip rather than import statements: whether `sandbox.server` exists
# must not change how the imports sort.
Sandbox = pytest.importorskip("sandbox.server").Sandbox
GraphControl = pytest.importorskip("sandbox.graph.client").GraphControl
EwsControlClient = pytest.importorskip("sandbox.ews.control").EwsControlClient

pytestmark = pytest.mark.integration
UTC = ZoneInfo("UTC")
ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"
PEOPLE = [ALICE, BOB, CAROL]
KNOWN = {ALICE: "google-main", BOB: "graph-main", CAROL: "ews-main"}
WINDOW = Window(datetime(2026, 11, 23, 8, tzinfo=UTC), datetime(2026, 11, 23, 18, tzinfo=UTC))
CALLS = {
    "google-main": "google.freebusy.query",
    "graph-main": "graph.calendar.getSchedule",
    "ews-main": "ews.GetUserAvailability",
}


def _ews_credentials(sb: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """exchangelib hard-codes Microsoft's token URL and verifies TLS against the system store."""
    token_url = sb.info.microsoft["ews_token_url"]
    ca_file = str(sb.ca_file)

    class SandboxCredentials(OAuth2Credentials):  # type: ignore[misc]
        @property
        def token_url(self) -> str:
            return token_url

    class SandboxCA(requests.adapters.HTTPAdapter):
        def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
            super().cert_verify(conn, url, ca_file, cert)

    monkeypatch.setattr(BaseProtocol, "HTTP_ADAPTER_CLS", SandboxCA)
    return SandboxCredentials(
        client_id=sb.info.microsoft["client_id"],
        client_secret=sb.info.microsoft["client_secret"],
        tenant_id=sb.info.microsoft["tenant_id"],
        identity=Identity(primary_smtp_address=CAROL),
    )


@pytest.fixture
async def sb() -> AsyncIterator[Any]:
    async with Sandbox.start(seed=11) as sandbox:
        if not {"graph", "ews"} <= set(sandbox.info.https_endpoints):
            pytest.skip("the Microsoft emulators are not mounted in this sandbox")
        yield sandbox


@pytest.fixture
async def sources(sb: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, FreeBusySource]]:
    microsoft = sb.info.microsoft
    graph = open_graph_source(
        microsoft["tenant_id"],
        microsoft["client_id"],
        microsoft["client_secret"],
        authority=microsoft["graph_authority"],
        graph_url=microsoft["graph_url"],
        ca_file=str(sb.ca_file),
        mailbox=BOB,
    )
    yield {
        "google-main": open_google_source(
            sb.info.google_service_account, subject=ALICE, api_endpoint=sb.info.google_api_endpoint
        ),
        "graph-main": graph,
        "ews-main": open_ews_source(
            service_endpoint=microsoft["ews_url"],
            mailbox=CAROL,
            credentials=_ews_credentials(sb, monkeypatch),
        ),
    }
    await graph.close()


@pytest.fixture
async def busy_people(sb: Any) -> None:
    """Each person busy 09:00-10:00 UTC on their own platform; Bob also tentative 13:00-14:00."""
    async with sb.control() as control:
        await control.google.create_event(
            ALICE,
            {
                "summary": "1:1",
                "start": {"dateTime": "2026-11-23T09:00:00Z"},
                "end": {"dateTime": "2026-11-23T10:00:00Z"},
            },
        )
    client_ssl = ssl.create_default_context(cafile=str(sb.ca_file))
    async with GraphControl(sb.info.https_endpoints["graph"], ssl_context=client_ssl) as graph:
        for start, end, show_as in (("09:00", "10:00", "busy"), ("13:00", "14:00", "tentative")):
            await graph.create_event(
                BOB,
                {
                    "subject": "Review",
                    "start": {"dateTime": f"2026-11-23T{start}:00", "timeZone": "UTC"},
                    "end": {"dateTime": f"2026-11-23T{end}:00", "timeZone": "UTC"},
                    "showAs": show_as,
                },
            )
    EwsControlClient(sb.info.https_endpoints["ews"], ssl_context=client_ssl).create_item(
        CAROL, subject="Standup", start="2026-11-23T09:00:00Z", end="2026-11-23T10:00:00Z", free_busy="Busy"
    )


def hours(outcome: object) -> list[tuple[int, int, BusyStatus]]:
    assert isinstance(outcome, BusyResult), outcome
    return [(b.start.astimezone(UTC).hour, b.end.astimezone(UTC).hour, b.status) for b in outcome.busy]


async def test_given_people_on_three_platforms_then_one_lookup_answers_all(
    sources: dict[str, FreeBusySource], busy_people: None
) -> None:
    answer = await make_lookup(sources, known=KNOWN).answer(PEOPLE, WINDOW)
    assert hours(answer[ALICE]) == [(9, 10, BusyStatus.BUSY)]
    assert hours(answer[BOB]) == [(9, 10, BusyStatus.BUSY), (13, 14, BusyStatus.TENTATIVE)]
    assert hours(answer[CAROL]) == [(9, 10, BusyStatus.BUSY)]


async def test_given_graph_failing_then_bob_gets_an_error_and_the_others_answer(
    sb: Any, sources: dict[str, FreeBusySource], busy_people: None
) -> None:
    async with sb.control() as control:
        await control.set_fault(CALLS["graph-main"], error_rate=1.0, error_status=500)
        answer = await make_lookup(sources, known=KNOWN).answer(PEOPLE, WINDOW)
    failure = answer[BOB]
    assert isinstance(failure, AddressError) and failure.code is ErrorCode.PROVIDER_FAILED
    assert hours(answer[ALICE]) == [(9, 10, BusyStatus.BUSY)]
    assert hours(answer[CAROL]) == [(9, 10, BusyStatus.BUSY)]


async def test_given_repeated_lookups_within_the_ttl_then_each_provider_is_called_once(
    sb: Any, sources: dict[str, FreeBusySource], busy_people: None
) -> None:
    lookup = make_lookup(sources, known=KNOWN, ttl=30)
    for _ in range(5):
        await lookup.answer(PEOPLE, WINDOW)
    assert {name: sb.counters.calls_to(operation) for name, operation in CALLS.items()} == dict.fromkeys(
        CALLS, 1
    )


async def test_given_an_address_the_provider_does_not_know_then_only_it_is_unknown(
    sources: dict[str, FreeBusySource], busy_people: None
) -> None:
    ghost = "ghost@example.com"
    lookup = make_lookup(sources, known={**KNOWN, ghost: "graph-main"})
    answer = await lookup.answer([BOB, ghost], WINDOW)
    assert hours(answer[BOB])
    assert isinstance(answer[ghost], AddressError) and answer[ghost].code is ErrorCode.UNKNOWN_ADDRESS
