"""The whole path for the processor's end-to-end tests:

    sandbox (Google + Graph emulators, real push) -> receiver (real uvicorn, HTTPS) -> RabbitMQ
        -> processor -> the other side of the pair.

The processor is built as `calbridge processor` builds it: connection records in the store
(secrets encrypted), opened through the provider registry into the real adapters.

Alice's Google calendar and her Outlook calendar form pair `p1` (two-way, full detail). The
Google channel and the Graph subscription are made through the real client libraries with
tokens signed by the receiver's key, exactly as the renewer makes them.
"""

from __future__ import annotations

import asyncio
import secrets
import ssl
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet
from polling import eventually  # noqa: F401 - re-exported to this area's tests
from pydantic import SecretStr
from serving import serve
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.bus import open_bus
from calbridge.connections import Connection
from calbridge.events import ChangeEvent, ChangeKind, Provider
from calbridge.providers.registry import Registry
from calbridge.secretbox import open_secretbox
from calbridge.settings import Settings, load_settings
from calbridge.store import create_engine
from calbridge.store.connection_records import save_connection
from calbridge.store.migrate import upgrade
from calbridge.store.tables import calendars, pairs
from calbridge.tokens import sign_token
from calbridge_app.sandbox_connections import sandbox_connections
from processor.opening import store_opener
from processor.service import Processor
from receiver import create_app
from sandbox.client import SandboxControl
from sandbox.graph import GraphControl
from sandbox.server import Sandbox

ALICE = "alice@example.com"
GOOGLE_REF = "alice_g"
MICROSOFT_REF = "alice_m"
PAIR = "p1"
SHARDS = 2
KEYS = {"e2e": secrets.token_urlsafe(32).encode()}
SECRET_KEY = Fernet.generate_key().decode()


def e2e_settings(amqp_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "amqp_url": SecretStr(amqp_url),
        "signing_keys": SecretStr(",".join(f"{kid}:{value.decode()}" for kid, value in KEYS.items())),
        "shard_count": SHARDS,
        "retry_delays": (0.1, 0.2, 0.5, 1.0),
        "drain_timeout": 5.0,
        "ack_budget": 2.0,
        "log_level": "warning",
        "secret_key": SecretStr(SECRET_KEY),
    }
    values.update(overrides)
    return load_settings(**values)


async def add_pair(
    engine: AsyncEngine,
    settings: Settings,
    sandbox: Sandbox,
    folder: Path,
    *,
    microsoft: Provider = Provider.GRAPH,
    microsoft_ref: str = MICROSOFT_REF,
) -> Connection:
    """Connections from the sandbox's connection file, Alice's two calendars, and pair p1 between
    her Google calendar and her `microsoft` (Graph or EWS) one; returns the Microsoft connection."""
    found = {c.provider: c for c in sandbox_connections(sandbox.info.as_json(), "sandbox", folder / "ca.pem")}
    box = open_secretbox(settings)
    async with engine.begin() as conn:
        google, _ = await save_connection(conn, box, found[Provider.GOOGLE])
        other, _ = await save_connection(conn, box, found[microsoft])
        await conn.execute(
            sa.insert(calendars),
            [
                {
                    "id": GOOGLE_REF,
                    "connection_id": google.id,
                    "provider": "google",
                    "owner": ALICE,
                    "calendar": "primary",
                },
                {
                    "id": microsoft_ref,
                    "connection_id": other.id,
                    "provider": microsoft.value,
                    "owner": ALICE,
                    "calendar": "primary",
                },
            ],
        )
        await conn.execute(
            sa.insert(pairs).values(
                id=PAIR, google_calendar_id=GOOGLE_REF, microsoft_calendar_id=microsoft_ref, state="active"
            )
        )
    return other


@dataclass
class Stack:
    sandbox: Sandbox
    settings: Settings
    engine: AsyncEngine
    processor: Processor
    receiver_url: str
    control: SandboxControl
    graph: GraphControl

    # --- people editing their calendars

    async def google_create(self, body: dict[str, Any]) -> str:
        created = await self.control.google.create_event(ALICE, body)
        return str(created["id"])

    async def google_edit(self, event_id: str, changes: dict[str, Any]) -> None:
        await self.control.google.edit_event(ALICE, event_id, changes)

    async def google_delete(self, event_id: str) -> None:
        await self.control.google.delete_event(ALICE, event_id)

    async def outlook_create(self, body: dict[str, Any]) -> str:
        return str((await self.graph.create_event(ALICE, body))["id"])

    async def outlook_edit(self, event_id: str, changes: dict[str, Any]) -> None:
        await self.graph.update_event(ALICE, event_id, changes)

    async def outlook_delete(self, event_id: str) -> None:
        await self.graph.delete_event(ALICE, event_id)

    # --- what each side holds

    async def google_events(self) -> list[dict[str, Any]]:
        """Alice's live Google events (series masters, single events and exceptions)."""
        state = await self.control.google.calendar(ALICE)
        return [e for e in state["events"] if e.get("status") != "cancelled"]

    async def outlook_events(self) -> list[dict[str, Any]]:
        """Alice's Outlook events (series masters and single events)."""
        state = await self.graph.calendar_state(ALICE)
        events: list[dict[str, Any]] = state["events"]
        return events

    async def counters(self) -> dict[str, Any]:
        return await self.control.counters()

    async def settled(self, handled: int) -> bool:
        """At least `handled` hints handled, and none waiting in the shard queues."""
        if self.processor.consumer.handled < handled:
            return False
        import aio_pika

        from calbridge.bus.names import shard_queue

        assert self.settings.amqp_url is not None
        connection = await aio_pika.connect(self.settings.amqp_url.get_secret_value())
        try:
            channel = await connection.channel()
            for index in range(SHARDS):
                queue = await channel.declare_queue(shard_queue(index), passive=True)
                if queue.declaration_result.message_count:
                    return False
        finally:
            await connection.close()
        return True

    async def resync(self) -> None:
        """What the periodic reconciliation does: a resync hint for both calendars."""
        await publish_resyncs(self.settings, (Provider.GOOGLE, GOOGLE_REF), (Provider.GRAPH, MICROSOFT_REF))


async def publish_resyncs(
    settings: Settings, *calendars: tuple[Provider, str], reason: str = "reconcile"
) -> None:
    """Publish a RESYNC hint for each (provider, calendar ref): a reconciliation's by default;
    `operator` (`calbridge pairs resync`) asks for a full read."""
    bus = open_bus(settings)
    await bus.connect()
    try:
        await bus.publish(
            [
                ChangeEvent(provider=provider, calendar=ref, kind=ChangeKind.RESYNC, reason=reason)
                for provider, ref in calendars
            ]
        )
    finally:
        await bus.close()


async def _watch_google(sandbox: Sandbox, receiver_url: str) -> None:
    from google.api_core.client_options import ClientOptions
    from googleapiclient.discovery import build

    service = build(
        "calendar",
        "v3",
        credentials=sandbox.google_credentials(ALICE),
        static_discovery=True,
        client_options=ClientOptions(api_endpoint=sandbox.info.google_api_endpoint),
    )
    token = sign_token(Provider.GOOGLE, GOOGLE_REF, _expiry(), KEYS, channel_id="chan-alice")
    body = {
        "id": "chan-alice",
        "type": "web_hook",
        "address": f"{receiver_url}/notifications/google",
        "token": token,
    }
    await asyncio.to_thread(service.events().watch(calendarId="primary", body=body).execute)


async def _subscribe_graph(sandbox: Sandbox, receiver_url: str) -> None:
    import httpx
    from azure.identity.aio import ClientSecretCredential
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph.generated.models.subscription import Subscription
    from msgraph.graph_request_adapter import options as graph_default_options
    from msgraph_core import GraphClientFactory

    microsoft = sandbox.info.microsoft
    credential = ClientSecretCredential(
        microsoft["tenant_id"],
        microsoft["client_id"],
        microsoft["client_secret"],
        authority=microsoft["graph_authority"],
        disable_instance_discovery=True,
        connection_verify=str(sandbox.ca_file),
    )
    http = httpx.AsyncClient(verify=sandbox.tls.client_context(), timeout=30)
    adapter = GraphRequestAdapter(
        AzureIdentityAuthenticationProvider(credential, scopes=["https://graph.microsoft.com/.default"]),
        client=GraphClientFactory.create_with_default_middleware(client=http, options=graph_default_options),
    )
    adapter.base_url = microsoft["graph_url"]
    try:
        await GraphServiceClient(request_adapter=adapter).subscriptions.post(
            Subscription(
                change_type="created,updated,deleted",
                notification_url=f"{receiver_url}/notifications/graph",
                resource=f"/users/{ALICE}/events",
                client_state=sign_token(Provider.GRAPH, MICROSOFT_REF, _expiry(), KEYS),
                expiration_date_time=datetime.now(UTC) + timedelta(minutes=60),
            )
        )
    finally:
        await http.aclose()
        await credential.close()


def _expiry() -> datetime:
    return datetime.now(UTC) + timedelta(days=1)


@asynccontextmanager
async def open_stack(
    amqp_url: str,
    folder: Path,
    *,
    seed: int = 3,
    processor_url: str | None = None,
    spread: bool = False,
    **overrides: object,
) -> AsyncIterator[Stack]:
    """The stack on `amqp_url`; the processor alone reaches the broker at `processor_url` when given
    (e.g. through a proxy a test cuts), and with `spread` it shares the shards through membership
    as `calbridge processor` without --shards does, instead of consuming every shard."""
    settings = e2e_settings(amqp_url, **overrides)
    own = (
        settings
        if processor_url is None
        else settings.model_copy(update={"amqp_url": SecretStr(processor_url)})
    )
    database = f"sqlite+aiosqlite:///{folder / 'store.db'}"
    await asyncio.to_thread(upgrade, database)
    engine = create_engine(database)
    async with AsyncExitStack() as stack:
        sandbox = await stack.enter_async_context(Sandbox.start(seed=seed))
        await add_pair(engine, settings, sandbox, folder)
        # HTTPS with the sandbox's CA: Graph notifies only HTTPS addresses.
        receiver = serve(create_app(settings, open_bus(settings)), tls=sandbox.tls)
        receiver_url = (await stack.enter_async_context(receiver)).url
        control = await stack.enter_async_context(sandbox.control())
        graph = await stack.enter_async_context(
            GraphControl(
                sandbox.info.microsoft["graph_authority"],
                ssl.create_default_context(cafile=str(sandbox.ca_file)),
            )
        )
        bus = open_bus(own)
        await bus.connect()
        stack.push_async_callback(engine.dispose)
        stack.push_async_callback(bus.close)
        opener = store_opener(engine, own, Registry(own))
        shards = None if spread else range(SHARDS)
        processor = Processor(own, bus, engine, opener, shards=shards, member="e2e")
        await processor.start()
        stack.push_async_callback(processor.stop)
        await _watch_google(sandbox, receiver_url)
        await _subscribe_graph(sandbox, receiver_url)
        yield Stack(sandbox, settings, engine, processor, receiver_url, control, graph)


# --- reading events back


def google_start(event: dict[str, Any]) -> datetime | str:
    """The instant (timed) or the date (all-day) a Google event starts."""
    start = event["start"]
    return start["date"] if "date" in start else datetime.fromisoformat(start["dateTime"]).astimezone(UTC)


def outlook_start(event: dict[str, Any]) -> datetime | str:
    """The same for an Outlook event (the emulator reports times in UTC)."""
    start = event["start"]
    assert start["timeZone"] == "UTC", start
    instant = datetime.fromisoformat(start["dateTime"][:19]).replace(tzinfo=UTC)
    return instant.date().isoformat() if event.get("isAllDay") else instant


async def google_occurrences(control: SandboxControl, owner: str, series_id: str) -> set[datetime | date]:
    """What Google lists as a series' live occurrences (as `events.instances`): instants, or
    dates for an all-day series; its lines expanded, less its cancelled instances, moved
    instances at their new start."""
    from sandbox.google.recurrence import original_starts

    def start_of(value: dict[str, str]) -> datetime | date:
        if "date" in value:
            return date.fromisoformat(value["date"])
        return datetime.fromisoformat(value["dateTime"]).astimezone(UTC)

    state = await control.google.calendar(owner)
    (master,) = [e for e in state["events"] if e["id"] == series_id]
    exceptions = {
        start_of(e["originalStartTime"]): e for e in state["events"] if e.get("recurringEventId") == series_id
    }
    found: set[datetime | date] = set()
    for original in original_starts(master):
        key = original.day if original.day is not None else original.moment.astimezone(UTC)  # type: ignore[union-attr]
        exception = exceptions.get(key)
        if exception is None:
            found.add(key)
        elif exception.get("status") != "cancelled":
            found.add(start_of(exception["start"]))
    return found


def titled(events: list[dict[str, Any]], title: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get("summary", e.get("subject")) == title]


WRITES = {
    "google.events.insert",
    "google.events.update",
    "google.events.patch",
    "google.events.delete",
    "google.events.import",
    "graph.events.create",
    "graph.events.update",
    "graph.events.delete",
}


def writes(counters: dict[str, Any]) -> int:
    """API writes the emulators served (people's edits through the control API are not counted)."""
    return sum(c["count"] for c in counters["calls"] if c["operation"] in WRITES)


def api_calls(counters: dict[str, Any]) -> int:
    """Every Google/Graph API call but token fetches, push deliveries and subscriptions."""
    skipped = ("oauth", "token", "push", "watch", "subscriptions", "notify")
    return sum(c["count"] for c in counters["calls"] if not any(word in c["operation"] for word in skipped))


BERLIN = "Europe/Berlin"


def timed_series(title: str, start: str, end: str, *lines: str, zone: str = BERLIN) -> dict[str, Any]:
    """A Google series body: wall times in `zone` and its RRULE/RDATE/EXDATE lines."""
    return {
        "summary": title,
        "start": {"dateTime": start, "timeZone": zone},
        "end": {"dateTime": end, "timeZone": zone},
        "recurrence": list(lines),
    }


def berlin(text: str) -> datetime:
    """A Berlin wall time as a UTC instant."""
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(BERLIN)).astimezone(UTC)


# Google, the second 01:30 of New York's fall-back night (-05:00), a 10-minute pop-up and a
# 60-minute e-mail: the instant and the one reminder Outlook and Exchange must keep.
NIGHT_SHIFT: dict[str, Any] = {
    "summary": "night shift",
    "start": {"dateTime": "2027-11-07T01:30:00-05:00", "timeZone": "America/New_York"},
    "end": {"dateTime": "2027-11-07T02:30:00-05:00", "timeZone": "America/New_York"},
    "reminders": {
        "useDefault": False,
        "overrides": [{"method": "email", "minutes": 60}, {"method": "popup", "minutes": 10}],
    },
}
