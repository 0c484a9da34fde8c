"""Fixtures for the adapter tests: one sandbox per module (reset before each test) and the
adapters built against it exactly as production builds them, only with sandbox endpoints;
the EWS tests use the EWS emulator alone in a thread, each once over NTLM and once over Basic."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator

import pytest

from calbridge.providers.ews.adapter import EwsProvider
from calbridge.providers.ews.client import EwsClient, EwsEndpoint
from calbridge.providers.google.adapter import GoogleCalendar
from calbridge.providers.graph.adapter import GraphCalendar
from sandbox.client import SandboxControl
from sandbox.ews.testing import RunningEws, sample_world, serve_in_thread
from sandbox.graph import GraphControl
from sandbox.server import Sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.running(seed=11) as sb:
        yield sb


@pytest.fixture
async def control(sandbox: Sandbox) -> AsyncIterator[SandboxControl]:
    async with sandbox.control() as client:
        await client.reset()
        yield client


@pytest.fixture(scope="module")
def google(sandbox: Sandbox) -> Iterator[GoogleCalendar]:
    adapter = GoogleCalendar.connect(
        sandbox.info.google_service_account,
        api_endpoint=sandbox.info.google_api_endpoint,
        token_uri=sandbox.info.google_token_uri,
        threads=4,
        timeout=10,
        page_size=2,  # small pages, so every listing test also pages
    )
    yield adapter
    adapter.close()


@pytest.fixture
async def graph(sandbox: Sandbox, control: SandboxControl) -> AsyncIterator[GraphCalendar]:
    """A Graph adapter per test: its HTTP connections belong to the test's event loop."""
    ms = sandbox.info.microsoft
    adapter = GraphCalendar.connect(
        ms["tenant_id"],
        ms["client_id"],
        ms["client_secret"],
        authority=ms["graph_authority"],
        graph_url=ms["graph_url"],
        ca_file=str(sandbox.ca_file),
        timeout=10,
        page_size=3,  # small pages, so every listing test also pages
    )
    yield adapter
    await adapter.aclose()


@pytest.fixture
async def graph_control(sandbox: Sandbox, control: SandboxControl) -> AsyncIterator[GraphControl]:
    context = ssl.create_default_context(cafile=str(sandbox.ca_file))
    async with GraphControl(sandbox.info.microsoft["graph_authority"], context) as client:
        yield client


@pytest.fixture
def ews() -> Iterator[RunningEws]:
    with serve_in_thread(sample_world()) as running:
        yield running


@pytest.fixture(params=["ntlm", "basic"])
async def ews_provider(ews: RunningEws, request: pytest.FixtureRequest) -> AsyncIterator[EwsProvider]:
    """The service account over NTLM (the default of `connections add ews`) and over Basic."""
    endpoint = EwsEndpoint("svc@example.com", "s3cret", auth=request.param, ews_url=ews.ews_url)
    client = EwsClient(endpoint, threads=2)
    try:
        yield EwsProvider(client)
    finally:
        client.close()
