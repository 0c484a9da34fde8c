"""Opened providers, one per connection, reused by every pass of the process.

Opening a provider builds an SDK client and its token source, which is slow and holds
connections; a pass only needs the one its connection already has. Each opened provider is
wrapped once in `InstrumentedProvider` (call metrics). The Graph adapters themselves keep the
per-mailbox cap (`CALBRIDGE_GRAPH_MAILBOX_CONCURRENCY`), one for the whole process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from calbridge.providers.base import CalendarProvider
from calbridge.providers.closing import close_provider
from processor.instrumented import InstrumentedProvider

__all__ = ["OpenProvider", "ProviderCache"]

OpenProvider = Callable[[str], Awaitable[CalendarProvider]]  # connection id -> provider


class ProviderCache:
    def __init__(self, open_provider: OpenProvider) -> None:
        self._open = open_provider
        self._opened: dict[str, InstrumentedProvider] = {}
        self._opening: dict[str, asyncio.Lock] = {}

    async def get(self, connection_id: str) -> CalendarProvider:
        provider = self._opened.get(connection_id)
        if provider is not None:
            return provider
        lock = self._opening.setdefault(connection_id, asyncio.Lock())
        async with lock:  # concurrent passes of one connection open it once
            provider = self._opened.get(connection_id)
            if provider is None:
                provider = InstrumentedProvider(await self._open(connection_id))
                self._opened[connection_id] = provider
        return provider

    def forget(self, connection_id: str) -> None:
        """Drop a connection's provider (its credentials changed); the next pass opens it again."""
        self._opened.pop(connection_id, None)

    async def close(self) -> None:
        for provider in self._opened.values():
            await close_provider(provider.inner)
        self._opened.clear()
