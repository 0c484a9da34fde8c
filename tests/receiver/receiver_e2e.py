"""The end-to-end stack of the receiver tests: sandbox -> receiver (real uvicorn, HTTPS with a
certificate of the sandbox's CA) -> proxy -> RabbitMQ.

The receiver's bus reaches the broker through a loopback proxy (`bus_proxy.BrokerProxy`) that a
test can cut and restore, so broker outages are simulated without touching the shared broker.
What reached the broker is read straight from it: the depth of the shard queues (exact, by passive
declare) and the change events themselves, taken by the real AmqpBus consumer.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aio_pika
import httpx
from bus_proxy import BrokerProxy
from polling import eventually
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from serving import serve

from calbridge.bus import open_bus
from calbridge.bus.amqp import AmqpBus
from calbridge.bus.names import shard_queue
from calbridge.events import ChangeEvent, ChangeKind, LifecycleEvent, Provider
from calbridge.settings import Settings, load_settings
from calbridge.tokens import sign_token
from receiver import create_app
from sandbox.server import Sandbox

SHARDS = 2
KEYS = {"e2e": secrets.token_urlsafe(32).encode()}
ROGUE_KEYS = {"rogue": secrets.token_urlsafe(32).encode()}  # a key id the receiver does not know
STOLEN_KID_KEYS = {"e2e": secrets.token_urlsafe(32).encode()}  # our key id, another secret
ALICE = "alice@example.com"


def e2e_settings(amqp_url: str) -> Settings:
    secret = ",".join(f"{kid}:{value.decode()}" for kid, value in KEYS.items())
    return load_settings(
        amqp_url=SecretStr(amqp_url),
        signing_keys=SecretStr(secret),
        shard_count=SHARDS,
        ack_budget=2.0,
        publish_timeout=1.5,
        retry_delays=(0.1,),
        drain_timeout=2.0,
    )


def expires() -> datetime:
    return datetime.now(UTC) + timedelta(days=1)


def google_token(ref: str, channel_id: str, keys: dict[str, bytes] = KEYS) -> str:
    return sign_token(Provider.GOOGLE, ref, expires(), keys, channel_id=channel_id)


def graph_state(ref: str, keys: dict[str, bytes] = KEYS) -> str:
    return sign_token(Provider.GRAPH, ref, expires(), keys)


def tampered(token: str) -> str:
    """The token with the calendar ref swapped for another, MAC kept: what an attacker would try."""
    head, ref, rest = token.split(".", 2)
    return f"{head}.{ref}x.{rest}"


@dataclass
class Stack:
    sandbox: Sandbox
    proxy: BrokerProxy
    receiver_url: str
    amqp_url: str  # direct to the broker, for the test's own reads
    settings: Settings
    http: httpx.AsyncClient  # to the receiver

    # --- the receiver's own view

    async def ready(self) -> bool:
        return (await self.http.get("/readyz")).status_code == 200

    async def not_ready(self) -> bool:
        return (await self.http.get("/readyz")).status_code == 503

    async def metrics(self) -> Metrics:
        response = await self.http.get("/metrics")
        assert response.status_code == 200
        return Metrics.parse(response.text)

    # --- the broker's view

    async def queued_changes(self) -> int:
        """Change events waiting in the shard queues, counted by the broker itself."""
        return await self.queued(*(shard_queue(index) for index in range(SHARDS)))

    async def queued(self, *queues: str) -> int:
        """Messages ready in the given queues, by passive declare (exact, unlike the management API)."""
        connection = await aio_pika.connect(self.amqp_url)
        try:
            channel = await connection.channel()
            total = 0
            for name in queues:
                queue = await channel.declare_queue(name, passive=True)
                total += queue.declaration_result.message_count or 0
            return total
        finally:
            await connection.close()

    async def consume_lifecycle(self, expected: int, within: float = 10.0) -> list[LifecycleEvent]:
        """Take `expected` lifecycle events off their queue with the real AmqpBus consumer."""
        taken: list[LifecycleEvent] = []

        async def handle(event: LifecycleEvent) -> None:
            taken.append(event)

        bus = AmqpBus(self.amqp_url, self.settings)
        await bus.connect()
        try:
            consumer = await bus.consume_lifecycle(handle)

            async def enough() -> bool:
                return len(taken) >= expected

            await eventually(enough, within, f"{expected} lifecycle events on the bus")
            await consumer.stop()
        finally:
            await bus.close()
        return taken

    async def consume_changes(self, expected: int, within: float = 10.0) -> list[ChangeEvent]:
        """Take `expected` change events off the shard queues with the real AmqpBus consumer."""
        taken: list[ChangeEvent] = []

        async def handle(event: ChangeEvent) -> None:
            taken.append(event)

        bus = AmqpBus(self.amqp_url, self.settings)
        await bus.connect()
        try:
            consumer = await bus.consume_changes(handle)

            async def enough() -> bool:
                return len(taken) >= expected

            await eventually(enough, within, f"{expected} change events on the bus")
            await consumer.stop()
        finally:
            await bus.close()
        return taken


@dataclass(frozen=True)
class Metrics:
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]

    @classmethod
    def parse(cls, text: str) -> Metrics:
        samples = {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }
        return cls(samples)

    def value(self, name: str, **labels: str) -> float:
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def notifications(self, provider: str, outcome: str) -> float:
        return self.value("calbridge_notifications_total", provider=provider, outcome=outcome)

    def responses(self, route: str, status: int) -> float:
        return self.value("calbridge_receiver_responses_total", route=route, status=str(status))


@asynccontextmanager
async def open_stack(amqp_url: str, seed: int = 11, *, broker_away: bool = False) -> AsyncIterator[Stack]:
    """The stack; with `broker_away` the proxy is cut before the receiver starts (a broker that
    is down, or not up yet, when the receiver comes up)."""
    broker = urlsplit(amqp_url)
    proxy = BrokerProxy(broker.hostname or "127.0.0.1", broker.port or 5672)
    await proxy.start()
    if broker_away:
        proxy.cut()
    settings = e2e_settings(proxy.url_for(amqp_url))
    try:
        async with (
            Sandbox.start(seed=seed) as sandbox,
            # HTTPS with the sandbox's CA: Graph notifies only HTTPS addresses.
            serve(create_app(settings, open_bus(settings)), tls=sandbox.tls) as running,
            httpx.AsyncClient(base_url=running.url, verify=sandbox.tls.client_context(), timeout=10) as http,
        ):
            try:
                yield Stack(sandbox, proxy, running.url, amqp_url, settings, http)
            finally:
                proxy.restore()  # let the bus close cleanly whatever the test did
    finally:
        await proxy.close()


# --- Google: channels through the real client library, deliveries read from the sandbox


async def watch(stack: Stack, events: Any, channel_id: str, token: str) -> dict[str, Any]:
    body = {
        "id": channel_id,
        "type": "web_hook",
        "address": f"{stack.receiver_url}/notifications/google",
        "token": token,
    }
    request = events.watch(calendarId="primary", body=body)
    result: dict[str, Any] = await asyncio.to_thread(request.execute)
    return result


async def google_deliveries(stack: Stack) -> list[dict[str, Any]]:
    async with stack.sandbox.control() as control:
        channels = await control.google.channels()
    deliveries: list[dict[str, Any]] = channels["deliveries"]
    return deliveries


def answered(deliveries: list[dict[str, Any]], channel_id: str, state: str, status: int) -> int:
    return sum(
        1
        for d in deliveries
        if d["channel_id"] == channel_id and d["state"] == state and d["status"] == status
    )


def timed_event(summary: str) -> dict[str, Any]:
    return {
        "summary": summary,
        "start": {"dateTime": "2026-12-01T09:00:00Z"},
        "end": {"dateTime": "2026-12-01T10:00:00Z"},
    }


# --- Graph: subscriptions through msgraph-sdk, a person's edits through the emulator's control API

GRAPH_SCOPES = ["https://graph.microsoft.com/.default"]


def graph_world(stack: Stack) -> Any:
    """The Graph emulator's world (to shorten its retry delays; it lives on the sandbox's loop)."""
    return stack.sandbox.server.optional["graph"].world


def exchange_echoes(stack: Stack, *, after_create: int, after_update: int) -> None:
    """Fix how many extra `updated` notifications Exchange sends after a create and after an
    update (it sends some 2 to 4 per change; the emulator draws 0-2 and 1-3), so a test can
    count deliveries exactly."""
    world = graph_world(stack)
    world.create_echoes = (after_create, after_create)
    world.update_echoes = (after_update, after_update)


def distinct_changes(events: list[ChangeEvent]) -> list[ChangeEvent]:
    """The events that report something new, in order: Graph's repeats of a change (the same
    event at the same version, `updated` after a `created` included) are left out, as the
    processor's known-version check leaves them out (`processor.echoes`). A deletion is new."""
    seen: set[tuple[str | None, str | None, bool]] = set()
    firsts: list[ChangeEvent] = []
    for event in events:
        key = (event.resource, event.version, event.kind is ChangeKind.DELETED)
        if event.version is None or key not in seen:
            seen.add(key)
            firsts.append(event)
    return firsts


@asynccontextmanager
async def graph_client(stack: Stack) -> AsyncIterator[Any]:
    """A GraphServiceClient (msgraph-sdk + azure-identity) pointed at the sandbox."""
    from azure.identity.aio import ClientSecretCredential
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )
    from msgraph.graph_request_adapter import GraphRequestAdapter
    from msgraph.graph_request_adapter import options as graph_default_options
    from msgraph.graph_service_client import GraphServiceClient
    from msgraph_core import GraphClientFactory

    microsoft = stack.sandbox.info.microsoft
    credential = ClientSecretCredential(
        microsoft["tenant_id"],
        microsoft["client_id"],
        microsoft["client_secret"],
        authority=microsoft["graph_authority"],
        disable_instance_discovery=True,
        connection_verify=str(stack.sandbox.ca_file),
    )
    http = httpx.AsyncClient(verify=stack.sandbox.tls.client_context(), timeout=30)
    adapter = GraphRequestAdapter(
        AzureIdentityAuthenticationProvider(credential, scopes=GRAPH_SCOPES),
        client=GraphClientFactory.create_with_default_middleware(client=http, options=graph_default_options),
    )
    adapter.base_url = microsoft["graph_url"]
    try:
        yield GraphServiceClient(request_adapter=adapter)
    finally:
        await http.aclose()
        await credential.close()


async def subscribe(client: Any, stack: Stack, client_state: str, *, lifecycle: bool = False) -> Any:
    """Create a Graph subscription on Alice's events that notifies the receiver."""
    from msgraph.generated.models.subscription import Subscription

    base = f"{stack.receiver_url}/notifications/graph"
    request = Subscription(
        change_type="created,updated,deleted",
        notification_url=base,
        lifecycle_notification_url=f"{base}/lifecycle" if lifecycle else None,
        resource=f"/users/{ALICE}/events",
        client_state=client_state,
        expiration_date_time=datetime.now(UTC) + timedelta(minutes=60),
    )
    return await client.subscriptions.post(request)


@asynccontextmanager
async def graph_control(stack: Stack) -> AsyncIterator[Any]:
    from sandbox.graph import GraphControl

    origin = stack.sandbox.info.microsoft["graph_authority"]
    control = GraphControl(origin, stack.sandbox.tls.client_context())
    try:
        yield control
    finally:
        await control.close()


async def graph_notifications(stack: Stack) -> dict[str, int]:
    """Notification items the emulator got a 2xx for (`delivered`) or gave up on (`failed`)."""
    origin = stack.sandbox.info.microsoft["graph_authority"]
    async with httpx.AsyncClient(verify=stack.sandbox.tls.client_context(), timeout=10) as http:
        response = await http.get(f"{origin}/_control/graph/notifications")
    response.raise_for_status()
    counts: dict[str, int] = response.json()
    return counts


def graph_event(subject: str) -> dict[str, Any]:
    return {
        "subject": subject,
        "start": {"dateTime": "2026-12-01T09:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-12-01T10:00:00", "timeZone": "UTC"},
    }
