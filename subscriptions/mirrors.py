"""Deleting a removed pair's mirrors (`pairs remove --delete-mirrors`), before the pair itself
is deleted.

Every link of the pair names the mirror: the copy on the side the event was *not* made on
(`origin`). Only those are deleted, through the adapters (which never mail cancellations);
the events people made stay. A link is forgotten once its mirror is gone (or was already gone),
so a pass interrupted by a failure resumes where it stopped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Mapping

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.errors import NotFound
from calbridge.providers.base import CalendarProvider
from calbridge.providers.closing import close_provider
from calbridge.store.tables import links
from subscriptions.reconcile import PairView
from subscriptions.rows import CalendarInfo

__all__ = ["OpenCalendar", "delete_mirrors", "mirror_of"]

OpenCalendar = Callable[[str], Awaitable[CalendarProvider]]  # connection id -> adapter


def mirror_of(
    pair: PairView, origin: str, google_id: str | None, microsoft_id: str | None
) -> tuple[str, str] | None:
    """(calendar ref, event id) of a link's mirror; None when the link has no mirror yet."""
    if origin == "google":
        return (pair.microsoft_calendar_id, microsoft_id) if microsoft_id else None
    return (pair.google_calendar_id, google_id) if google_id else None


async def delete_mirrors(
    engine: AsyncEngine,
    pair: PairView,
    calendars: Mapping[str, CalendarInfo],
    open_calendar: OpenCalendar,
    *,
    limit: int = 200,
) -> bool:
    """Delete up to `limit` of the pair's mirrors; True once none is left. Provider errors
    other than NotFound propagate (the next pass retries)."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(links).where(links.c.pair_id == pair.id).order_by(links.c.id).limit(limit)
            )
        ).all()
    opened: dict[str, CalendarProvider] = {}
    try:
        for row in rows:
            mirror = (
                None
                if row.deleted
                else mirror_of(pair, row.origin, row.google_event_id, row.microsoft_event_id)
            )
            if mirror is not None:
                calendar = calendars[mirror[0]]
                if calendar.connection_id not in opened:
                    opened[calendar.connection_id] = await open_calendar(calendar.connection_id)
                with contextlib.suppress(NotFound):
                    await opened[calendar.connection_id].delete(calendar.address, mirror[1])
            async with engine.begin() as conn:
                await conn.execute(sa.delete(links).where(links.c.id == row.id))
    finally:
        for provider in opened.values():
            await close_provider(provider)
    return len(rows) < limit
