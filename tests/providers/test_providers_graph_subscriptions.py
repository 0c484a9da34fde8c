"""Graph subscriptions for the renewer: create (with the validation handshake), renew, delete."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from providers_support import ALICE

from calbridge.errors import NotFound, PermanentProviderError
from calbridge.providers.base import CalendarAddress
from calbridge.providers.graph.adapter import GraphCalendar
from calbridge.providers.graph.subscriptions import (
    create_subscription,
    delete_subscription,
    renew_subscription,
)
from sandbox.graph import GraphControl
from sandbox.server import Sandbox

pytestmark = pytest.mark.integration


async def echo_validation(request: web.Request) -> web.Response:
    token = request.query.get("validationToken")
    if token is not None:
        return web.Response(text=token, content_type="text/plain")
    return web.Response(status=202)


async def serve_hook(tls: ssl.SSLContext | None) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/{path:.*}", echo_validation)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls).start()
    scheme = "https" if tls is not None else "http"
    return runner, f"{scheme}://127.0.0.1:{runner.addresses[0][1]}"


@pytest.fixture
async def hook_url(sandbox: Sandbox) -> AsyncIterator[str]:
    """A webhook endpoint over HTTPS with a certificate of the sandbox's CA (Graph requires
    HTTPS and, like Graph trusting public CAs, the emulator trusts the sandbox's)."""
    runner, url = await serve_hook(sandbox.tls.server_context())
    yield url
    await runner.cleanup()


@pytest.fixture
async def plain_hook_url() -> AsyncIterator[str]:
    runner, url = await serve_hook(None)
    yield url
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


async def test_given_a_plain_http_address_when_subscribing_then_the_error_says_what_graph_said(
    graph: GraphCalendar, graph_control: GraphControl, plain_hook_url: str
) -> None:
    with pytest.raises(PermanentProviderError) as refused:
        await create_subscription(
            graph.client,
            CalendarAddress(ALICE),
            notification_url=f"{plain_hook_url}/notifications/graph",
            client_state="ref.k1.signature",
            expiration=datetime.now(UTC) + timedelta(hours=1),
        )
    said = str(refused.value)
    assert said.startswith("graph 400 InvalidRequest: ") and "scheme='http' is not supported" in said
    assert "ref.k1.signature" not in said
    assert await graph_control.subscriptions() == []
