"""The processor as a running thing: consumers on the bus, the shard spread, and a clean stop.

`Processor` composes the pieces (bus, store, providers, the change consumer) and is what both
`calbridge processor` and the single-process demo run. With RabbitMQ and no explicit shard list,
replicas spread the shards among themselves (`spread`, `membership`); with the memory bus or
`shards` given, it consumes exactly those shards (all by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.bus.base import Bus, Consumer
from calbridge.logs import get_logger
from calbridge.settings import Settings
from processor.consumer import ChangeConsumer
from processor.directory import PairDirectory
from processor.membership import Membership
from processor.pairlock import pair_locks_for
from processor.providers import OpenProvider, ProviderCache
from processor.spread import ShardSpreader
from processor.sync.breaker import limits_from
from processor.sync.links import StoredLinks

__all__ = ["Processor", "member_name"]

log = get_logger(__name__)


def member_name() -> str:
    """This replica's name among the processors: the pod name, plus a suffix unique per start."""
    return f"{os.environ.get('HOSTNAME') or socket.gethostname()}-{uuid.uuid4().hex[:6]}"


class Processor:
    def __init__(
        self,
        settings: Settings,
        bus: Bus,
        engine: AsyncEngine,
        open_provider: OpenProvider,
        *,
        shards: Sequence[int] | None = None,
        member: str | None = None,
    ) -> None:
        self._settings = settings
        self._bus = bus
        self._engine = engine
        self._shards = tuple(shards) if shards is not None else None
        self.member = member or member_name()
        self.providers = ProviderCache(open_provider)
        self.pair_locks = pair_locks_for(engine)
        self.consumer = ChangeConsumer(
            PairDirectory(engine),
            StoredLinks(engine),
            self.providers,
            limits=limits_from(settings),
            concurrency=settings.apply_concurrency,
            locks=self.pair_locks,
        )
        self._static: Consumer | None = None
        self._spreader: ShardSpreader | None = None
        self._membership: Membership | None = None

    @property
    def owned_shards(self) -> tuple[int, ...]:
        if self._spreader is not None:
            return self._spreader.owned
        return self._shards if self._shards is not None else tuple(range(self._settings.shard_count))

    async def start(self) -> None:
        spread = self._shards is None and self._settings.amqp_url is not None
        if not spread:
            self._static = await self._bus.consume_changes(self.consumer, self._shards)
            log.info("processor_started", member=self.member, shards=self.owned_shards)
            return
        assert self._settings.amqp_url is not None
        self._spreader = ShardSpreader(
            self._bus, self.consumer, range(self._settings.shard_count), self.member
        )
        self._membership = Membership(
            self._settings.amqp_url.get_secret_value(),
            self.member,
            self._settings.processor_heartbeat,
            self._spreader.rebalance,
        )
        await self._membership.start()
        log.info("processor_started", member=self.member, shards=self.owned_shards)

    async def stop(self) -> None:
        """Leave the members (others take the shards over), then drain running passes."""
        if self._membership is not None:
            await self._membership.stop()
        if self._spreader is not None:
            await self._spreader.stop()
        if self._static is not None:
            await self._static.stop()
        await self.providers.close()
        await self.pair_locks.close()
        log.info("processor_stopped", member=self.member)

    @property
    def consuming(self) -> bool:
        """Every shard this replica owns has a consumer receiving deliveries now (and, when
        sharing shards, the heartbeats flow): what "ready" means for a processor."""
        if self._static is not None:
            return self._static.consuming
        if self._spreader is not None and self._membership is not None:
            return self._spreader.consuming and self._membership.connected
        return False

    async def readiness(self) -> dict[str, bool]:
        store = True
        try:
            async with asyncio.timeout(2):
                async with self._engine.connect() as conn:
                    await conn.execute(sa.text("SELECT 1"))
        except Exception:
            store = False
        bus = False
        with contextlib.suppress(Exception):
            bus = await self._bus.ready()
        return {"bus": bus, "store": store, "shards": self.consuming}
