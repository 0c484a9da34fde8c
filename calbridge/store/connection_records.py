"""Connections in the store: settings as JSON, secrets only as ciphertext.

Services read connections one row at a time (`read_connections`): a row whose secret does not
decrypt with this process's key, or whose settings no longer validate, comes back as a
`StoredConnection` carrying the reason (a `ConnectionUnusable`), never as an exception that
would hide every other connection. `connection_versions` fingerprints what is stored, so a
running service notices a connection replaced with `calbridge connections add ... --replace`
without decrypting anything.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from calbridge.connections import Connection, ConnectionInvalid, connection_parts, validate
from calbridge.errors import CalbridgeError, ConnectionUnusable, SecretKeyMismatch
from calbridge.providers.registry import known_profile
from calbridge.secretbox import VARIABLE, SecretBox, SecretUnreadable
from calbridge.store.tables import calendars, connections

__all__ = [
    "ConnectionInUse",
    "ConnectionNotFound",
    "Saved",
    "StoredConnection",
    "connection_from_parts",
    "connection_versions",
    "get_connection",
    "is_unusable_reason",
    "list_connections",
    "new_id",
    "read_connections",
    "remove_connection",
    "rotate_connection_secrets",
    "save_connection",
    "secret_key_mismatch",
    "unusable_reason",
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


# -- reading connections one by one ---------------------------------------------------------------

_UNUSABLE = re.compile(r"^connection '[A-Za-z0-9._-]{1,200}' \([a-z]+\) cannot be used: ")


def unusable_reason(name: str, provider: str, cause: Exception) -> str:
    """Why a connection cannot be opened and what a person does about it (no secret in it)."""
    again = f"`calbridge connections add {provider} --name {name} ... --replace`"
    head = f"connection {name!r} ({provider}) cannot be used: "
    if isinstance(cause, SecretUnreadable):
        return head + (
            f"its secret cannot be decrypted with {VARIABLE} (it was encrypted under a key that is not "
            f"in that list); enter the credentials again with {again}, or put the key that encrypted "
            f"them back into {VARIABLE}"
        )
    # Our own validation messages are safe to show; a library's might quote what it parsed.
    detail = str(cause) if isinstance(cause, ConnectionInvalid) else type(cause).__name__
    return head + f"its stored settings are not valid ({detail}); enter them again with {again}"


def is_unusable_reason(text: str | None) -> bool:
    """Whether a pair's state reason is one `unusable_reason` wrote (so it clears by itself once the
    connection can be opened again)."""
    return text is not None and _UNUSABLE.match(text) is not None


@dataclass(frozen=True, slots=True)
class StoredConnection:
    """One stored connection as a service may use it: the record, or the reason it cannot be."""

    id: str
    name: str
    provider: str
    version: str  # fingerprint of the stored settings and ciphertext: changes when it is replaced
    connection: Connection | None
    problem: ConnectionUnusable | None = None
    sealed: bool = True  # it has an encrypted secret
    undecryptable: bool = False  # ... which this process's key cannot decrypt


def secret_key_mismatch(stored: Collection[StoredConnection]) -> SecretKeyMismatch | None:
    """When not one of these connections' secrets decrypts, the process's key is wrong, not the
    connections: the error to report instead of blaming each of them (None: some decrypt)."""
    sealed = [s for s in stored if s.sealed]
    if not sealed or not all(s.undecryptable for s in sealed):
        return None
    return SecretKeyMismatch(
        f"none of the {len(sealed)} connection secret(s) this process needs decrypts with {VARIABLE}: "
        "it has a wrong or missing key (every service needs the key, or one of the keys, the "
        f"connections were saved with; see `calbridge connections rotate-key`)"
    )


def _version(provider: object, settings: object, secret: bytes | None) -> str:
    digest = hashlib.sha256()
    digest.update(str(provider).encode())
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    digest.update(bytes(secret) if secret is not None else b"")
    return digest.hexdigest()[:32]


def _stored(row: sa.Row[tuple[object, ...]], box: SecretBox) -> StoredConnection:
    name, provider = str(row.name), str(row.provider)
    version = _version(row.provider, row.settings, row.secret)
    sealed = row.secret is not None
    try:
        connection = _record(row, box)
    except (SecretUnreadable, ConnectionInvalid, ValueError, KeyError, TypeError) as exc:
        problem = ConnectionUnusable(str(row.id), name, unusable_reason(name, provider, exc))
        undecryptable = isinstance(exc, SecretUnreadable)
        return StoredConnection(str(row.id), name, provider, version, None, problem, sealed, undecryptable)
    return StoredConnection(str(row.id), name, provider, version, connection, sealed=sealed)


async def read_connections(
    conn: AsyncConnection,
    box: SecretBox,
    *,
    ids: Collection[str] | None = None,
    provider: str | None = None,
) -> list[StoredConnection]:
    """Every connection (or those of `ids`, of `provider`), each opened on its own: one whose
    secret this key cannot read is returned with its `problem`, the others as usual."""
    query = sa.select(connections).order_by(connections.c.provider, connections.c.name)
    if ids is not None:
        query = query.where(connections.c.id.in_(sorted(ids)))
    if provider is not None:
        query = query.where(connections.c.provider == provider)
    return [_stored(row, box) for row in await conn.execute(query)]


async def connection_versions(conn: AsyncConnection, ids: Collection[str]) -> dict[str, str]:
    """The stored version of each of these connections (absent: removed); nothing is decrypted."""
    if not ids:
        return {}
    c = connections.c
    rows = await conn.execute(sa.select(c.id, c.provider, c.settings, c.secret).where(c.id.in_(sorted(ids))))
    return {str(row.id): _version(row.provider, row.settings, row.secret) for row in rows}


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
    if row.provider != connection.provider:
        raise ConnectionInvalid(
            f"connection {connection.name!r} exists for {row.provider}; choose another name"
        )
    try:
        existing: Connection | None = _record(row, box)
    except SecretUnreadable:  # stored under a key we do not have: replacing it is the remedy
        existing = None
    if existing is not None and connection_parts(existing) == (settings, secret):
        return existing, Saved.UNCHANGED
    if not replace:
        other = "other settings" if existing is not None else f"a secret {VARIABLE} cannot decrypt"
        raise ConnectionInvalid(
            f"connection {connection.name!r} exists with {other}; pass --replace to update it"
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
    """Re-encrypt every stored secret with the first key; return how many rows changed. Nothing
    changes when one of them cannot be decrypted (the error names it)."""
    rows = (await conn.execute(sa.select(connections.c.id, connections.c.name, connections.c.secret))).all()
    for row in rows:
        if row.secret is not None:
            try:
                rotated = box.rotate(row.secret)
            except SecretUnreadable as exc:
                raise SecretUnreadable(
                    f"connection {row.name!r}: {exc}; put the key that encrypted it back as a second key, "
                    f"or enter it again with `calbridge connections add ... --name {row.name} --replace` "
                    "(nothing was re-encrypted)"
                ) from None
            await conn.execute(connections.update().where(connections.c.id == row.id).values(secret=rotated))
    return sum(1 for row in rows if row.secret is not None)
