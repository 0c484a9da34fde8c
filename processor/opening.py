"""Opening a connection's provider from the store: the connection record (its secret decrypted
with CALBRIDGE_SECRET_KEY) -> the adapter the process's provider registry opens for it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.providers.base import CalendarProvider
from calbridge.providers.registry import Registry
from calbridge.secretbox import open_secretbox
from calbridge.settings import Settings
from calbridge.store.connection_records import get_connection
from processor.providers import OpenProvider

__all__ = ["store_opener"]


def store_opener(engine: AsyncEngine, settings: Settings, registry: Registry) -> OpenProvider:
    """An `OpenProvider` over the store and the process's registry; fails at once
    (ConfigurationError) without a secret key."""
    box = open_secretbox(settings)

    async def open_connection(connection_id: str) -> CalendarProvider:
        async with engine.connect() as conn:
            connection = await get_connection(conn, box, connection_id)
        return registry.open(connection)

    return open_connection
