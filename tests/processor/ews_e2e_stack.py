"""The whole path over EWS, for the Google <-> Exchange end-to-end tests:

    Exchange emulator -> EWS listener (GetStreamingEvents) -> RabbitMQ -> processor -> Google
    Google emulator -> push -> receiver -> RabbitMQ -> processor -> Exchange (EWS adapter)

Alice's Google calendar and her Exchange mailbox's calendar form pair `p1` (two-way, full).
Connections come from the sandbox's connection file (EWS: OAuth client credentials, the
impersonation the sandbox grants the app), stored encrypted, opened through the registry.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from processor_e2e import (
    GOOGLE_REF,
    SHARDS,
    _watch_google,
    add_pair,
    e2e_settings,
    eventually,
    publish_resyncs,
)
from serving import serve
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.bus import open_bus
from calbridge.events import Provider
from calbridge.providers.ews.connection import EwsConnection
from calbridge.providers.registry import Registry
from calbridge.settings import Settings
from calbridge.store import create_engine
from calbridge.store.migrate import upgrade
from ews_listener.accounts import ListenerFolders
from ews_listener.stream import EwsListener, ListenerTuning
from ews_listener.worker import StreamTuning
from processor.opening import store_opener
from processor.service import Processor
from receiver import create_app
from sandbox.client import SandboxControl
from sandbox.ews.control import EwsControlClient
from sandbox.server import Sandbox

ALICE = "alice@example.com"
EWS_REF = "alice_x"
PAIR = "p1"
EWS_WRITES = ("ews.CreateItem", "ews.UpdateItem", "ews.DeleteItem")
GOOGLE_WRITES = (
    "google.events.insert",
    "google.events.update",
    "google.events.patch",
    "google.events.delete",
)


@dataclass
class EwsStack:
    sandbox: Sandbox
    settings: Settings
    engine: AsyncEngine
    processor: Processor
    listener: EwsListener
    control: SandboxControl
    exchange: EwsControlClient

    # --- Alice in Google
    async def google_create(self, body: dict[str, Any]) -> str:
        return str((await self.control.google.create_event(ALICE, body))["id"])

    async def google_edit(self, event_id: str, changes: dict[str, Any]) -> None:
        await self.control.google.edit_event(ALICE, event_id, changes)

    async def google_delete(self, event_id: str) -> None:
        await self.control.google.delete_event(ALICE, event_id)

    async def google_events(self) -> list[dict[str, Any]]:
        state = await self.control.google.calendar(ALICE)
        return [e for e in state["events"] if e.get("status") != "cancelled"]

    # --- Alice in Outlook on Exchange (the emulator's person routes; blocking client)
    async def exchange_create(self, **fields: Any) -> str:
        return str((await asyncio.to_thread(self.exchange.create_item, ALICE, **fields))["id"])

    async def exchange_edit(self, item_id: str, **fields: Any) -> None:
        await asyncio.to_thread(self.exchange.edit_item, ALICE, item_id, **fields)

    async def exchange_move_to_deleted_items(self, item_id: str) -> None:
        await asyncio.to_thread(self.exchange.move_item, ALICE, item_id)

    async def exchange_delete(self, item_id: str) -> None:
        await asyncio.to_thread(self.exchange.delete_item, ALICE, item_id)

    async def exchange_items(self) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.exchange.calendar, ALICE)

    # --- what happened
    async def counters(self) -> dict[str, Any]:
        return await self.control.counters()

    async def writes(self) -> int:
        counters = await self.counters()
        return sum(c["count"] for c in counters["calls"] if c["operation"] in (*EWS_WRITES, *GOOGLE_WRITES))

    async def resync(self) -> None:
        """What the periodic reconciliation does: a RESYNC hint for both calendars."""
        await publish_resyncs(self.settings, (Provider.GOOGLE, GOOGLE_REF), (Provider.EWS, EWS_REF))

    async def idle(self) -> bool:
        """Nothing waiting in the shard queues, and the listener streaming."""
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

    async def streaming(self) -> bool:
        subs = await asyncio.to_thread(self.exchange.subscriptions)
        return any(s["mailbox"] == ALICE for s in subs) and bool(self.listener.held)


def exchange_start(item: dict[str, Any]) -> datetime | str:
    """The instant (timed) or the date (all-day, in UTC: the adapter's all-day zone) an item starts."""
    instant = datetime.fromisoformat(str(item["start"]).replace("Z", "+00:00")).astimezone(UTC)
    return instant.date().isoformat() if item["is_all_day"] else instant


def _control_context(sandbox: Sandbox, url: str) -> ssl.SSLContext | None:
    return ssl.create_default_context(cafile=str(sandbox.ca_file)) if url.startswith("https") else None


@asynccontextmanager
async def open_ews_stack(
    amqp_url: str, folder: Path, *, seed: int = 5, **overrides: object
) -> AsyncIterator[EwsStack]:
    settings = e2e_settings(amqp_url, **overrides)
    database = f"sqlite+aiosqlite:///{folder / 'store.db'}"
    await asyncio.to_thread(upgrade, database)
    engine = create_engine(database)
    async with AsyncExitStack() as stack:
        sandbox = await stack.enter_async_context(Sandbox.start(seed=seed))
        ews_connection = await add_pair(
            engine, settings, sandbox, folder, microsoft=Provider.EWS, microsoft_ref=EWS_REF
        )
        assert isinstance(ews_connection, EwsConnection)
        receiver = serve(create_app(settings, open_bus(settings)), tls=sandbox.tls)
        receiver_url = (await stack.enter_async_context(receiver)).url
        control = await stack.enter_async_context(sandbox.control())
        base = sandbox.info.microsoft["ews_url"].removesuffix("/EWS/Exchange.asmx")
        exchange = EwsControlClient(base, ssl_context=_control_context(sandbox, base))
        bus = open_bus(settings)
        await bus.connect()
        stack.push_async_callback(engine.dispose)
        stack.push_async_callback(bus.close)
        processor = Processor(
            settings,
            bus,
            engine,
            store_opener(engine, settings, Registry(settings)),
            shards=range(SHARDS),
            member="e2e",
        )
        await processor.start()
        stack.push_async_callback(processor.stop)

        folders = ListenerFolders([ews_connection], streams=2)
        stack.callback(folders.close)
        tuning = ListenerTuning(
            refresh=0.2, lease_seconds=5.0, stream=StreamTuning(backoff_initial=0.1, backoff_max=0.5)
        )
        listener = EwsListener(engine, bus, folders, tuning)
        stop = asyncio.Event()
        listening = asyncio.create_task(listener.run(stop))

        async def stop_listening() -> None:
            stop.set()
            await asyncio.wait_for(listening, 15)
            # the emulator holds a stream's handler until its timeout; end them so it stops at once
            await asyncio.to_thread(exchange.cut_streams)

        stack.push_async_callback(stop_listening)
        await _watch_google(sandbox, receiver_url)
        opened = EwsStack(sandbox, settings, engine, processor, listener, control, exchange)
        await eventually(opened.streaming, what="the listener streaming Alice's mailbox")
        yield opened
