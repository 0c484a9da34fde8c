"""A store with one active pair over two honest in-memory calendars, and a processor around it.

Used by the consumer, spread and DLQ tests: the store is a real migrated SQLite database, the
bus is the memory bus or a fresh RabbitMQ vhost, and the calendars are `sync_fakes.FakeCalendar`s.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from polling import eventually  # noqa: F401 - re-exported to this area's tests
from sqlalchemy.ext.asyncio import AsyncEngine
from sync_fakes import Clock, FakeCalendar

from calbridge.bus import open_bus
from calbridge.bus.base import Bus
from calbridge.events import ChangeEvent, ChangeKind, Provider
from calbridge.model import Event, Timed
from calbridge.providers.base import CalendarProvider
from calbridge.settings import Settings, load_settings
from calbridge.store import create_engine
from calbridge.store.migrate import upgrade
from calbridge.store.tables import calendars, connections, pairs
from processor.consumer import ChangeConsumer
from processor.directory import PairDirectory
from processor.providers import ProviderCache
from processor.sync.links import StoredLinks

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
GOOGLE_REF = "calg"
MICROSOFT_REF = "calm"
PAIR = "p1"


def processor_settings(amqp_url: str | None = None, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "shard_count": 4,
        "retry_delays": (0.05, 0.1, 0.2),
        "drain_timeout": 5.0,
        "publish_timeout": 2.0,
        "processor_heartbeat": 0.2,
        "amqp_url": amqp_url,
    }
    values.update(overrides)
    return load_settings(**values)


def meeting(title: str = "Planning", hour: int = 9) -> Event:
    start = T0 + timedelta(hours=hour - 9)
    return Event(id="", title=title, span=Timed(start, start + timedelta(hours=1)))


def hint(calendar: str = GOOGLE_REF, **fields: object) -> ChangeEvent:
    provider = Provider.GOOGLE if calendar == GOOGLE_REF else Provider.GRAPH
    values: dict[str, object] = {"kind": ChangeKind.CHANGED, **fields}
    return ChangeEvent(provider=provider, calendar=calendar, **values)  # type: ignore[arg-type]


async def migrated_store(url: str) -> AsyncEngine:
    await asyncio.to_thread(upgrade, url)
    return create_engine(url)


async def add_pair(
    engine: AsyncEngine,
    pair: str = PAIR,
    google: str = GOOGLE_REF,
    microsoft: str = MICROSOFT_REF,
    state: str = "active",
) -> None:
    async with engine.begin() as conn:
        for connection, provider in (("conn-g", "google"), ("conn-m", "graph")):
            exists = (
                await conn.execute(sa.select(connections.c.id).where(connections.c.id == connection))
            ).first()
            if exists is None:
                await conn.execute(
                    sa.insert(connections).values(
                        id=connection, provider=provider, name=connection, settings={}
                    )
                )
        for ref, connection, provider in ((google, "conn-g", "google"), (microsoft, "conn-m", "graph")):
            exists = (await conn.execute(sa.select(calendars.c.id).where(calendars.c.id == ref))).first()
            if exists is None:
                await conn.execute(
                    sa.insert(calendars).values(
                        id=ref,
                        connection_id=connection,
                        provider=provider,
                        owner=f"{ref}@example.com",
                        calendar="primary",
                    )
                )
        await conn.execute(
            sa.insert(pairs).values(
                id=pair, google_calendar_id=google, microsoft_calendar_id=microsoft, state=state
            )
        )


async def pair_state(engine: AsyncEngine, pair: str = PAIR) -> tuple[str, str | None]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(sa.select(pairs.c.state, pairs.c.state_reason).where(pairs.c.id == pair))
        ).one()
    return row.state, row.state_reason


class World:
    """Two fake calendars behind connections conn-g and conn-m, a store, a bus and a consumer."""

    def __init__(self, engine: AsyncEngine, bus: Bus, settings: Settings) -> None:
        clock = Clock()
        self.engine = engine
        self.bus = bus
        self.settings = settings
        self.google = FakeCalendar(Provider.GOOGLE, "g", clock, removals="cancelled")
        self.microsoft = FakeCalendar(Provider.GRAPH, "m", clock)
        self.consumer = self.new_consumer()

    async def open_provider(self, connection_id: str) -> CalendarProvider:
        return {"conn-g": self.google, "conn-m": self.microsoft}[connection_id]

    def new_consumer(self) -> ChangeConsumer:
        """A consumer as a freshly started process would have (empty caches)."""
        return ChangeConsumer(
            PairDirectory(self.engine), StoredLinks(self.engine), ProviderCache(self.open_provider)
        )

    def mirrors(self) -> list[str]:
        """Ids of the mirrors calbridge wrote into the Microsoft calendar."""
        return sorted(eid for eid, stored in self.microsoft.live().items() if stored.stamp is not None)

    async def close(self) -> None:
        await self.bus.close()
        await self.engine.dispose()


async def open_world(sqlite_url: str, settings: Settings) -> World:
    engine = await migrated_store(sqlite_url)
    await add_pair(engine)
    bus = open_bus(settings)
    await bus.connect()
    return World(engine, bus, settings)
