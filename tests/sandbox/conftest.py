"""Fixtures for the sandbox tests: an in-process sandbox, the real Google client against it and
a local webhook receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from multidict import CIMultiDict
from sandbox_support import ALICE, Receiver

from sandbox.client import SandboxControl
from sandbox.server import Sandbox


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    async with Sandbox.start(seed=7) as sandbox:
        yield sandbox


@pytest.fixture
async def control(sb: Sandbox) -> AsyncIterator[SandboxControl]:
    async with sb.control() as client:
        yield client


@pytest.fixture
def alice_events(sb: Sandbox) -> Any:
    """Alice's cached `events()` Resource (building it per call costs milliseconds)."""
    return sb.google_service(ALICE).events()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook endpoint on loopback that records what Google-style pushes bring."""
    found = Receiver(url="")

    async def handle(request: web.Request) -> web.Response:
        found.messages.append(
            CIMultiDict((k, v) for k, v in request.headers.items() if k.lower().startswith("x-goog-"))
        )
        found.bodies.append(await request.read())
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/notifications/google", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    found.url = f"http://127.0.0.1:{runner.addresses[0][1]}/notifications/google"
    yield found
    await runner.cleanup()
