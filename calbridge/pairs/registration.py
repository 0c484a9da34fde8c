"""Storing pairs: calendars and pairs rows for many specs in a few statements, idempotently.

The same pair again changes nothing; another direction or detail updates it; a pair being
removed is left alone. New pairs are `pending` until activation (calbridge/pairs/admin.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from calbridge.connections import Connection
from calbridge.errors import CalbridgeError
from calbridge.events import Provider
from calbridge.pairs.spec import PairSpec, Side
from calbridge.pairs.states import PairState
from calbridge.providers.registry import profile_for
from calbridge.store.connection_records import new_id
from calbridge.store.tables import calendars, pairs

__all__ = [
    "NoConnection",
    "Registered",
    "Registration",
    "choose_connection",
    "register_pair",
    "register_pairs",
    "register_specs",
]


class NoConnection(CalbridgeError):
    """No connection, or more than one, could serve this side of a pair."""


class Registered(StrEnum):
    NEW = "new"
    SAME = "same"
    CHANGED = "changed"
    BUSY = "busy"  # being removed: left alone


def choose_connection(candidates: Sequence[Connection], provider: Provider, name: str | None) -> Connection:
    """The named connection of this provider, or the only one; NoConnection says what to do."""
    mine = [c for c in candidates if c.provider == provider]
    if name is not None:
        for candidate in mine:
            if name in (candidate.name, candidate.id):
                return candidate
        known = ", ".join(c.name for c in mine) or "none"
        raise NoConnection(f"no {provider} connection named {name!r} (known: {known})")
    if len(mine) == 1:
        return mine[0]
    if not mine:
        raise NoConnection(f"no {provider} connection; add one with `calbridge connections add {provider}`")
    flag = f"--{profile_for(provider).side}-connection"
    names = ", ".join(c.name for c in mine)
    raise NoConnection(f"{len(mine)} {provider} connections exist ({names}); choose one with {flag} NAME")


CalendarKey = tuple[str, str, str]  # connection id, owner, provider calendar id


async def _ensure_calendars(
    conn: AsyncConnection, wanted: Mapping[CalendarKey, Provider]
) -> dict[CalendarKey, str]:
    """The calendar ref of each (connection, owner, calendar), creating the missing rows."""

    async def existing() -> dict[CalendarKey, str]:
        found: dict[CalendarKey, str] = {}
        owners = sorted({owner for _, owner, _ in wanted})
        for start in range(0, len(owners), 500):  # stay far below any engine's parameter limit
            rows = await conn.execute(
                sa.select(
                    calendars.c.id, calendars.c.connection_id, calendars.c.owner, calendars.c.calendar
                ).where(calendars.c.owner.in_(owners[start : start + 500]))
            )
            for row in rows:
                key = (row.connection_id, row.owner, row.calendar)
                if key in wanted:
                    found[key] = row.id
        return found

    refs = await existing()
    missing = [key for key in wanted if key not in refs]
    if missing:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        rows = [
            {
                "id": new_id(),
                "connection_id": c,
                "provider": str(wanted[(c, o, k)]),
                "owner": o,
                "calendar": k,
            }
            for c, o, k in missing
        ]
        insert = dialect.insert(calendars).on_conflict_do_nothing(
            index_elements=["connection_id", "owner", "calendar"]
        )
        await conn.execute(insert, rows)
        refs = await existing()
    return refs


async def register_pairs(
    conn: AsyncConnection, items: Sequence[tuple[PairSpec, Connection, Connection]]
) -> list[tuple[str, Registered]]:
    """Store pairs (pending when new), a few statements for the whole batch. The same pair again
    changes nothing; another direction or detail updates it; a pair being removed is left alone.
    Returns each pair's id and what happened, in order."""
    wanted: dict[CalendarKey, Provider] = {}
    for spec, google, microsoft in items:
        wanted[(google.id, spec.google.owner, spec.google.calendar)] = spec.provider(Side.GOOGLE)
        wanted[(microsoft.id, spec.microsoft.owner, spec.microsoft.calendar)] = Provider(microsoft.provider)
    refs = await _ensure_calendars(conn, wanted)
    keyed = [
        (
            spec,
            refs[(google.id, spec.google.owner, spec.google.calendar)],
            refs[(microsoft.id, spec.microsoft.owner, spec.microsoft.calendar)],
        )
        for spec, google, microsoft in items
    ]

    async def existing() -> dict[tuple[str, str], Any]:
        found: dict[tuple[str, str], Any] = {}
        google_refs = sorted({g for _, g, _ in keyed})
        for start in range(0, len(google_refs), 500):
            rows = await conn.execute(
                sa.select(pairs.c.id, pairs.c.google_calendar_id, pairs.c.microsoft_calendar_id)
                .add_columns(pairs.c.state, pairs.c.direction, pairs.c.detail, pairs.c.conflict_policy)
                .add_columns(pairs.c.meeting_links, pairs.c.working_locations, pairs.c.mirror_oof)
                .where(pairs.c.google_calendar_id.in_(google_refs[start : start + 500]))
            )
            for row in rows:
                found[(row.google_calendar_id, row.microsoft_calendar_id)] = row
        return found

    before = await existing()
    new_rows = {
        (g, m): {
            "id": new_id(),
            "google_calendar_id": g,
            "microsoft_calendar_id": m,
            "direction": spec.direction.value,
            "detail": spec.detail.value,
            "conflict_policy": spec.conflict.value,
            "meeting_links": spec.meeting_links,
            "working_locations": spec.working_locations,
            "mirror_oof": spec.mirror_oof,
            "state": PairState.PENDING.value,
        }
        for spec, g, m in keyed
        if (g, m) not in before
    }
    if new_rows:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(pairs).on_conflict_do_nothing(
            index_elements=["google_calendar_id", "microsoft_calendar_id"]
        )
        await conn.execute(insert, list(new_rows.values()))
    after = await existing() if new_rows else before
    out: list[tuple[str, Registered]] = []
    for spec, g, m in keyed:
        row = after[(g, m)]
        if (g, m) in new_rows:
            mine = row.id == new_rows[(g, m)]["id"]  # or a concurrent add got there first
            out.append((str(row.id), Registered.NEW if mine else Registered.SAME))
        elif row.state == PairState.REMOVING:
            out.append((str(row.id), Registered.BUSY))
        elif (
            row.direction,
            row.detail,
            row.conflict_policy,
            bool(row.meeting_links),
            bool(row.working_locations),
            bool(row.mirror_oof),
        ) == (
            spec.direction.value,
            spec.detail.value,
            spec.conflict.value,
            spec.meeting_links,
            spec.working_locations,
            spec.mirror_oof,
        ):
            out.append((str(row.id), Registered.SAME))
        else:
            await conn.execute(
                pairs.update()
                .where(pairs.c.id == row.id)
                .values(
                    direction=spec.direction.value,
                    detail=spec.detail.value,
                    conflict_policy=spec.conflict.value,
                    meeting_links=spec.meeting_links,
                    working_locations=spec.working_locations,
                    mirror_oof=spec.mirror_oof,
                )
            )
            out.append((str(row.id), Registered.CHANGED))
    return out


async def register_pair(
    conn: AsyncConnection, spec: PairSpec, google: Connection, microsoft: Connection
) -> tuple[str, Registered]:
    """Store one pair; see `register_pairs`."""
    (result,) = await register_pairs(conn, [(spec, google, microsoft)])
    return result


@dataclass(frozen=True, slots=True)
class Registration:
    pair_id: str
    registered: Registered


async def register_specs(
    engine: AsyncEngine, specs: Sequence[PairSpec], connections: Sequence[Connection]
) -> list[Registration]:
    """Store many pairs in one transaction (pending when new); see `register_pair`."""
    chosen = [
        (
            choose_connection(connections, spec.provider(Side.GOOGLE), spec.google_connection),
            choose_connection(connections, spec.microsoft_provider, spec.microsoft_connection),
        )
        for spec in specs
    ]
    for attempt in range(3):
        try:
            async with engine.begin() as conn:
                items = [(spec, g, m) for spec, (g, m) in zip(specs, chosen, strict=True)]
                return [Registration(*result) for result in await register_pairs(conn, items)]
        except IntegrityError:
            if attempt == 2:  # a concurrent add of the same calendars won each time
                raise
    raise AssertionError("unreachable")
