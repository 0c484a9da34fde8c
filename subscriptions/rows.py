"""Reading and writing subscription rows (the renewer's I/O on the store), one statement per
idea; the decisions about them live in `schedule` and `reconcile`."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from calbridge.events import Provider
from calbridge.providers.base import CalendarAddress
from calbridge.store.tables import calendars, pairs, subscriptions
from subscriptions.reconcile import PairView
from subscriptions.schedule import RowState, SubscriptionRow

__all__ = [
    "CalendarInfo",
    "NewSubscription",
    "World",
    "delete_row",
    "find_by_provider_id",
    "insert_subscription",
    "mark_due",
    "read_world",
    "release",
    "row_from",
    "update_row",
]


@dataclass(frozen=True, slots=True)
class CalendarInfo:
    id: str
    provider: Provider
    connection_id: str
    owner: str
    calendar: str

    @property
    def address(self) -> CalendarAddress:
        return CalendarAddress(owner=self.owner, calendar=self.calendar)


@dataclass(frozen=True, slots=True)
class World:
    pairs: tuple[PairView, ...]
    rows: tuple[SubscriptionRow, ...]
    calendars: dict[str, CalendarInfo]


@dataclass(frozen=True, slots=True)
class NewSubscription:
    id: str
    calendar_id: str
    provider: Provider
    provider_id: str | None
    expires_at: datetime | None
    renew_at: datetime
    resync_at: datetime | None
    key_id: str | None
    token_expires_at: datetime | None
    state: RowState = RowState.ACTIVE


def new_id() -> str:
    return uuid.uuid4().hex


def row_from(mapping: Any) -> SubscriptionRow:
    return SubscriptionRow(
        id=mapping["id"],
        calendar_id=mapping["calendar_id"],
        provider=Provider(mapping["provider"]),
        state=RowState(mapping["state"]),
        provider_id=mapping["provider_id"],
        expires_at=mapping["expires_at"],
        renew_at=mapping["renew_at"],
        resync_at=mapping["resync_at"],
        failures=mapping["failures"],
        key_id=mapping["key_id"],
        token_expires_at=mapping["token_expires_at"],
    )


def _calendar_from(mapping: Any) -> CalendarInfo:
    return CalendarInfo(
        id=mapping["id"],
        provider=Provider(mapping["provider"]),
        connection_id=mapping["connection_id"],
        owner=mapping["owner"],
        calendar=mapping["calendar"],
    )


async def read_world(engine: AsyncEngine) -> World:
    """Pairs, subscription rows and the calendars either of them names, in one snapshot."""
    async with engine.connect() as conn:
        pair_rows = (await conn.execute(sa.select(pairs))).mappings().all()
        sub_rows = (await conn.execute(sa.select(subscriptions))).mappings().all()
        named = {p["google_calendar_id"] for p in pair_rows} | {p["microsoft_calendar_id"] for p in pair_rows}
        named |= {s["calendar_id"] for s in sub_rows}
        cal_rows = (
            (await conn.execute(sa.select(calendars).where(calendars.c.id.in_(sorted(named)))))
            .mappings()
            .all()
            if named
            else []
        )
    return World(
        pairs=tuple(
            PairView(
                id=p["id"],
                google_calendar_id=p["google_calendar_id"],
                microsoft_calendar_id=p["microsoft_calendar_id"],
                direction=p["direction"],
                state=p["state"],
                delete_mirrors=bool(p["delete_mirrors"]),
            )
            for p in pair_rows
        ),
        rows=tuple(row_from(s) for s in sub_rows),
        calendars={c["id"]: _calendar_from(c) for c in cal_rows},
    )


async def read_calendar(conn: AsyncConnection, calendar_id: str) -> CalendarInfo | None:
    found = (await conn.execute(sa.select(calendars).where(calendars.c.id == calendar_id))).mappings().first()
    return None if found is None else _calendar_from(found)


async def insert_subscription(conn: AsyncConnection, new: NewSubscription, now: datetime) -> None:
    await conn.execute(
        sa.insert(subscriptions).values(
            id=new.id,
            calendar_id=new.calendar_id,
            provider=new.provider.value,
            provider_id=new.provider_id,
            expires_at=new.expires_at,
            state=new.state.value,
            renew_at=new.renew_at,
            resync_at=new.resync_at,
            failures=0,
            key_id=new.key_id,
            token_expires_at=new.token_expires_at,
            created_at=now,
            updated_at=now,
        )
    )


async def update_row(conn: AsyncConnection, row_id: str, now: datetime, **values: Any) -> None:
    """Change a row and release its lease (unless `lease_until` is among the values)."""
    changes: dict[str, Any] = {"lease_until": None, "updated_at": now}
    changes.update({k: (v.value if isinstance(v, RowState) else v) for k, v in values.items()})
    await conn.execute(sa.update(subscriptions).where(subscriptions.c.id == row_id).values(**changes))


async def release(engine: AsyncEngine, row_ids: Sequence[str], now: datetime) -> None:
    if not row_ids:
        return
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(subscriptions).where(subscriptions.c.id.in_(row_ids)).values(lease_until=None)
        )


async def delete_row(conn: AsyncConnection, row_id: str) -> None:
    await conn.execute(sa.delete(subscriptions).where(subscriptions.c.id == row_id))


async def mark_due(
    engine: AsyncEngine, row_ids: Iterable[str], now: datetime, state: RowState | None = None
) -> None:
    """Make rows due now (optionally changing their state), so the next pass acts on them."""
    ids = list(row_ids)
    if not ids:
        return
    values: dict[str, Any] = {"renew_at": now, "updated_at": now}
    if state is not None:
        values["state"] = state.value
    async with engine.begin() as conn:
        await conn.execute(sa.update(subscriptions).where(subscriptions.c.id.in_(ids)).values(**values))


async def find_by_provider_id(
    engine: AsyncEngine, provider: Provider, provider_id: str
) -> SubscriptionRow | None:
    async with engine.connect() as conn:
        found = (
            (
                await conn.execute(
                    sa.select(subscriptions).where(
                        subscriptions.c.provider == provider.value,
                        subscriptions.c.provider_id == provider_id,
                    )
                )
            )
            .mappings()
            .first()
        )
    return None if found is None else row_from(found)
