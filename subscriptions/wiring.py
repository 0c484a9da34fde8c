"""Subscription providers for stored connections: one SDK client per connection, opened once.

Each connection's provider is opened through the process's provider registry (its profile's
subscription opener, over the adapters' own clients), so the renewer and the processor configure
the SDKs the same way. A provider whose subscriptions the renewer does not keep has no opener
(EWS: the EWS listener keeps its streaming subscriptions): its connections get none here.

`refresh()` reads every connection on its own: one that cannot be opened (its secret does not
decrypt with this key, its settings are invalid, its SDK client refuses them) is set aside in
`unusable` with the reason, and the others are served; a connection replaced in the store is
closed and opened anew. Only when not one secret decrypts does it raise `SecretKeyMismatch`:
then the renewer's own key is wrong, and no connection is to blame.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.clock import Clock
from calbridge.connections import Connection
from calbridge.errors import ConnectionUnusable
from calbridge.logs import get_logger
from calbridge.providers.base import CalendarProvider
from calbridge.providers.closing import close_provider
from calbridge.providers.registry import Registry
from calbridge.providers.subscriptions import SubscriptionProvider
from calbridge.secretbox import SecretBox
from calbridge.store.connection_records import (
    get_connection,
    read_connections,
    secret_key_mismatch,
    unusable_reason,
)
from subscriptions.metrics import UNUSABLE_CONNECTIONS
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
        self.unusable: dict[str, ConnectionUnusable] = {}  # connection id -> why it cannot be opened

    def __call__(self, calendar: CalendarInfo) -> SubscriptionProvider | None:
        opened = self._opened.get(calendar.connection_id)
        return None if opened is None else opened[1]

    @property
    def usable(self) -> frozenset[str]:
        """Ids of the connections opened by the last refresh."""
        return frozenset(self._opened)

    async def refresh(self) -> None:
        async with self._engine.connect() as conn:
            stored = await read_connections(conn, self._box)
        current = {s.id: s.connection for s in stored if s.connection is not None}
        unusable = {s.id: s.problem for s in stored if s.problem is not None}
        for connection_id in list(self._opened):
            old = self._opened[connection_id][0]
            if current.get(connection_id) != old:
                await _close(self._opened.pop(connection_id)[1])
        for connection_id, connection in current.items():
            if connection_id in self._opened:
                continue
            try:
                provider = self._registry.open_subscriptions(connection, self._clock)
            except Exception as exc:  # the SDK refused the stored settings: this connection only
                reason = unusable_reason(connection.name, str(connection.provider), exc)
                unusable[connection_id] = ConnectionUnusable(connection_id, connection.name, reason)
                continue
            self._opened[connection_id] = (connection, provider)
        for connection_id, problem in unusable.items():
            if connection_id not in self.unusable or self.unusable[connection_id].reason != problem.reason:
                log.error("connection_unusable", connection=problem.name, reason=problem.reason)
        for connection_id in self.unusable.keys() - unusable.keys():
            log.info("connection_usable_again", connection=self.unusable[connection_id].name)
        self.unusable = unusable
        UNUSABLE_CONNECTIONS.set(len(unusable))
        mismatch = secret_key_mismatch(stored)
        if mismatch is not None:
            raise mismatch

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
