"""Opening a connection's provider from the store: the connection record -> its adapter."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.errors import ConfigurationError
from calbridge.providers.base import CalendarProvider
from calbridge.settings import Settings
from processor.providers import OpenProvider

__all__ = ["store_opener"]


def store_opener(engine: AsyncEngine, settings: Settings) -> OpenProvider:
    async def open_connection(connection_id: str) -> CalendarProvider:
        raise ConfigurationError(f"no provider adapters are available to open connection {connection_id}")

    return open_connection
