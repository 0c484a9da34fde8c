"""Opening a connection's provider from the store: the connection record (its secret decrypted
with CALBRIDGE_SECRET_KEY) -> the adapter the process's provider registry opens for it.

`StoreConnections` is what the processor uses, and it knows three things about the store:

- `open(id)`: the provider, or `ConnectionUnusable` naming the connection and the remedy (its
  pairs are set to `error`), or `SecretKeyMismatch` when not one connection the active pairs
  need decrypts with this key (the process is misconfigured; no pair is blamed for it);
- `versions(ids)`: fingerprints of what is stored, so `ProviderCache` notices a connection
  replaced with `calbridge connections add ... --replace` without decrypting anything;
- `survey()`: which connections of active pairs this key cannot open, checked before the
  processor takes any shard.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from calbridge.errors import ConnectionUnusable, SecretKeyMismatch
from calbridge.pairs.states import PairState
from calbridge.providers.base import CalendarProvider
from calbridge.providers.registry import Registry
from calbridge.secretbox import open_secretbox
from calbridge.settings import Settings
from calbridge.store.connection_records import (
    StoredConnection,
    connection_versions,
    read_connections,
    secret_key_mismatch,
    unusable_reason,
)
from calbridge.store.tables import calendars, pairs

__all__ = ["StoreConnections", "Survey", "store_opener"]


@dataclass(frozen=True, slots=True)
class Survey:
    """What this process can open of the connections the active pairs use."""

    needed: int = 0
    unusable: dict[str, ConnectionUnusable] = field(default_factory=dict)
    mismatch: SecretKeyMismatch | None = None  # not one of them decrypts: the key is wrong


class StoreConnections:
    def __init__(self, engine: AsyncEngine, settings: Settings, registry: Registry) -> None:
        self._engine = engine
        self._registry = registry
        self._box = open_secretbox(settings)  # fails at once (ConfigurationError) without a key

    async def __call__(self, connection_id: str) -> CalendarProvider:
        return await self.open(connection_id)

    async def open(self, connection_id: str) -> CalendarProvider:
        async with self._engine.connect() as conn:
            found = await read_connections(conn, self._box, ids=[connection_id])
        if not found:
            raise ConnectionUnusable(connection_id, connection_id, f"connection {connection_id} is gone")
        stored = found[0]
        if stored.problem is not None:
            if stored.undecryptable:
                survey = await self.survey()
                if survey.mismatch is not None:
                    raise survey.mismatch
            raise stored.problem
        assert stored.connection is not None
        try:
            return self._registry.open(stored.connection)
        except Exception as exc:  # the SDK refused the stored settings: this connection only
            reason = unusable_reason(stored.name, stored.provider, exc)
            raise ConnectionUnusable(stored.id, stored.name, reason) from exc

    async def versions(self, connection_ids: Collection[str]) -> Mapping[str, str]:
        async with self._engine.connect() as conn:
            return await connection_versions(conn, connection_ids)

    async def survey(self) -> Survey:
        async with self._engine.connect() as conn:
            needed = await _connections_of_active_pairs(conn)
            stored: list[StoredConnection] = (
                await read_connections(conn, self._box, ids=needed) if needed else []
            )
        return Survey(
            needed=len(stored),
            unusable={s.id: s.problem for s in stored if s.problem is not None},
            mismatch=secret_key_mismatch(stored),
        )


async def _connections_of_active_pairs(conn: AsyncConnection) -> set[str]:
    active = pairs.c.state == PairState.ACTIVE.value
    rows = await conn.execute(
        sa.select(calendars.c.connection_id)
        .where(
            calendars.c.id.in_(sa.select(pairs.c.google_calendar_id).where(active))
            | calendars.c.id.in_(sa.select(pairs.c.microsoft_calendar_id).where(active))
        )
        .distinct()
    )
    return {str(connection_id) for connection_id in rows.scalars()}


def store_opener(engine: AsyncEngine, settings: Settings, registry: Registry) -> StoreConnections:
    """The store's connections for a processor over the process's registry (callable as an
    `OpenProvider`); fails at once (ConfigurationError) without a secret key."""
    return StoreConnections(engine, settings, registry)
