"""A dead letter's history: its state is true after replays that work and replays that fail
again, its attempts add up, collecting one message twice changes nothing, and `dlq list` reads
at 80 columns."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from rich.console import Console

from calbridge.bus.deadletter import ATTEMPTS_HEADER, ERROR_HEADER, FIRST_FAILURE_HEADER, LAST_FAILURE_HEADER
from calbridge.bus.memory import MemoryBus
from calbridge.errors import BusUnavailable
from calbridge.events import ChangeEvent, ChangeKind, Provider, encode
from calbridge.settings import load_settings
from calbridge.store.engine import create_engine
from calbridge.store.ids import shortest_prefixes
from calbridge.store.migrate import upgrade
from calbridge.store.tables import dead_letters
from calbridge_app.cli.dlq import dead_letters_table
from processor.deadletters import (
    DeadLetterFilter,
    DeadLetterRow,
    DeadLetterState,
    find_dead_letters,
    merge_failure,
    record_of,
    replay_dead_letters,
    store_record,
)

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def failure(
    event: ChangeEvent, attempts: int, at: datetime, error: str = "pair=p1 AccessDenied: 403"
) -> DeadLetterRow:
    headers = {
        ERROR_HEADER: error,
        ATTEMPTS_HEADER: attempts,
        FIRST_FAILURE_HEADER: (at - timedelta(minutes=5)).isoformat(),
        LAST_FAILURE_HEADER: at.isoformat(),
    }
    return record_of(encode(event), headers, None, NOW)


def change(calendar: str = "calg") -> ChangeEvent:
    return ChangeEvent(provider=Provider.GOOGLE, calendar=calendar, kind=ChangeKind.CHANGED)


# --- pure: what collecting a failure does to the entry


def test_given_a_first_failure_then_the_entry_waits() -> None:
    row = failure(change(), 4, NOW)
    assert merge_failure(None, row) == row
    assert (row.state, row.replays) == (DeadLetterState.WAITING, 0)


def test_given_the_same_message_collected_twice_then_nothing_changes() -> None:
    row = failure(change(), 4, NOW)
    assert merge_failure(row, failure(change(), 4, NOW)) is None


def test_given_a_replayed_entry_failing_again_then_it_is_failed_with_its_whole_history() -> None:
    event = change()
    replayed = DeadLetterRow(
        **{
            **failure(event, 4, NOW).values(),
            "replays": 1,
            "replayed_at": NOW,
            "state": DeadLetterState.REPLAYED,
        }
    )
    again = failure(event, 2, NOW + timedelta(hours=1), error="pair=p1 AccessDenied: 403 again")

    merged = merge_failure(replayed, again)

    assert merged is not None
    assert (merged.state, merged.attempts, merged.replays) == (DeadLetterState.FAILED, 6, 1)
    assert merged.first_failed_at == NOW - timedelta(minutes=5)
    assert merged.last_failed_at == NOW + timedelta(hours=1)
    assert (merged.replayed_at, merged.error) == (NOW, "pair=p1 AccessDenied: 403 again")


def test_given_a_second_copy_failing_before_any_replay_then_the_entry_still_waits() -> None:
    first = failure(change(), 4, NOW)
    merged = merge_failure(first, failure(change(), 4, NOW + timedelta(minutes=1)))
    assert merged is not None and merged.state is DeadLetterState.WAITING and merged.attempts == 8


# --- on a store: replays recorded, refused publishes not


@pytest.fixture
async def store(database_url: str) -> sa.ext.asyncio.AsyncEngine:
    return create_engine(database_url)  # migrated, on SQLite and on PostgreSQL


@pytest.mark.integration
async def test_given_replays_that_fail_and_succeed_then_the_state_follows_them(
    store: sa.ext.asyncio.AsyncEngine,
) -> None:
    settings = load_settings(shard_count=2)
    bus = MemoryBus(settings)
    event = change()
    await store_record(store, failure(event, 4, NOW))
    await store_record(store, failure(event, 4, NOW))  # collected twice: its ack was lost

    # When the bus refuses the replay: nothing is recorded as replayed
    with pytest.raises(BusUnavailable):
        await replay_dead_letters(store, bus, DeadLetterFilter())
    [row] = await find_dead_letters(store, DeadLetterFilter())
    assert (row.state, row.replays, row.replayed_at, row.attempts) == (DeadLetterState.WAITING, 0, None, 4)

    # When replayed, then dead-lettered again, then replayed again
    await bus.connect()
    await replay_dead_letters(store, bus, DeadLetterFilter())
    replayed = await find_dead_letters(store, DeadLetterFilter(states=[DeadLetterState.REPLAYED]))
    await store_record(store, failure(event, 2, NOW + timedelta(hours=1)))
    failed = await find_dead_letters(store, DeadLetterFilter(states=[DeadLetterState.FAILED]))
    waiting = await find_dead_letters(store, DeadLetterFilter(states=[DeadLetterState.WAITING]))

    # Then each step shows as it happened, with the attempts of both rounds
    assert [r.id for r in replayed] == [event.id]
    assert [(r.id, r.attempts, r.replays) for r in failed] == [(event.id, 6, 1)]
    assert waiting == []
    await replay_dead_letters(store, bus, DeadLetterFilter(states=[DeadLetterState.FAILED]))
    [row] = await find_dead_letters(store, DeadLetterFilter())
    assert (row.state, row.replays) == (DeadLetterState.REPLAYED, 2)
    await bus.close()
    await store.dispose()


@pytest.mark.integration
def test_given_entries_replayed_before_the_migration_then_they_show_as_replayed(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0004_subscription_leases")

    async def seed_then_read() -> list[tuple[str, str, int]]:
        engine = create_engine(url)
        base = {"queue": "q", "error": "e", "attempts": 1, "body": b"{}"}
        times = {"first_failed_at": NOW, "last_failed_at": NOW}
        async with engine.begin() as conn:
            old_columns = [c for c in dead_letters.c if c.name not in ("state", "replays")]
            insert = sa.insert(sa.table("dead_letters", *(sa.column(c.name) for c in old_columns)))
            await conn.execute(insert.values(id="a", replayed_at=None, **base, **times))
            await conn.execute(insert.values(id="b", replayed_at=NOW, **base, **times))
        await asyncio.to_thread(upgrade, url)
        rows = await find_dead_letters(engine, DeadLetterFilter())
        await engine.dispose()
        return [(r.id, r.state.value, r.replays) for r in rows]

    assert asyncio.run(seed_then_read()) == [("a", "waiting", 0), ("b", "replayed", 1)]


# --- the table


IDS = (
    "fc7024aa3e0b4c1f9d2e8a7b6c5d4e3f",
    "fc7024ab5e0b4c1f9d2e8a7b6c5d4e3f",
    "0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f6",
)


def test_the_list_fits_80_columns_with_ids_every_command_accepts() -> None:
    rows = [
        DeadLetterRow(
            id=whole,
            queue="calbridge.changes.3",
            calendar_id="Zk3aP0qLm2Xy",
            pair_id="bAzHC79LFM-w",
            error="pair=bAzHC79LFM-w AccessDenied: Microsoft (graph) calendar ann@example.org: access denied",
            attempts=4 + n,
            body=b"{}",
            first_failed_at=NOW - timedelta(hours=3),
            last_failed_at=NOW - timedelta(hours=2),
            state=state,
        )
        for n, (whole, state) in enumerate(zip(IDS, DeadLetterState, strict=True))
    ]
    short = shortest_prefixes(row.id for row in rows)
    out = io.StringIO()
    Console(file=out, width=80, color_system=None).print(dead_letters_table(rows, short, NOW))

    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["id", "state", "pair", "calendar", "tries", "failed", "error"]
    assert all(len(line) <= 80 for line in lines), "\n".join(lines)
    shown = [line.split()[0] for line in lines[1:]]
    assert shown == ["fc7024aa", "fc7024ab", "0d1e2f3a"]
    for line, row in zip(lines[1:], rows, strict=True):
        assert row.state.value in line and "bAzHC79LFM-w Zk3aP0qLm2Xy" in line and "2h ago" in line
        assert "AccessDenied: Micro" in line, "the error, without the pair it repeats, has room"
