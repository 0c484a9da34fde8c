"""Fakes of OUR interfaces (never an SDK): a CalendarProvider whose access answers are scripted,
and a bus that records what was published; and the store seeded with a Google and a Graph connection."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.connections import Connection
from calbridge.errors import AccessDenied, NotFound
from calbridge.events import ChangeEvent, LifecycleEvent, Provider
from calbridge.logs import get_logger
from calbridge.providers.base import CalendarAddress
from calbridge.providers.google.connection import GoogleConnection
from calbridge.providers.graph.connection import GraphConnection
from calbridge.providers.registry import PROFILES, Registry
from calbridge.secretbox import SecretBox
from calbridge.settings import Settings
from calbridge.store.connection_records import save_connection

CLIENT_SECRET = "graph-client-secret-0123456789"

log = get_logger(__name__)


@lru_cache(maxsize=1)
def private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def service_account(email: str = "sync@calbridge-test.iam.gserviceaccount.com") -> dict[str, str]:
    return {
        "type": "service_account",
        "project_id": "calbridge-test",
        "private_key_id": "k1",
        "private_key": private_key_pem(),
        "client_email": email,
        "client_id": "1234567890",
        "token_uri": "https://oauth2.googleapis.com/token",
    }


FAKED = (Provider.GOOGLE, Provider.GRAPH)  # EWS stays real: its tests run the EWS emulator


@dataclass
class Access:
    """Scripted answers of the fake provider, by owner address."""

    denied: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)
    checked: list[tuple[str, str, str]] = field(default_factory=list)

    def open(self, connection: Connection) -> FakeProvider:
        """The fake adapter of a Google or Graph connection (for `RegistryAccessChecker`)."""
        assert connection.provider in FAKED, connection.provider
        return FakeProvider(connection.provider, self)

    def registry(self, settings: Settings, faked: Sequence[Provider] = FAKED) -> Registry:
        """The registry a process would build, with the `faked` providers' adapters replaced by
        this fake (and the others real)."""

        def fake(connection: Connection, settings: Settings, limits: object) -> FakeProvider:
            return FakeProvider(connection.provider, self)

        return Registry(settings, [p.but(open_adapter=fake) if p.provider in faked else p for p in PROFILES])


class FakeProvider:
    """A tiny CalendarProvider: only check_access matters to pairs."""

    def __init__(self, provider: Provider, access: Access) -> None:
        self.provider = provider
        self._access = access

    async def check_access(self, calendar: CalendarAddress) -> None:
        self._access.checked.append((self.provider.value, calendar.owner, calendar.calendar))
        if calendar.owner in self._access.denied | self._access.missing:
            # as the real clients do for every refused call (an info line, for -v)
            log.info("fake.call_failed", provider=self.provider.value)
        if calendar.owner in self._access.denied:
            raise AccessDenied("403 from the provider")
        if calendar.owner in self._access.missing:
            raise NotFound("404 from the provider")


class RecordingBus:
    def __init__(self) -> None:
        self.published: list[ChangeEvent | LifecycleEvent] = []

    async def publish(self, messages: Sequence[ChangeEvent | LifecycleEvent]) -> None:
        await asyncio.sleep(0)
        self.published.extend(messages)


async def seed_connections(engine: AsyncEngine, box: SecretBox) -> list[Connection]:
    saved = []
    async with engine.begin() as conn:
        for connection in (
            GoogleConnection(name="google", service_account=service_account()),
            GraphConnection(
                name="graph", tenant_id="tenant-1", client_id="client-1", client_secret=CLIENT_SECRET
            ),
        ):
            record, _ = await save_connection(conn, box, connection)
            saved.append(record)
    return saved
