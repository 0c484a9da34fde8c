"""The calendar folders the EWS listener streams from: one EwsClient per stored EWS connection.

The listener's clients are its own (not the processor's): every open stream holds one HTTP
connection for up to its ConnectionTimeout, so each client's connection pool is sized for the
streams plus a few short calls (Subscribe, Unsubscribe, GetFolder).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from calbridge.errors import ConfigurationError
from calbridge.providers.ews.client import EwsClient, EwsEndpoint
from calbridge.providers.ews.connection import EwsConnection

__all__ = ["ListenerFolders"]

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

    def add(self, connection: EwsConnection) -> None:
        """Learn a connection added after start (a new pair over a new connection)."""
        with self._lock:
            self._connections.setdefault(connection.id, connection)

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
