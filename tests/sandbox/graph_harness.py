"""Serve the Graph emulator over HTTPS (the sandbox CA, ephemeral 127.0.0.1 port) for the real
msgraph-sdk and azure-identity, plus a local HTTPS webhook endpoint that records what Graph POSTs
(real Graph refuses plain-http endpoints; the emulator trusts the sandbox CA as Graph trusts a
public one).

Test modules import the fixtures they use from here (`from graph_harness import graph, ...`).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from azure.identity.aio import ClientSecretCredential
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
from msgraph.generated.models.entity import Entity
from msgraph.graph_request_adapter import options as graph_default_options
from msgraph_core import GraphClientFactory

from sandbox.clock import Clock
from sandbox.counters import Counters
from sandbox.faults import Faults
from sandbox.graph import GraphControl, GraphWorld, build_graph_app
from sandbox.tls import SandboxTLS

ALICE = "alice@contoso.test"
BOB = "bob@contoso.test"
CAROL = "carol@contoso.test"
SCOPES = ["https://graph.microsoft.com/.default"]


def _entity_fields(self: Entity) -> dict[str, Any]:
    return {
        "id": lambda n: setattr(self, "id", n.get_str_value()),
        "@odata.type": lambda n: setattr(self, "odata_type", n.get_str_value()),
    }


# Same two fields as the SDK's own Entity.get_field_deserializers, minus its ~2,400 imports per
# call (about 7 ms per deserialized object): keeps this area's tests fast, changes no result.
Entity.get_field_deserializers = _entity_fields  # type: ignore[method-assign]


def at(local: str, zone: str = "UTC") -> DateTimeTimeZone:
    return DateTimeTimeZone(date_time=local, time_zone=zone)


async def wait_for(condition: Callable[[], Any], within: float = 5.0) -> Any:
    """Poll `condition` until it is truthy; fail the test after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = condition()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@dataclass
class GraphSandbox:
    world: GraphWorld
    faults: Faults
    clock: Clock
    counters: Counters
    origin: str
    ca_path: Path
    client_ssl: ssl.SSLContext
    control: GraphControl
    closers: list[Any] = field(default_factory=list)

    def credential(self, secret: str | None = None) -> ClientSecretCredential:
        credential = ClientSecretCredential(
            self.world.tenant_id,
            self.world.client_id,
            self.world.client_secret if secret is None else secret,
            authority=self.origin,
            disable_instance_discovery=True,
            connection_verify=str(self.ca_path),
        )
        self.closers.append(credential)
        return credential

    def client(self) -> GraphServiceClient:
        auth = AzureIdentityAuthenticationProvider(self.credential(), scopes=SCOPES)
        http = httpx.AsyncClient(verify=self.client_ssl, timeout=30)
        self.closers.append(http)
        adapter = GraphRequestAdapter(
            auth,
            client=GraphClientFactory.create_with_default_middleware(
                client=http, options=graph_default_options
            ),
        )
        adapter.base_url = f"{self.origin}/v1.0"
        return GraphServiceClient(request_adapter=adapter)

    async def raw(
        self, method: str, path: str, *, json: Any = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """One Graph call by hand (`path` after /v1.0, ids already percent-encoded, or a whole
        next/delta link): for what the SDK hides, such as response headers."""
        token = await self.credential().get_token(*SCOPES)
        http = httpx.AsyncClient(verify=self.client_ssl, timeout=30)
        self.closers.append(http)
        sent = {"Authorization": f"Bearer {token.token}", **(headers or {})}
        url = path if path.startswith("https://") else f"{self.origin}/v1.0{path}"
        return await http.request(method, url, json=json, headers=sent)

    async def close(self) -> None:
        for closer in self.closers:
            await (closer.aclose() if isinstance(closer, httpx.AsyncClient) else closer.close())
        await self.control.close()


def _tls(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext, Path]:
    tls = SandboxTLS.create()
    ca_path = tmp_path / "graph-ca.pem"
    ca_path.write_text(tls.ca_pem)
    return tls.server_context(), ssl.create_default_context(cafile=str(ca_path)), ca_path


async def serve(app: web.Application, ssl_context: ssl.SSLContext | None = None) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    return runner, port


@pytest.fixture
async def graph(tmp_path: Path) -> AsyncIterator[GraphSandbox]:
    """Given a tenant with alice, bob and carol, served over HTTPS on an ephemeral port."""
    server_ssl, client_ssl, ca_path = _tls(tmp_path)
    world = GraphWorld(
        seed=7,
        validation_timeout=2.0,
        notification_timeout=1.0,
        notification_retry_delays=(0.05, 0.1),
        notification_ssl=client_ssl,
    )
    for address in (ALICE, BOB, CAROL):
        world.add_mailbox(address)
    faults, clock, counters = Faults(seed=7), Clock(), Counters()
    runner, port = await serve(build_graph_app(world, faults, clock, counters), server_ssl)
    origin = f"https://127.0.0.1:{port}"
    sandbox = GraphSandbox(
        world, faults, clock, counters, origin, ca_path, client_ssl, GraphControl(origin, client_ssl)
    )
    try:
        yield sandbox
    finally:
        await sandbox.close()
        await runner.cleanup()


class Webhook:
    """A subscriber's endpoint: echoes validation tokens (or not) and records what arrives."""

    def __init__(self) -> None:
        self.echo = True
        self.status = 202
        self.notifications: list[dict[str, Any]] = []
        self.lifecycle: list[dict[str, Any]] = []
        self.posts = 0
        self.delays: list[float] = []  # seconds to stall the next POSTs: a slow endpoint
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        token = request.query.get("validationToken")
        if token is not None:
            if self.echo:
                return web.Response(text=token, content_type="text/plain")
            return web.Response(text="hello", content_type="text/html")
        self.posts += 1
        if self.delays:
            await asyncio.sleep(self.delays.pop(0))
        if self.status >= 300:
            return web.Response(status=self.status)
        items = (await request.json())["value"]
        target = self.lifecycle if request.path.endswith("/lifecycle") else self.notifications
        target.extend(items)
        return web.Response(status=self.status)


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    hook = Webhook()
    app = web.Application()
    app.router.add_post("/{path:.*}", hook.handle)
    runner, port = await serve(app, SandboxTLS.create().server_context())
    hook.url = f"https://127.0.0.1:{port}"
    try:
        yield hook
    finally:
        await runner.cleanup()
