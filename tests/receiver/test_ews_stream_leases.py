"""Leases on EWS subscriptions, on SQLite and PostgreSQL: one holder at a time, takeover on expiry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from ews_stream_support import ref_of, seed_pairs
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.store.engine import create_engine
from ews_listener.leases import claim_leases, ensure_leases, release_leases, renew_leases
from ews_listener.targets import ensure_subscription_rows, load_targets

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

T0 = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
MAILBOXES = [f"user{i}@example.com" for i in range(6)]


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await seed_pairs(engine, MAILBOXES)
    async with engine.begin() as conn:
        targets = await load_targets(conn)
        await ensure_subscription_rows(conn, targets)
        await ensure_leases(conn, [t.subscription_id for t in targets])
        await ensure_leases(conn, [t.subscription_id for t in targets])  # again: nothing changes
    yield engine
    await engine.dispose()


async def all_ids(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return [t.subscription_id for t in await load_targets(conn)]


async def test_given_active_ews_pairs_then_each_calendar_has_one_subscription_row(
    engine: AsyncEngine,
) -> None:
    assert sorted(await all_ids(engine)) == sorted(f"ews-{ref_of(m)}" for m in MAILBOXES)


async def test_given_two_listeners_claiming_at_once_then_no_subscription_has_two_holders(
    engine: AsyncEngine,
) -> None:
    ids = await all_ids(engine)
    won_a, won_b = await asyncio.gather(
        claim_leases(engine, "a", ids, now=T0, ttl=60, limit=100),
        claim_leases(engine, "b", ids, now=T0, ttl=60, limit=100),
    )
    assert not set(won_a) & set(won_b)
    assert sorted([*won_a, *won_b]) == sorted(ids)


async def test_given_a_limit_then_a_listener_leaves_the_rest_to_another(engine: AsyncEngine) -> None:
    ids = await all_ids(engine)
    first = await claim_leases(engine, "a", ids, now=T0, ttl=60, limit=4)
    second = await claim_leases(engine, "b", ids, now=T0, ttl=60, limit=100)
    assert len(first) == 4 and sorted(first + second) == sorted(ids)


async def test_given_a_holder_that_stops_renewing_then_another_takes_over_after_expiry(
    engine: AsyncEngine,
) -> None:
    ids = await all_ids(engine)
    assert sorted(await claim_leases(engine, "a", ids, now=T0, ttl=60, limit=100)) == sorted(ids)
    assert await claim_leases(engine, "b", ids, now=T0 + timedelta(seconds=59), ttl=60, limit=100) == []
    taken = await claim_leases(engine, "b", ids, now=T0 + timedelta(seconds=61), ttl=60, limit=100)
    assert sorted(taken) == sorted(ids)
    # the old holder learns it lost them when it next renews
    assert await renew_leases(engine, "a", ids, now=T0 + timedelta(seconds=62), ttl=60) == []
    assert sorted(await renew_leases(engine, "b", ids, now=T0 + timedelta(seconds=62), ttl=60)) == sorted(ids)


async def test_given_a_released_lease_then_another_listener_takes_it_at_once(engine: AsyncEngine) -> None:
    ids = await all_ids(engine)
    await claim_leases(engine, "a", ids, now=T0, ttl=60, limit=100)
    await release_leases(engine, "a", ids[:2])
    assert sorted(await claim_leases(engine, "b", ids, now=T0, ttl=60, limit=100)) == sorted(ids[:2])
    await release_leases(engine, "a")
    assert sorted(await claim_leases(engine, "b", ids, now=T0, ttl=60, limit=100)) == sorted(ids)
