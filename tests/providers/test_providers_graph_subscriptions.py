"""Graph subscriptions for the renewer: create (with the validation handshake), renew, delete."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from providers_support import ALICE

from calbridge.errors import NotFound
from calbridge.providers.base import CalendarAddress
from calbridge.providers.graph.adapter import GraphCalendar
from calbridge.providers.graph.subscriptions import (
    create_subscription,
    delete_subscription,
    renew_subscription,
)
from sandbox.graph import GraphControl

pytestmark = pytest.mark.integration


async def echo_validation(request: web.Request) -> web.Response:
    token = request.query.get("validationToken")
    if token is not None:
        return web.Response(text=token, content_type="text/plain")
    return web.Response(status=202)


@pytest.fixture
async def hook_url() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/{path:.*}", echo_validation)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def test_given_a_mailbox_when_subscribing_renewing_and_deleting_then_graph_follows(
    graph: GraphCalendar, graph_control: GraphControl, hook_url: str
) -> None:
    soon = datetime.now(UTC) + timedelta(hours=1)
    created = await create_subscription(
        graph.client,
        CalendarAddress(ALICE),
        notification_url=f"{hook_url}/notifications/graph",
        lifecycle_url=f"{hook_url}/notifications/graph/lifecycle",
        client_state="ref.k1.signature",
        expiration=soon,
    )
    assert abs(created.expiration - soon) < timedelta(seconds=1)
    stored = await graph_control.subscriptions()
    assert [(s["id"], s["resource"]) for s in stored] == [(created.id, f"/users/{ALICE}/events")]

    later = soon + timedelta(days=2)
    renewed = await renew_subscription(graph.client, created.id, later)
    assert renewed.id == created.id and abs(renewed.expiration - later) < timedelta(seconds=1)

    await delete_subscription(graph.client, created.id)
    assert await graph_control.subscriptions() == []
    with pytest.raises(NotFound):
        await renew_subscription(graph.client, created.id, later)
    with pytest.raises(NotFound):
        await delete_subscription(graph.client, created.id)
