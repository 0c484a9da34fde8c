"""Subscription providers for stored connections: one SDK client per connection, opened once.

Each connection's provider is opened through the process's provider registry (its profile's
subscription opener, over the adapters' own clients), so the renewer and the processor configure
the SDKs the same way. A provider whose subscriptions the renewer does not keep has no opener
(EWS: the EWS listener keeps its streaming subscriptions): its connections get none here.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.clock import Clock
from calbridge.connections import Connection
from calbridge.logs import get_logger
from calbridge.providers.base import CalendarProvider
from calbridge.providers.closing import close_provider
from calbridge.providers.registry import Registry
from calbridge.providers.subscriptions import SubscriptionProvider
from calbridge.secretbox import SecretBox
from calbridge.store.connection_records import get_connection, list_connections
from subscriptions.rows import CalendarInfo

__all__ = ["ConnectionProviders"]

log = get_logger("calbridge.renewer")


class ConnectionProviders:
    """`providers(calendar)` for the Renewer; `refresh()` picks up added or changed connections."""

    def __init__(self, engine: AsyncEngine, box: SecretBox, clock: Clock, registry: Registry) -> None:
        self._engine = engine
        self._box = box
        self._clock = clock
        self._registry = registry
        self._opened: dict[str, tuple[Connection, SubscriptionProvider | None]] = {}

    def __call__(self, calendar: CalendarInfo) -> SubscriptionProvider | None:
        opened = self._opened.get(calendar.connection_id)
        return None if opened is None else opened[1]

    async def refresh(self) -> None:
        async with self._engine.connect() as conn:
            current = {c.id: c for c in await list_connections(conn, self._box)}
        for connection_id in list(self._opened):
            old = self._opened[connection_id][0]
            if current.get(connection_id) != old:
                await _close(self._opened.pop(connection_id)[1])
        for connection_id, connection in current.items():
            if connection_id not in self._opened:
                provider = self._registry.open_subscriptions(connection, self._clock)
                self._opened[connection_id] = (connection, provider)

    async def open_calendar(self, connection_id: str) -> CalendarProvider:
        """The connection's CalendarProvider (the adapters, through the registry), for deleting
        mirrors of a removed pair; the caller closes it."""
        async with self._engine.connect() as conn:
            connection = await get_connection(conn, self._box, connection_id)
        return self._registry.open(connection)

    async def close(self) -> None:
        for _, provider in self._opened.values():
            await _close(provider)
        self._opened.clear()


async def _close(provider: SubscriptionProvider | None) -> None:
    if provider is not None:
        await close_provider(provider)
