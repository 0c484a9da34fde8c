"""The processor as a running thing: consumers on the bus, the shard spread, and a clean stop.

`Processor` composes the pieces (bus, store, providers, the change consumer) and is what both
`calbridge processor` and the single-process demo run. With RabbitMQ and no explicit shard list,
replicas spread the shards among themselves (`spread`, `membership`); with the memory bus or
`shards` given, it consumes exactly those shards (all by default).

Before it takes any shard, a processor over the store (`opening.StoreConnections`) checks that
its CALBRIDGE_SECRET_KEY opens the connections the active pairs use (`survey`). When not one of
them decrypts, the key is wrong: it logs `processor_not_ready` with the reason, `/readyz` answers
503, and it takes no shard (so the shards stay with replicas that can do the work), checking
again every `connection_recheck` seconds. When only some cannot be opened, it starts: their
pairs are set to `error` as their hints arrive (and by the renewer), the others are served.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.bus.base import Bus, Consumer
from calbridge.logs import get_logger
from calbridge.settings import Settings
from calbridge.translate.meetings import parse_keywords
from processor.consumer import ChangeConsumer
from processor.directory import PairDirectory
from processor.membership import Membership
from processor.opening import StoreConnections
from processor.pairlock import pair_locks_for
from processor.providers import OpenProvider, ProviderCache
from processor.spread import ShardSpreader
from processor.sync.breaker import limits_from
from processor.sync.links import StoredLinks
from processor.sync.series import Horizon

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
        # An opener over the store also knows the stored versions and what this key can open.
        self._store = open_provider if isinstance(open_provider, StoreConnections) else None
        self.providers = ProviderCache(
            open_provider, versions=self._store, recheck=settings.connection_recheck
        )
        self.pair_locks = pair_locks_for(engine)
        self.consumer = ChangeConsumer(
            PairDirectory(engine, meeting_keywords=parse_keywords(settings.meeting_keywords)),
            StoredLinks(engine),
            self.providers,
            limits=limits_from(settings),
            concurrency=settings.apply_concurrency,
            horizon=Horizon(ahead=timedelta(days=settings.series_horizon_days)),
            locks=self.pair_locks,
        )
        self._static: Consumer | None = None
        self._spreader: ShardSpreader | None = None
        self._membership: Membership | None = None
        self._waiting: asyncio.Task[None] | None = None
        self._connections_checked = False

    @property
    def owned_shards(self) -> tuple[int, ...]:
        if self._spreader is not None:
            return self._spreader.owned
        return self._shards if self._shards is not None else tuple(range(self._settings.shard_count))

    async def start(self) -> None:
        """Take shards, once this process can open the connections it needs (see the module
        docstring); until then it is not ready and keeps checking in the background."""
        if self._store is not None and not await self._connections_ok():
            self._waiting = asyncio.create_task(self._start_when_ready(), name="processor-survey")
            return
        self._connections_checked = True
        await self._consume()

    async def _connections_ok(self) -> bool:
        assert self._store is not None
        try:
            survey = await self._store.survey()
        except Exception as exc:  # the store is down: not ready, and try again
            log.warning("processor_survey_failed", error=type(exc).__name__)
            return False
        if survey.mismatch is not None:
            log.error(
                "processor_not_ready",
                member=self.member,
                connections=survey.needed,
                reason=str(survey.mismatch),
            )
            return False
        for problem in survey.unusable.values():
            log.warning("connection_unusable", connection=problem.name, reason=problem.reason)
        return True

    async def _start_when_ready(self) -> None:
        while True:
            await asyncio.sleep(self._settings.connection_recheck)
            if not await self._connections_ok():
                continue
            try:
                await self._consume()
            except Exception as exc:  # the broker refused: still not ready, try again
                log.error("processor_start_failed", member=self.member, error=type(exc).__name__)
                continue
            self._connections_checked = True
            return

    async def _consume(self) -> None:
        spread = self._shards is None and self._settings.amqp_url is not None
        if not spread:
            self._static = await self._bus.consume_changes(self.consumer, self._shards)
            log.info("processor_started", member=self.member, shards=self.owned_shards)
            return
        assert self._settings.amqp_url is not None
        self._spreader = ShardSpreader(
            self._bus, self.consumer, range(self._settings.shard_count), self.member
        )
        membership = Membership(
            self._settings.amqp_url.get_secret_value(),
            self.member,
            self._settings.processor_heartbeat,
            self._spreader.rebalance,
        )
        await membership.start()
        self._membership = membership
        log.info("processor_started", member=self.member, shards=self.owned_shards)

    async def stop(self) -> None:
        """Leave the members (others take the shards over), then drain running passes."""
        if self._waiting is not None:
            self._waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._waiting
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
        return {"bus": bus, "store": store, "connections": self.connections_checked, "shards": self.consuming}

    @property
    def connections_checked(self) -> bool:
        """Whether this key opens the connections it needs, so it took (or competes for) shards:
        False while it waits for a usable key (see the module docstring)."""
        return self._connections_checked
