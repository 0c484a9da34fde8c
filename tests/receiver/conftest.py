"""Fixtures of the receiver tests: a recording bus, the app built on it, an ASGI client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import structlog
from receiver_fixtures import RecordingBus, fixed_clock, make_settings
from starlette.applications import Starlette

from receiver import create_app


@pytest.fixture
def bus() -> RecordingBus:
    return RecordingBus()


@pytest.fixture
def app(bus: RecordingBus) -> Starlette:
    return create_app(make_settings(), bus, clock=fixed_clock)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver.test") as http:
        yield http


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Commands under test configure structlog globally; put it back after each test."""
    previous = structlog.get_config()
    yield
    structlog.configure(**previous)
