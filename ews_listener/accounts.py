"""The calendar folders the EWS listener streams from: one EwsClient per stored EWS connection.

The listener's clients are its own (not the processor's): every open stream holds one HTTP
connection for up to its ConnectionTimeout, so each client's connection pool is sized for the
streams plus a few short calls (Subscribe, Unsubscribe, GetFolder).

`refresh` reads the stored EWS connections before every round, each on its own: one that cannot
be opened (its secret does not decrypt with CALBRIDGE_SECRET_KEY, its settings are invalid) is
logged with the remedy and left out, and every other connection keeps streaming (its pairs are
set to `error` by the renewer, which then stops the listener from watching them). A connection
replaced in the store (`calbridge connections add ews ... --replace`) has its streams restarted
with a new client, so new credentials are in use within one round.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.errors import ConfigurationError
from calbridge.logs import get_logger
from calbridge.providers.ews.client import EwsClient, EwsEndpoint
from calbridge.providers.ews.connection import EwsConnection
from calbridge.secretbox import SecretBox
from calbridge.store.connection_records import read_connections

__all__ = ["ListenerFolders"]

log = get_logger("calbridge.receiver.ews")

_SPARE_CONNECTIONS = 4


class ListenerFolders:
    """`(connection id, mailbox) -> calendar folder`, blocking (autodiscover and GetFolder may run)."""

    def __init__(
        self, connections: Sequence[EwsConnection], *, streams: int, autodiscover_refresh: float = 86_400.0
    ) -> None:
        self._connections = {c.id: c for c in connections}
        self._streams = streams
        self._refresh = autodiscover_refresh
        self._clients: dict[str, EwsClient] = {}
        self._lock = threading.Lock()
        self._unusable: dict[str, str] = {}  # connection id -> the reason last logged

    def learn(self, connection: EwsConnection) -> tuple[bool, EwsClient | None]:
        """Know this connection as stored now: (whether it replaced a different one, the old
        client to close once the streams that use it have stopped)."""
        with self._lock:
            known = self._connections.get(connection.id)
            self._connections[connection.id] = connection
            if known is None or known == connection:
                return False, None
            return True, self._clients.pop(connection.id, None)

    async def refresh(
        self, engine: AsyncEngine, box: SecretBox, restart: Callable[[str], Awaitable[None]]
    ) -> None:
        """Read the stored EWS connections (see the module docstring); `restart(connection id)`
        stops the streams of a replaced connection, which the round then starts again."""
        async with engine.connect() as conn:
            stored = await read_connections(conn, box, provider="ews")
        unusable: dict[str, str] = {}
        for found in stored:
            if found.problem is not None:
                unusable[found.id] = found.problem.reason
                if self._unusable.get(found.id) != found.problem.reason:
                    log.error("ews_connection_unusable", connection=found.name, reason=found.problem.reason)
                continue
            if not isinstance(found.connection, EwsConnection):
                continue
            replaced, old = self.learn(found.connection)
            if replaced:
                log.info("ews_connection_replaced", connection=found.name)
                await restart(found.id)
                if old is not None:
                    await asyncio.to_thread(old.close)
        self._unusable = unusable

    def knows(self, connection_id: str) -> bool:
        with self._lock:
            return connection_id in self._connections

    def __call__(self, connection_id: str, mailbox: str) -> Any:
        return self._client(connection_id).account(mailbox).calendar

    def _client(self, connection_id: str) -> EwsClient:
        with self._lock:
            client = self._clients.get(connection_id)
            if client is None:
                connection = self._connections.get(connection_id)
                if connection is None:
                    raise ConfigurationError(f"EWS connection {connection_id} is not known to the listener")
                client = EwsClient(
                    EwsEndpoint.from_connection(connection),
                    threads=self._streams + _SPARE_CONNECTIONS,
                    autodiscover_refresh=self._refresh,
                )
                self._clients[connection_id] = client
            return client

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()
