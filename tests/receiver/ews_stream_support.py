"""What the EWS listener tests share: a store seeded with active EWS pairs, a bus reader, a listener."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.bus.amqp import AmqpBus
from calbridge.events import ChangeEvent
from calbridge.providers.ews.connection import EwsConnection
from calbridge.settings import Settings, load_settings
from calbridge.store.tables import calendars, connections, pairs
from ews_listener.accounts import ListenerFolders
from ews_listener.stream import EwsListener, ListenerTuning
from ews_listener.worker import StreamTuning

EWS_CONNECTION = "conn-ews"
GOOGLE_CONNECTION = "conn-google"


def ref_of(mailbox: str) -> str:
    return "ews-" + mailbox.split("@")[0]


async def seed_pairs(engine: AsyncEngine, mailboxes: Sequence[str], *, state: str = "active") -> None:
    """One active Google <-> EWS pair per mailbox; the EWS calendar's ref is `ref_of(mailbox)`."""
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        for cid, provider in ((EWS_CONNECTION, "ews"), (GOOGLE_CONNECTION, "google")):
            await conn.execute(
                connections.insert().values(
                    id=cid, provider=provider, name=cid, settings={}, created_at=now, updated_at=now
                )
            )
        for mailbox in mailboxes:
            user = mailbox.split("@")[0]
            await conn.execute(
                calendars.insert(),
                [
                    {
                        "id": ref_of(mailbox),
                        "connection_id": EWS_CONNECTION,
                        "provider": "ews",
                        "owner": mailbox,
                        "calendar": "primary",
                    },
                    {
                        "id": f"g-{user}",
                        "connection_id": GOOGLE_CONNECTION,
                        "provider": "google",
                        "owner": f"{user}@example.org",
                        "calendar": "primary",
                    },
                ],
            )
            await conn.execute(
                pairs.insert().values(
                    id=f"pair-{user}",
                    google_calendar_id=f"g-{user}",
                    microsoft_calendar_id=ref_of(mailbox),
                    state=state,
                )
            )


def ews_connection(ews_url: str) -> EwsConnection:
    return EwsConnection(
        id=EWS_CONNECTION,
        name="ews",
        auth="basic",
        password="s3cret",
        url=ews_url,
        username="svc@example.com",
    )


def quick_tuning(**overrides: object) -> ListenerTuning:
    values: dict[str, object] = {
        "refresh": 0.2,
        "lease_seconds": 3.0,
        "stream": StreamTuning(connection_minutes=1, backoff_initial=0.1, backoff_max=0.5),
    }
    values.update(overrides)
    return ListenerTuning(**values)  # type: ignore[arg-type]


def listener(
    engine: AsyncEngine, bus: object, ews_url: str, **overrides: object
) -> tuple[EwsListener, ListenerFolders]:
    folders = ListenerFolders([ews_connection(ews_url)], streams=4)
    return EwsListener(engine, bus, folders, quick_tuning(**overrides)), folders  # type: ignore[arg-type]


def bus_settings() -> Settings:
    return load_settings(shard_count=2, publish_timeout=5.0, drain_timeout=2.0)


class BusReader:
    """A connected AmqpBus and every change event consumed from its shard queues, in arrival order."""

    def __init__(self, amqp_url: str) -> None:
        self.bus = AmqpBus(amqp_url, bus_settings())
        self.seen: list[ChangeEvent] = []
        self._consumer: object | None = None

    async def __aenter__(self) -> BusReader:
        await self.bus.connect()

        async def keep(event: ChangeEvent) -> None:
            self.seen.append(event)

        self._consumer = await self.bus.consume_changes(keep)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._consumer is not None:
            await self._consumer.stop()  # type: ignore[attr-defined]
        await self.bus.close()

    def of(self, calendar: str, reason: str | None = None) -> list[ChangeEvent]:
        return [e for e in self.seen if e.calendar == calendar and (reason is None or e.reason == reason)]


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]], within: float = 20.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + within
    while True:
        result = condition()
        if await result if inspect.isawaitable(result) else result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g}s waiting for {what}")
        await asyncio.sleep(0.02)
