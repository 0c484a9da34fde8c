"""Subscription providers for stored connections: one SDK client per connection, opened once.

The clients are the adapters' (`google_client.GoogleClient`, `graph_client.GraphClient`), so
the renewer and the processor configure the SDKs the same way. EWS connections get no
provider here: their streaming subscriptions are kept by the EWS listener.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.connections import Connection, GoogleConnection, GraphConnection
from calbridge.logs import get_logger
from calbridge.providers.base import CalendarProvider
from calbridge.providers.subscriptions import SubscriptionProvider
from calbridge.secretbox import SecretBox
from calbridge.store.connection_records import list_connections
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

    def __call__(self, calendar: CalendarInfo) -> SubscriptionProvider | None:
        opened = self._opened.get(calendar.connection_id)
        return None if opened is None else opened[1]

    async def refresh(self) -> None:
        async with self._engine.connect() as conn:
            current = {c.id: c for c in await list_connections(conn, self._box)}
        for connection_id in list(self._opened):
            old = self._opened[connection_id][0]
            if current.get(connection_id) != old:
                await self._close(self._opened.pop(connection_id)[2])
        for connection_id, connection in current.items():
            if connection_id not in self._opened:
                provider, client = self._open(connection)
                self._opened[connection_id] = (connection, provider, client)

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
