"""Connections in the store: settings as JSON, secrets only as ciphertext."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from calbridge.connections import Connection, ConnectionInvalid, connection_parts, validate
from calbridge.errors import CalbridgeError
from calbridge.providers.registry import known_profile
from calbridge.secretbox import SecretBox
from calbridge.store.tables import calendars, connections

__all__ = [
    "ConnectionInUse",
    "ConnectionNotFound",
    "Saved",
    "connection_from_parts",
    "get_connection",
    "list_connections",
    "new_id",
    "remove_connection",
    "rotate_connection_secrets",
    "save_connection",
]


class ConnectionNotFound(CalbridgeError):
    """No connection has this name or id."""


class ConnectionInUse(CalbridgeError):
    """Calendars (and so pairs) still use this connection."""


class Saved(StrEnum):
    ADDED = "added"
    UNCHANGED = "unchanged"
    REPLACED = "replaced"


def new_id() -> str:
    """A short opaque id: 12 characters of [A-Za-z0-9_-], never starting with '-' or '_' (so it
    is never mistaken for an option on a command line)."""
    while True:
        candidate = secrets.token_urlsafe(9)  # 9 bytes: exactly 12 characters
        if candidate[0].isalnum():
            return candidate


def _record(row: sa.Row[tuple[object, ...]], box: SecretBox) -> Connection:
    secret = box.open(row.secret) if row.secret is not None else {}
    return connection_from_parts(row.id, row.provider, row.name, dict(row.settings), secret)


def connection_from_parts(
    id: str, provider: str, name: str, settings: dict[str, Any], secret: dict[str, Any]
) -> Connection:
    """Rebuild the typed record from a stored row, with the type its provider's profile names."""
    profile = known_profile(provider)
    if profile is None:
        raise ConnectionInvalid(f"unknown provider {provider!r} in the store")
    connection: Connection = profile.connection_type.from_parts(id, name, settings, secret)
    return connection


async def save_connection(
    conn: AsyncConnection, box: SecretBox, connection: Connection, *, replace: bool = False
) -> tuple[Connection, Saved]:
    """Add a connection by name. The same again changes nothing; different settings under an
    existing name need `replace` (which keeps the id, so calendars and pairs stay attached)."""
    validate(connection)
    settings, secret = connection_parts(connection)
    row = (
        await conn.execute(sa.select(connections).where(connections.c.name == connection.name))
    ).one_or_none()
    if row is None:
        record_id = new_id()
        await conn.execute(
            connections.insert().values(
                id=record_id,
                provider=str(connection.provider),
                name=connection.name,
                settings=settings,
                secret=box.seal(secret),
            )
        )
        return await get_connection(conn, box, record_id), Saved.ADDED
    existing = _record(row, box)
    if row.provider != connection.provider:
        raise ConnectionInvalid(
            f"connection {connection.name!r} exists for {row.provider}; choose another name"
        )
    if connection_parts(existing) == (settings, secret):
        return existing, Saved.UNCHANGED
    if not replace:
        raise ConnectionInvalid(
            f"connection {connection.name!r} exists with other settings; pass --replace to update it"
        )
    await conn.execute(
        connections.update()
        .where(connections.c.id == row.id)
        .values(settings=settings, secret=box.seal(secret))
    )
    return await get_connection(conn, box, row.id), Saved.REPLACED


async def get_connection(conn: AsyncConnection, box: SecretBox, name_or_id: str) -> Connection:
    row = (
        await conn.execute(
            sa.select(connections).where(
                sa.or_(connections.c.name == name_or_id, connections.c.id == name_or_id)
            )
        )
    ).first()
    if row is None:
        raise ConnectionNotFound(f"no connection named {name_or_id!r} (see `calbridge connections list`)")
    return _record(row, box)


async def list_connections(
    conn: AsyncConnection, box: SecretBox, provider: str | Sequence[str] | None = None
) -> list[Connection]:
    query = sa.select(connections).order_by(connections.c.provider, connections.c.name)
    if isinstance(provider, str):
        query = query.where(connections.c.provider == provider)
    elif provider is not None:
        query = query.where(connections.c.provider.in_(list(provider)))
    return [_record(row, box) for row in await conn.execute(query)]


async def remove_connection(conn: AsyncConnection, name_or_id: str) -> str:
    """Delete a connection no calendar uses; return its id."""
    row = (
        await conn.execute(
            sa.select(connections.c.id, connections.c.name).where(
                sa.or_(connections.c.name == name_or_id, connections.c.id == name_or_id)
            )
        )
    ).first()
    if row is None:
        raise ConnectionNotFound(f"no connection named {name_or_id!r}")
    used = (
        await conn.execute(
            sa.select(sa.func.count()).select_from(calendars).where(calendars.c.connection_id == row.id)
        )
    ).scalar_one()
    if used:
        raise ConnectionInUse(
            f"connection {row.name!r} is used by {used} calendar(s); remove their pairs first"
        )
    await conn.execute(connections.delete().where(connections.c.id == row.id))
    return str(row.id)


async def rotate_connection_secrets(conn: AsyncConnection, box: SecretBox) -> int:
    """Re-encrypt every stored secret with the first key; return how many rows changed."""
    rows = (await conn.execute(sa.select(connections.c.id, connections.c.secret))).all()
    for row in rows:
        if row.secret is not None:
            await conn.execute(
                connections.update().where(connections.c.id == row.id).values(secret=box.rotate(row.secret))
            )
    return sum(1 for row in rows if row.secret is not None)
