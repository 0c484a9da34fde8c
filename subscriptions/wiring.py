"""Subscription providers for stored connections: one SDK client per connection, opened once.

The clients are the adapters' (`google_client.GoogleClient`, `graph_client.GraphClient`), so
the renewer and the processor configure the SDKs the same way. EWS connections get no
provider here: their streaming subscriptions are kept by the EWS listener.

`refresh()` reads every connection on its own: one that cannot be opened (its secret does not
decrypt with this key, its settings are invalid, its SDK client refuses them) is set aside in
`unusable` with the reason, and the others are served; a connection replaced in the store is
closed and opened anew. Only when not one secret decrypts does it raise `SecretKeyMismatch`:
then the renewer's own key is wrong, and no connection is to blame.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.connections import Connection, GoogleConnection, GraphConnection
from calbridge.errors import ConnectionUnusable
from calbridge.logs import get_logger
from calbridge.providers.base import CalendarProvider
from calbridge.providers.subscriptions import SubscriptionProvider
from calbridge.secretbox import SecretBox
from calbridge.store.connection_records import read_connections, secret_key_mismatch, unusable_reason
from subscriptions.metrics import UNUSABLE_CONNECTIONS
from subscriptions.rows import CalendarInfo

__all__ = ["ConnectionProviders"]

log = get_logger("calbridge.renewer")


class ConnectionProviders:
    """`providers(calendar)` for the Renewer; `refresh()` picks up added or changed connections."""

    def __init__(
        self,
        engine: AsyncEngine,
        box: SecretBox,
        clock: Callable[[], datetime],
        *,
        timeout: float = 30.0,
        google_threads: int = 2,
    ) -> None:
        self._engine = engine
        self._box = box
        self._clock = clock
        self._timeout = timeout
        self._threads = google_threads  # the renewer makes a few calls a minute at most
        self._opened: dict[str, tuple[Connection, SubscriptionProvider | None, Any]] = {}
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
                await self._close(self._opened.pop(connection_id)[2])
        for connection_id, connection in current.items():
            if connection_id in self._opened:
                continue
            try:
                provider, client = self._open(connection)
            except Exception as exc:  # the SDK refused the stored settings: this connection only
                reason = unusable_reason(connection.name, str(connection.provider), exc)
                unusable[connection_id] = ConnectionUnusable(connection_id, connection.name, reason)
                continue
            self._opened[connection_id] = (connection, provider, client)
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

    def _open(self, connection: Connection) -> tuple[SubscriptionProvider | None, Any]:
        if isinstance(connection, GoogleConnection):
            from calbridge.providers.google.client import GoogleClient
            from calbridge.providers.google.subscriptions import GoogleWatch

            google = GoogleClient(
                connection.service_account_info(),
                api_endpoint=connection.api_endpoint,
                token_uri=connection.token_uri,
                ca_file=connection.ca_file,
                threads=self._threads,
                timeout=self._timeout,
            )
            return GoogleWatch(google, clock=self._clock), google
        if isinstance(connection, GraphConnection):
            from calbridge.providers.graph.client import GRAPH_URL, GraphClient
            from calbridge.providers.graph.subscriptions import GraphSubscriptions

            graph = GraphClient(
                connection.tenant_id,
                connection.client_id,
                connection.client_secret,
                authority=connection.authority,
                graph_url=connection.graph_url or GRAPH_URL,
                ca_file=connection.ca_file,
                timeout=self._timeout,
            )
            return GraphSubscriptions(graph, clock=self._clock), graph
        return None, None  # EWS: the EWS listener keeps its streaming subscriptions

    async def open_calendar(self, connection_id: str) -> CalendarProvider:
        """The connection's CalendarProvider (the adapters, through the registry), for deleting
        mirrors of a removed pair; the caller closes it."""
        from calbridge.providers.registry import open_provider
        from calbridge.store.connection_records import get_connection

        async with self._engine.connect() as conn:
            connection = await get_connection(conn, self._box, connection_id)
        return open_provider(connection)

    async def close(self) -> None:
        for _, _, client in self._opened.values():
            await self._close(client)
        self._opened.clear()

    @staticmethod
    async def _close(client: Any) -> None:
        if client is None:
            return
        closing = client.close()
        if closing is not None:
            await closing
