"""Which calendars are one person's: a pure choice over the store's pairs, and its loader.

A person's calendars are every calendar of a pair one of whose sides they own (their Google
calendar and its Microsoft partner, whoever owns that). A calendar they own shows in full; a
partner owned by someone else shows what the pair lets cross (`busy`: times only). A calendar
in several pairs shows in full if any of them allows it. A person in no pair is read on their
own primary calendar, through the connection the free/busy directory routes their address to.
Pairs being removed are left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.events import Provider
from calbridge.meetings.types import PersonCalendar
from calbridge.pairs.policy import Detail
from calbridge.pairs.states import PairState
from calbridge.providers.base import CalendarAddress
from calbridge.store.tables import calendars, connections, pairs

__all__ = ["PairSides", "SideCalendar", "calendars_of", "load_pair_sides"]


@dataclass(frozen=True, slots=True)
class SideCalendar:
    connection: str
    provider: Provider
    owner: str  # lower case
    calendar: str


@dataclass(frozen=True, slots=True)
class PairSides:
    pair_id: str
    detail: Detail
    google: SideCalendar
    microsoft: SideCalendar


def calendars_of(address: str, pair_sides: Iterable[PairSides]) -> list[PersonCalendar]:
    """The calendars of `address` (lower case) across its pairs, in the order pairs were given."""
    found: dict[tuple[str, str, str], PersonCalendar] = {}
    for pair in pair_sides:
        sides = (pair.google, pair.microsoft)
        if address not in (side.owner for side in sides):
            continue
        for side in sides:
            detail = Detail.FULL if side.owner == address else pair.detail
            key = (side.connection, side.owner, side.calendar)
            known = found.get(key)
            if known is None:
                found[key] = PersonCalendar(
                    connection=side.connection,
                    provider=side.provider,
                    address=CalendarAddress(side.owner, side.calendar),
                    detail=detail,
                    pairs=frozenset({pair.pair_id}),
                )
            else:
                best = Detail.FULL if Detail.FULL in (known.detail, detail) else Detail.BUSY
                found[key] = PersonCalendar(
                    known.connection, known.provider, known.address, best, known.pairs | {pair.pair_id}
                )
    return list(found.values())


async def load_pair_sides(engine: AsyncEngine) -> list[PairSides]:
    """Every pair not being removed, with both calendars and their connections' names."""
    google, microsoft = calendars.alias("g"), calendars.alias("m")
    google_conn, microsoft_conn = connections.alias("gc"), connections.alias("mc")
    query = (
        sa.select(
            pairs.c.id,
            pairs.c.detail,
            google_conn.c.name,
            google.c.provider,
            google.c.owner,
            google.c.calendar,
            microsoft_conn.c.name,
            microsoft.c.provider,
            microsoft.c.owner,
            microsoft.c.calendar,
        )
        .join(google, pairs.c.google_calendar_id == google.c.id)
        .join(microsoft, pairs.c.microsoft_calendar_id == microsoft.c.id)
        .join(google_conn, google.c.connection_id == google_conn.c.id)
        .join(microsoft_conn, microsoft.c.connection_id == microsoft_conn.c.id)
        .where(pairs.c.state != PairState.REMOVING.value)
        .order_by(pairs.c.id)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [
        PairSides(
            pair_id=str(row[0]),
            detail=Detail(row[1]),
            google=SideCalendar(str(row[2]), Provider(row[3]), str(row[4]).lower(), str(row[5])),
            microsoft=SideCalendar(str(row[6]), Provider(row[7]), str(row[8]).lower(), str(row[9])),
        )
        for row in rows
    ]
