"""Connections: calbridge's credential for one tenant of one provider, as typed records.

Each provider's connection type lives in its slice (`calbridge/providers/<name>/connection.py`)
and answers to the `Connection` Protocol below: it checks itself, splits into non-secret
settings (stored as JSON: tenant, client id, URLs) and secrets (stored only as Fernet
ciphertext), and is rebuilt from those parts by the type the provider's profile names (the
store does that: `store.connection_records`). The functions here are what the store and the CLI
call, whatever the provider. This module knows no provider, so every slice may import it.
"""

from __future__ import annotations

from typing import Any, Protocol, Self

from calbridge.errors import ConnectionInvalid
from calbridge.events import Provider

__all__ = [
    "Connection",
    "ConnectionInvalid",
    "connection_parts",
    "describe",
    "validate",
]


class Connection(Protocol):
    """What every provider's connection type offers (frozen dataclasses in the slices)."""

    @property
    def name(self) -> str: ...

    @property
    def id(self) -> str: ...  # the store's id; "" until saved

    @property
    def provider(self) -> Provider: ...

    @property
    def ca_file(self) -> str | None: ...

    @property
    def identity(self) -> str:
        """Who calbridge acts as (a client email, a tenant and client id, a user name)."""

    @property
    def endpoint(self) -> str | None:
        """Where it calls, when not the provider's public service."""

    def check(self) -> None:
        """Raise ConnectionInvalid saying what to fix, or return."""

    def parts(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(non-secret settings, secrets) as stored: settings in JSON, secrets only encrypted."""

    def summary(self) -> dict[str, Any]:
        """What a person may see of its settings: never a secret."""

    @classmethod
    def from_parts(cls, id: str, name: str, settings: dict[str, Any], secret: dict[str, Any]) -> Self:
        """Rebuild the record from a stored row (settings JSON + decrypted secrets)."""


def validate(connection: Connection) -> Connection:
    """Return the connection unchanged, or raise ConnectionInvalid saying what to fix."""
    connection.check()
    return connection


def connection_parts(connection: Connection) -> tuple[dict[str, Any], dict[str, Any]]:
    """(non-secret settings, secrets) as stored: settings in JSON, secrets only encrypted."""
    return connection.parts()


def describe(connection: Connection) -> dict[str, Any]:
    """What a person may see of a connection: settings, never secrets."""
    return {
        "id": connection.id,
        "name": connection.name,
        "provider": str(connection.provider),
        **connection.summary(),
    }
