"""What the store-backed commands share: the engine, the secret box, the provider registry, and a
bus opened only when a command has something to publish."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from calbridge.errors import BusUnavailable, CalbridgeError, ConfigurationError
from calbridge.settings import ENV_PREFIX, Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from calbridge.bus.base import Bus
    from calbridge.events import ChangeEvent, LifecycleEvent
    from calbridge.providers.registry import Registry
    from calbridge.secretbox import SecretBox

__all__ = ["LazyBus", "open_engine", "provider_registry", "require_bus", "secretbox"]


@asynccontextmanager
async def open_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    from calbridge.store.engine import create_engine

    engine = create_engine(settings.database_url.get_secret_value())
    try:
        yield engine
    finally:
        await engine.dispose()


def secretbox(settings: Settings) -> SecretBox:
    from calbridge.secretbox import open_secretbox

    return open_secretbox(settings)


def provider_registry(settings: Settings) -> Registry:
    """The adapters a command opens connections with: every provider's, tuned by the settings.
    (Tests of the commands put a registry of fakes here.)"""
    from calbridge.providers.registry import Registry

    return Registry(settings)


def require_bus(settings: Settings, why: str) -> None:
    """Fail before doing anything when a command will need RabbitMQ and it is not configured."""
    if settings.amqp_url is None:
        raise ConfigurationError(
            f"{ENV_PREFIX}AMQP_URL is not set; {why} needs RabbitMQ to reach the processor"
        )


class LazyBus:
    """Opens the configured bus on the first publish, so commands that publish nothing never
    connect; `aclose` closes it if it was opened."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._bus: Bus | None = None
        self._lock = asyncio.Lock()

    async def _open(self) -> Bus:
        async with self._lock:
            if self._bus is None:
                require_bus(self._settings, "requesting a sync")
                open_bus = getattr(importlib.import_module("calbridge.bus"), "open_bus", None)
                if open_bus is None:
                    raise ConfigurationError("this build of calbridge has no RabbitMQ bus")
                bus: Bus = open_bus(self._settings)
                await bus.connect()  # says what is wrong in calbridge's own errors
                self._bus = bus
            return self._bus

    async def publish(self, messages: Sequence[ChangeEvent | LifecycleEvent]) -> None:
        bus = await self._open()
        try:
            await bus.publish(messages)
        except CalbridgeError:
            raise
        except Exception as exc:
            raise BusUnavailable(f"publishing to RabbitMQ failed ({exc.__class__.__name__})") from exc

    async def aclose(self) -> None:
        if self._bus is not None:
            await self._bus.close()
            self._bus = None
