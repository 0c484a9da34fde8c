"""The renewer's integration world: the sandbox (Google + Graph emulators), the receiver served
on loopback with a real RabbitMQ bus, a migrated store with active pairs, and a Renewer whose
clock is the sandbox's clock. Test modules import `world` and helpers from here.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import SecretStr
from serving import serve
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.bus import Bus, open_bus
from calbridge.events import ChangeEvent, ChangeKind, Provider
from calbridge.providers.google.client import GoogleClient
from calbridge.providers.google.subscriptions import GoogleWatch
from calbridge.providers.graph.client import GraphClient
from calbridge.providers.graph.subscriptions import GraphSubscriptions
from calbridge.providers.subscriptions import SubscriptionProvider
from calbridge.settings import Settings, load_settings
from calbridge.store.engine import create_engine
from calbridge.store.migrate import upgrade
from calbridge.store.tables import calendars, connections, pairs, subscriptions
from receiver.app import create_app
from sandbox.graph import GraphControl
from sandbox.server import Sandbox
from subscriptions.mirrors import OpenCalendar
from subscriptions.renewer import Endpoints, Renewer
from subscriptions.rows import CalendarInfo
from subscriptions.schedule import RenewalPolicy

ALICE = "alice@example.com"
BOB = "bob@example.com"
KEYS = {"k2": b"b" * 32, "k1": b"a" * 32}  # k2 signs; k1 still verifies
NEXT_KEY = {"k3": b"c" * 32}  # the receiver already knows it: a rotation puts it first


def keys_setting(keys: dict[str, bytes]) -> SecretStr:
    return SecretStr(",".join(f"{kid}:{secret.decode()}" for kid, secret in keys.items()))


def google_client(sb: Sandbox) -> GoogleClient:
    """The adapters' Google client, pointed at the sandbox."""
    return GoogleClient(
        sb.info.google_service_account,
        api_endpoint=sb.info.google_api_endpoint,
        token_uri=sb.info.google_token_uri,
        threads=2,
        timeout=10,
    )


def graph_client(sb: Sandbox) -> GraphClient:
    """The adapters' Graph client (SDK retries off: retrying is the renewer's policy)."""
    ms = sb.info.microsoft
    return GraphClient(
        ms["tenant_id"],
        ms["client_id"],
        ms["client_secret"],
        authority=ms["graph_authority"],
        graph_url=ms["graph_url"],
        ca_file=str(sb.ca_file),
        timeout=10,
    )


@dataclass
class BusTap:
    """Every change event on the bus, as a consumer of all shards sees it."""

    events: list[ChangeEvent] = field(default_factory=list)

    async def handle(self, event: ChangeEvent) -> None:
        self.events.append(event)

    def of(
        self, calendar: str, kind: ChangeKind | None = None, reason: str | None = None
    ) -> list[ChangeEvent]:
        return [
            e
            for e in self.events
            if e.calendar == calendar
            and (kind is None or e.kind == kind)
            and (reason is None or e.reason == reason)
        ]


@dataclass
class World:
    sb: Sandbox
    engine: AsyncEngine
    bus: Bus
    settings: Settings
    receiver_url: str
    google: GoogleWatch
    graph: GraphSubscriptions
    tap: BusTap
    database_url: str
    closers: list[Any]
    rng_seed: int = 7

    @property
    def graph_world(self) -> Any:
        return self.sb.server.optional["graph"].world

    def graph_control(self) -> GraphControl:
        """The Graph emulator's control API (a person's edits, lifecycle events)."""
        return GraphControl(self.sb.info.https_endpoints["graph"], ssl_context=self.sb.tls.client_context())

    def now(self) -> datetime:
        return self.sb.clock.now()

    def providers(self, calendar: CalendarInfo) -> SubscriptionProvider | None:
        return {Provider.GOOGLE: self.google, Provider.GRAPH: self.graph}.get(calendar.provider)

    def renewer(
        self,
        *,
        engine: AsyncEngine | None = None,
        policy: RenewalPolicy | None = None,
        seed: int = 7,
        keys: dict[str, bytes] | None = None,
        open_calendar: OpenCalendar | None = None,
    ) -> Renewer:
        return Renewer(
            engine or self.engine,
            self.bus,
            self.providers,
            keys=keys or KEYS,
            endpoints=Endpoints.under(self.receiver_url),
            policy=policy or RenewalPolicy(),
            clock=self.now,
            rng=random.Random(seed),
            open_calendar=open_calendar,
        )

    # -- what the sandbox holds -----------------------------------------------------------------

    def live_channels(self, owner: str = ALICE) -> list[Any]:
        now = self.now()
        return [
            c for c in self.sb.google.hub.channels.values() if c.calendar_id == owner and c.expiration > now
        ]

    def live_graph_subscriptions(self, owner: str = ALICE) -> list[Any]:
        now = self.now()
        mailbox = self.graph_world.mailbox(owner)
        return [
            s
            for s in self.graph_world.subscriptions.values()
            if s.mailbox_id == mailbox.id and s.expiration > now
        ]

    def calls(self, operation: str, status: int | None = None) -> int:
        return sum(
            n
            for (op, st), n in self.sb.counters.calls.items()
            if op == operation and (status is None or st == status)
        )

    async def rows(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(sa.select(subscriptions))).mappings().all()]

    async def pair_ids(self) -> list[str]:
        async with self.engine.connect() as conn:
            return sorted((await conn.execute(sa.select(pairs.c.id))).scalars())

    async def calendar_ids(self) -> list[str]:
        async with self.engine.connect() as conn:
            return sorted((await conn.execute(sa.select(calendars.c.id))).scalars())

    # -- store set-up ---------------------------------------------------------------------------

    async def add_pair(
        self,
        pair_id: str,
        google_ref: str,
        microsoft_ref: str,
        *,
        owner: str = ALICE,
        direction: str = "both",
        microsoft_calendar: str = "primary",
        google_calendar: str = "primary",
        google_connection: str = "conn-google",
        graph_connection: str = "conn-graph",
    ) -> None:
        """A connection per provider, a calendar on each side and an active pair (what
        `calbridge.pairs.admin` makes once access is checked)."""
        now = self.now()
        async with self.engine.begin() as conn:
            for cid, provider in ((google_connection, "google"), (graph_connection, "graph")):
                exists = await conn.execute(sa.select(connections.c.id).where(connections.c.id == cid))
                if exists.first() is None:
                    await conn.execute(
                        sa.insert(connections).values(id=cid, provider=provider, name=cid, settings={})
                    )
            for ref, connection_id, provider, calendar in (
                (google_ref, google_connection, "google", google_calendar),
                (microsoft_ref, graph_connection, "graph", microsoft_calendar),
            ):
                known = await conn.execute(sa.select(calendars.c.id).where(calendars.c.id == ref))
                if known.first() is None:
                    await conn.execute(
                        sa.insert(calendars).values(
                            id=ref,
                            connection_id=connection_id,
                            provider=provider,
                            owner=owner,
                            calendar=calendar,
                        )
                    )
            await conn.execute(
                sa.insert(pairs).values(
                    id=pair_id,
                    google_calendar_id=google_ref,
                    microsoft_calendar_id=microsoft_ref,
                    direction=direction,
                    state="active",
                    created_at=now,
                    updated_at=now,
                )
            )

    async def set_pair_state(self, pair_id: str, state: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(sa.update(pairs).where(pairs.c.id == pair_id).values(state=state))


async def wait_for(condition: Callable[[], Any], within: float = 10.0) -> Any:
    """Poll `condition` until it is truthy; fail after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = condition()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def open_world(amqp_url: str, database_url: str, *, tap: bool = True) -> AsyncIterator[World]:
    """`tap=False` leaves the change queues to another consumer (the processor)."""
    closers: list[Any] = []
    await asyncio.to_thread(upgrade, database_url)
    settings = load_settings(
        amqp_url=SecretStr(amqp_url),
        signing_keys=keys_setting({**KEYS, **NEXT_KEY}),
        database_url=SecretStr(database_url),
    )
    async with Sandbox.start(seed=7) as sb:
        receiver_bus = open_bus(settings)
        # HTTPS with the sandbox's CA: Graph notifies only HTTPS addresses.
        async with serve(create_app(settings, receiver_bus, clock=sb.clock.now), tls=sb.tls) as running:
            bus = open_bus(settings)
            await bus.connect()
            recorder = BusTap()
            consumer = await bus.consume_changes(recorder.handle) if tap else None
            engine = create_engine(database_url)
            google, graph = google_client(sb), graph_client(sb)
            closers.extend([google, graph])
            world = World(
                sb=sb,
                engine=engine,
                bus=bus,
                settings=settings,
                receiver_url=running.url,
                google=GoogleWatch(google, clock=sb.clock.now),
                graph=GraphSubscriptions(graph, clock=sb.clock.now),
                tap=recorder,
                database_url=database_url,
                closers=closers,
            )
            try:
                yield world
            finally:
                if consumer is not None:
                    await consumer.stop()
                await bus.close()
                await engine.dispose()
                google.close()
                await graph.close()


@pytest.fixture
async def world(amqp_url: str, sqlite_url: str) -> AsyncIterator[World]:
    """Given the sandbox, the receiver on a real broker and an empty store on SQLite."""
    async for opened in open_world(amqp_url, sqlite_url):
        yield opened


@pytest.fixture
async def pg_world(amqp_url: str, postgres_url: str) -> AsyncIterator[World]:
    """The same world on PostgreSQL (claims with SKIP LOCKED)."""
    async for opened in open_world(amqp_url, postgres_url):
        yield opened
