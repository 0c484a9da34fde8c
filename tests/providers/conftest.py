"""Fixtures for the adapter tests: one sandbox per module (reset before each test) and the
adapters built against it exactly as production builds them, only with sandbox endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from calbridge.providers.google import GoogleCalendar
from sandbox.client import SandboxControl
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
