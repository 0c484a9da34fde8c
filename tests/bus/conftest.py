"""Fixtures of the bus tests: `harness` runs a test once on the memory bus and once on RabbitMQ."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from bus_harness import Harness, bus_settings, open_harness


@pytest.fixture(
    params=["memory", pytest.param("amqp", marks=[pytest.mark.integration, pytest.mark.rabbitmq])]
)
def bus_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def harness(bus_kind: str, request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    url = request.getfixturevalue("amqp_url") if bus_kind == "amqp" else None
    harness = await open_harness(bus_kind, url, bus_settings())
    yield harness
    await harness.close()
