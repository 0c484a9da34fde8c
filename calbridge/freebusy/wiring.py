"""Where free/busy sources come from in a running deployment: one per stored connection.

Each connection in the store (secrets decrypted with `CALBRIDGE_SECRET_KEY`) becomes a source
over the adapters' own client for its provider, built once and kept for the process. A call acts
as one user of the connection: the first owner of a calendar the store has on it, else the first
address asked about (domain-wide delegation and impersonation need a real user).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TypeVar

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from calbridge.connections import Connection
from calbridge.freebusy.source import FreeBusySource
from calbridge.meetings.source import MeetingSource
from calbridge.providers.registry import profile_for
from calbridge.settings import Settings

__all__ = [
    "close_sources",
    "load_acting_mailboxes",
    "open_meeting_sources",
    "open_source",
    "open_sources",
    "serving_sources",
]
S = TypeVar("S")


def _log() -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger("calbridge.freebusy")  # type: ignore[no-any-return]


def open_source(connection: Connection, settings: Settings, *, mailbox: str | None = None) -> FreeBusySource:
    """The source for one connection, with the adapters' client setup and tuning (its profile's opener)."""
    return profile_for(connection.provider).open_freebusy(connection, settings, mailbox)


async def load_acting_mailboxes(conn: AsyncConnection) -> dict[str, str]:
    """Connection id -> the first (alphabetically) owner of a calendar on it."""
    from calbridge.store.tables import calendars

    query = sa.select(calendars.c.connection_id, sa.func.min(calendars.c.owner)).group_by(
        calendars.c.connection_id
    )
    return {str(row[0]): str(row[1]) for row in await conn.execute(query)}


async def open_sources(settings: Settings) -> dict[str, FreeBusySource]:
    """Connection name -> source, for every connection in the store. Raises ConfigurationError
    when the database or the secret key is not configured, or a secret cannot be decrypted."""
    sources = await _open_each(settings, lambda c, mailbox: open_source(c, settings, mailbox=mailbox))
    _log().info("freebusy_sources_opened", connections=len(sources))
    return sources


async def open_meeting_sources(settings: Settings) -> dict[str, MeetingSource]:
    """Connection name -> meeting source (`calbridge.meetings`), for every connection in the store."""
    sources = await _open_each(settings, lambda c, _: profile_for(c.provider).open_meetings(c, settings))
    _log().info("meeting_sources_opened", connections=len(sources))
    return sources


async def _open_each(settings: Settings, opener: Callable[[Connection, str | None], S]) -> dict[str, S]:
    from calbridge.secretbox import open_secretbox
    from calbridge.store.connection_records import list_connections
    from calbridge.store.engine import create_engine

    box = open_secretbox(settings)
    engine = create_engine(settings.database_url.get_secret_value())
    try:
        async with engine.connect() as conn:
            stored = await list_connections(conn, box)
            acting = await load_acting_mailboxes(conn)
    finally:
        await engine.dispose()
    sources: dict[str, S] = {}
    try:
        for connection in stored:
            sources[connection.name] = opener(connection, acting.get(connection.id))
    except BaseException:
        await close_sources(sources)
        raise
    return sources


async def close_sources(sources: Mapping[str, object]) -> None:
    """Release every source's client (thread pools, HTTP connections, token credentials)."""
    for name, source in sources.items():
        close = getattr(source, "aclose", None)
        if close is None:
            continue
        try:
            await close()
        except Exception as exc:  # closing one must not leave the others open
            _log().warning("freebusy_source_close_failed", connection=name, error_type=type(exc).__name__)


@asynccontextmanager
async def serving_sources(
    settings: Settings,
    into: dict[str, S],
    opener: Callable[[Settings], Awaitable[dict[str, S]]] = open_sources,  # type: ignore[assignment]
) -> AsyncIterator[None]:
    """Fill `into` (the mapping a `Lookup` already holds) at start, close its sources at the end:
    for an app whose routes exist before its lifespan can read the store."""
    into.update(await opener(settings))
    try:
        yield
    finally:
        await close_sources(into)
        into.clear()
