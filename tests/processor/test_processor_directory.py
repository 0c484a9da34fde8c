"""The pair directory: answers kept for a second, a local pause seen at once, sync times written
at most every few seconds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from processor_world import GOOGLE_REF, MICROSOFT_REF, PAIR, add_pair, migrated_store
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.store.tables import pairs
from processor.directory import PairDirectory


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = await migrated_store(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    await add_pair(engine)
    yield engine
    await engine.dispose()


async def set_state(engine: AsyncEngine, state: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(sa.update(pairs).where(pairs.c.id == PAIR).values(state=state))


async def last_sync(engine: AsyncEngine) -> datetime | None:
    async with engine.connect() as conn:
        found: datetime | None = (
            await conn.execute(sa.select(pairs.c.last_sync_at).where(pairs.c.id == PAIR))
        ).scalar_one()
    return found


async def test_given_a_change_made_elsewhere_when_asked_again_then_it_shows_after_the_ttl(
    engine: AsyncEngine,
) -> None:
    clock = Clock()
    directory = PairDirectory(engine, ttl=1.0, clock=clock)
    assert [p.active for p in await directory.pairs_of(GOOGLE_REF)] == [True]
    await set_state(engine, "paused")  # an operator, through the CLI
    clock.now += 0.5
    assert [p.active for p in await directory.pairs_of(GOOGLE_REF)] == [True]  # still remembered
    clock.now += 0.6
    assert [p.active for p in await directory.pairs_of(GOOGLE_REF)] == [False]
    assert [p.id for p in await directory.pairs_of(MICROSOFT_REF)] == [PAIR]
    assert await directory.pairs_of("no-such-calendar") == []


async def test_given_a_pause_made_here_when_asked_again_then_it_shows_at_once(engine: AsyncEngine) -> None:
    directory = PairDirectory(engine, ttl=60.0, clock=Clock())
    assert [p.active for p in await directory.pairs_of(GOOGLE_REF)] == [True]
    await directory.pause(PAIR, "the breaker tripped")
    assert [p.state for p in await directory.pairs_of(GOOGLE_REF)] == ["paused"]


async def test_given_passes_in_quick_succession_then_the_sync_time_is_written_once_per_interval(
    engine: AsyncEngine,
) -> None:
    clock = Clock()
    directory = PairDirectory(engine, sync_record_interval=5.0, clock=clock)
    await directory.record_sync(PAIR)
    first = await last_sync(engine)
    assert first is not None
    clock.now += 4.0
    await directory.record_sync(PAIR)
    assert await last_sync(engine) == first
    clock.now += 1.5
    await directory.record_sync(PAIR)
    later = await last_sync(engine)
    assert later is not None and later > first


@pytest.mark.integration
async def test_given_thousands_of_pairs_when_a_microsoft_calendar_is_hinted_then_its_pairs_are_found_by_index(
    postgres_url: str,
) -> None:
    # Given 3,000 pairs on PostgreSQL (statistics up to date)
    from calbridge.store.tables import calendars
    from processor.directory import _PAIRS_OF

    engine = await migrated_store(postgres_url)
    try:
        await add_pair(engine)  # the connections
        async with engine.begin() as conn:
            await conn.execute(
                sa.insert(calendars),
                [
                    {
                        "id": f"bulk-{side}{n}",
                        "connection_id": f"conn-{side}",
                        "provider": provider,
                        "owner": f"u{n}@example.com",
                        "calendar": "primary",
                    }
                    for n in range(3_000)
                    for side, provider in (("g", "google"), ("m", "graph"))
                ],
            )
            await conn.execute(
                sa.insert(pairs),
                [
                    {
                        "id": f"bulk-p{n}",
                        "google_calendar_id": f"bulk-g{n}",
                        "microsoft_calendar_id": f"bulk-m{n}",
                        "state": "active",
                    }
                    for n in range(3_000)
                ],
            )
            await conn.execute(sa.text("ANALYZE"))
        # When a hint for one Microsoft calendar is looked up
        directory = PairDirectory(engine, clock=Clock())
        found = await directory.pairs_of("bulk-m2999")
        async with engine.connect() as conn:
            bound = _PAIRS_OF.params(calendar="bulk-m2999")
            query = bound.compile(engine.sync_engine, compile_kwargs={"literal_binds": True})
            plan = "\n".join(row[0] for row in await conn.exec_driver_sql(f"EXPLAIN {query}"))
        # Then it is the right pair, read through the index on the Microsoft side (no scan of
        # every pair or of the whole Google-side index, which grew with the number of pairs)
        assert [p.id for p in found] == ["bulk-p2999"]
        assert "ix_pairs_microsoft_calendar_id" in plan, plan
        assert "Seq Scan on pairs" not in plan, plan
    finally:
        await engine.dispose()
