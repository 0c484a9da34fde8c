"""EWS adapter fixtures: the EWS emulator in a thread and an EwsProvider pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from calbridge.providers.ews import EwsProvider
from calbridge.providers.ews_client import EwsClient, EwsEndpoint
from sandbox.ews.testing import RunningEws, sample_world, serve_in_thread


@pytest.fixture
def ews() -> Iterator[RunningEws]:
    with serve_in_thread(sample_world()) as running:
        yield running


@pytest.fixture
async def ews_provider(ews: RunningEws) -> AsyncIterator[EwsProvider]:
    client = EwsClient(EwsEndpoint("svc@example.com", "s3cret", ews_url=ews.ews_url), threads=2)
    try:
        yield EwsProvider(client)
    finally:
        client.close()
