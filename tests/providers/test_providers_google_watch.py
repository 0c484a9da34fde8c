"""Google channels for the renewer: open one, see the sandbox deliver to it, stop it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from providers_support import ALICE

from calbridge.errors import NotFound
from calbridge.providers.base import CalendarAddress
from calbridge.providers.google.adapter import GoogleCalendar
from calbridge.providers.google.subscriptions import stop_channel, watch_events
from sandbox.client import SandboxControl

pytestmark = pytest.mark.integration


@pytest.fixture
async def hook_url() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/{path:.*}", lambda request: web.Response(status=200))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/notifications/google"
    await runner.cleanup()


async def test_given_a_calendar_when_watching_then_stopping_then_the_channel_comes_and_goes(
    google: GoogleCalendar, control: SandboxControl, hook_url: str
) -> None:
    channel = await watch_events(
        google.client,
        CalendarAddress(ALICE),
        channel_id="chan-1",
        address=hook_url,
        token="signed-token",
        ttl=timedelta(hours=2),
    )
    assert channel.id == "chan-1" and channel.resource_id
    assert channel.expiration is not None
    assert timedelta(hours=1) < channel.expiration - datetime.now(UTC) <= timedelta(hours=2, minutes=1)
    assert [c["id"] for c in (await control.google.channels())["channels"]] == ["chan-1"]

    await stop_channel(google.client, ALICE, channel)
    with pytest.raises(NotFound):
        await stop_channel(google.client, ALICE, channel)
