"""What the EWS listener watches: the EWS calendars of active pairs, and their subscription rows.

Each watched calendar has one row in `subscriptions` (provider `ews`, id `ews-<calendar ref>`)
holding the server's subscription id once subscribed, and one lease row. Streams are planned
per connection and mailbox (`plan_streams`, pure).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from calbridge.events import Provider
from calbridge.store.tables import calendars, pairs, subscriptions

__all__ = [
    "MAX_SUBSCRIPTIONS_PER_STREAM",
    "StreamKey",
    "StreamTarget",
    "ensure_subscription_rows",
    "load_targets",
    "plan_streams",
    "record_subscribed",
    "subscription_id_for",
]

# GetStreamingEvents takes at most 200 subscription ids (provider-facts 3.2).
MAX_SUBSCRIPTIONS_PER_STREAM = 200
_WATCHED_DIRECTIONS = ("both", "microsoft-to-google")


@dataclass(frozen=True, slots=True)
class StreamTarget:
    """One watched EWS calendar."""

    subscription_id: str  # our row's id
    calendar_ref: str
    connection_id: str
    mailbox: str
    calendar: str  # provider calendar id ("primary": the mailbox's calendar folder)


@dataclass(frozen=True, slots=True, order=True)
class StreamKey:
    """One GetStreamingEvents connection: a connection's account, one anchor mailbox, a slice."""

    connection_id: str
    anchor: str
    slice: int = 0


def subscription_id_for(calendar_ref: str) -> str:
    return f"ews-{calendar_ref}"


async def load_targets(conn: AsyncConnection) -> list[StreamTarget]:
    """The EWS calendars of active pairs whose Microsoft side is a source."""
    rows = await conn.execute(
        sa.select(calendars.c.id, calendars.c.connection_id, calendars.c.owner, calendars.c.calendar)
        .join(pairs, pairs.c.microsoft_calendar_id == calendars.c.id)
        .where(
            (calendars.c.provider == Provider.EWS.value)
            & (pairs.c.state == "active")
            & pairs.c.direction.in_(_WATCHED_DIRECTIONS)
        )
        .distinct()
        .order_by(calendars.c.id)
    )
    return [
        StreamTarget(subscription_id_for(r.id), r.id, r.connection_id, r.owner.lower(), r.calendar)
        for r in rows
    ]


async def ensure_subscription_rows(conn: AsyncConnection, targets: Sequence[StreamTarget]) -> None:
    """A `subscriptions` row (provider ews) per target; existing rows are left as they are."""
    if not targets:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(subscriptions).on_conflict_do_nothing(index_elements=["id"])
    await conn.execute(
        insert,
        [
            {
                "id": t.subscription_id,
                "calendar_id": t.calendar_ref,
                "provider": Provider.EWS.value,
                "state": "active",
                "failures": 0,
            }
            for t in targets
        ],
    )


async def record_subscribed(conn: AsyncConnection, subscription_id: str, provider_id: str | None) -> None:
    """Remember the server's subscription id (None: unsubscribed) for a row."""
    await conn.execute(
        subscriptions.update()
        .where(subscriptions.c.id == subscription_id)
        .values(
            provider_id=provider_id,
            state="active" if provider_id else "pending",  # the renewer's row states
            failures=0,
            last_error=None,
        )
    )


def plan_streams(
    targets: Iterable[StreamTarget], per_stream: int = MAX_SUBSCRIPTIONS_PER_STREAM
) -> dict[StreamKey, tuple[StreamTarget, ...]]:
    """Group held subscriptions into streams.

    A GetStreamingEvents request is sent as one impersonated mailbox (the anchor) and must reach
    the backend that holds every subscription in it (X-AnchorMailbox, affinity cookie). exchangelib
    anchors each request on the mailbox it impersonates, so the subscriptions of one mailbox share
    a stream (up to `per_stream`); different mailboxes get their own.
    """
    by_mailbox: dict[tuple[str, str], list[StreamTarget]] = {}
    for target in targets:
        by_mailbox.setdefault((target.connection_id, target.mailbox), []).append(target)
    plan: dict[StreamKey, tuple[StreamTarget, ...]] = {}
    for (connection_id, mailbox), group in sorted(by_mailbox.items()):
        group.sort(key=lambda t: t.subscription_id)
        for index, start in enumerate(range(0, len(group), per_stream)):
            plan[StreamKey(connection_id, mailbox, index)] = tuple(group[start : start + per_stream])
    return plan
