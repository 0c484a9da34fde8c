"""A pair's health on SQLite and PostgreSQL: event failures stored, counted and cleared; a pair
the processor put in error is checked again by the renewer and heals when access is back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from pair_fakes import Access, RecordingBus
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.connections import Connection
from calbridge.events import ChangeKind
from calbridge.metrics import REGISTRY
from calbridge.pairs.access import RegistryAccessChecker
from calbridge.pairs.admin import add_pair
from calbridge.pairs.connection_faults import fail_pair as fail_pair_in
from calbridge.pairs.event_failures import (
    FailedEvent,
    clear_failures,
    count_failures,
    failure_totals,
    fetch_failures,
    record_failures,
)
from calbridge.pairs.health import claim_rechecks, note_last_error
from calbridge.pairs.policy import Side
from calbridge.pairs.records import fetch_pair
from calbridge.pairs.removal import finish_removal, remove_pair
from calbridge.pairs.spec import PairSpec, parse_calendar
from calbridge.store.tables import event_failures
from subscriptions.pair_health import PairHealth

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ODD = FailedEvent("series1", "graph", "UnsupportedRecurrence", "cannot be expressed on graph: BYHOUR")


async def active_pair(
    engine: AsyncEngine, connections: list[Connection], access: Access, bus: RecordingBus, user: str = "alice"
) -> str:
    spec = PairSpec(
        parse_calendar(f"{user}@example.com", Side.GOOGLE),
        parse_calendar(f"{user}@example.org", Side.MICROSOFT),
    )
    result = await add_pair(engine, spec, connections, RegistryAccessChecker(access.open), bus)
    return result.pair.id


async def test_given_event_failures_then_they_are_stored_counted_and_cleared(
    engine: AsyncEngine, connections: list[Connection], access: Access, bus: RecordingBus
) -> None:
    pair = await active_pair(engine, connections, access, bus)
    async with engine.begin() as conn:
        await record_failures(conn, pair, Side.GOOGLE, [ODD], T0)
        again = FailedEvent("series1", "graph", "UnsupportedRecurrence", "still BYHOUR")
        await record_failures(conn, pair, Side.GOOGLE, [again], T0 + timedelta(hours=1))
        await record_failures(
            conn, pair, Side.MICROSOFT, [FailedEvent("m9", "google", "AlreadyExists", "id taken")], T0
        )
    async with engine.connect() as conn:
        failures = await fetch_failures(conn, pair)
        assert await count_failures(conn) == {pair: 2}
        assert await failure_totals(conn) == {
            ("graph", "UnsupportedRecurrence"): 1,
            ("google", "AlreadyExists"): 1,
        }
    series = next(f for f in failures if f.event_id == "series1")
    assert (series.attempts, series.first_seen_at, series.last_seen_at) == (2, T0, T0 + timedelta(hours=1))
    assert series.reason == "still BYHOUR"
    async with engine.begin() as conn:
        assert await clear_failures(conn, pair, Side.GOOGLE, ["series1", "other"]) == 1
        assert await clear_failures(conn, pair, Side.GOOGLE, ["m9"]) == 0  # the id of the other side
    async with engine.connect() as conn:
        assert [f.event_id for f in await fetch_failures(conn, pair)] == ["m9"]


async def test_given_a_pair_removed_then_its_event_failures_go_with_it(
    engine: AsyncEngine, connections: list[Connection], access: Access, bus: RecordingBus
) -> None:
    pair = await active_pair(engine, connections, access, bus)
    async with engine.begin() as conn:
        await record_failures(conn, pair, Side.GOOGLE, [ODD], T0)
    await remove_pair(engine, pair)
    async with engine.begin() as conn:
        await finish_removal(conn, pair)
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(event_failures))).scalar_one() == 0


async def test_given_a_pair_in_error_when_access_is_back_then_the_recheck_activates_and_resyncs_it(
    engine: AsyncEngine, connections: list[Connection], access: Access, bus: RecordingBus
) -> None:
    pair = await active_pair(engine, connections, access, bus)
    healthy = await active_pair(engine, connections, access, bus, user="bob")
    reason = "Microsoft (graph) calendar alice@example.org: access denied (graph 403); grant the app ..."
    assert await fail_pair(engine, pair, reason)
    record = await reload(engine, pair)
    assert (record.state.value, record.state_reason, record.last_error) == ("error", reason, reason)

    access.denied.add("alice@example.org")  # still refused
    now = [T0]
    by_id = {c.id: c for c in connections}

    async def loader(ids: object) -> dict[str, Connection]:
        return by_id

    health = PairHealth(
        engine,
        bus,
        loader,
        RegistryAccessChecker(access.open),
        interval=timedelta(minutes=15),
        clock=lambda: now[0],
    )
    published = len(bus.published)
    report = await health.tick()
    assert (report.checked, report.still_failing, report.restored) == (1, [pair], [])
    assert (await reload(engine, pair)).state.value == "error"
    assert gauge("calbridge_pairs", state="error") == 1

    access.denied.clear()  # an admin restores access
    now[0] += timedelta(minutes=5)
    assert (await health.tick()).checked == 0, "not before the interval"
    now[0] += timedelta(minutes=11)
    report = await health.tick()
    assert report.restored == [pair]
    record = await reload(engine, pair)
    assert (record.state.value, record.state_reason, record.last_error) == ("active", None, None)
    resyncs = bus.published[published:]
    assert {(h.calendar, h.kind, h.reason) for h in resyncs} == {  # type: ignore[union-attr]
        (record.google_ref, ChangeKind.RESYNC, "baseline"),
        (record.microsoft_ref, ChangeKind.RESYNC, "baseline"),
    }
    assert (await reload(engine, healthy)).state.value == "active"
    assert gauge("calbridge_pairs", state="error") == 0


async def test_given_a_paused_pair_then_the_processor_never_puts_it_in_error(
    engine: AsyncEngine, connections: list[Connection], access: Access, bus: RecordingBus
) -> None:
    from calbridge.pairs.admin import pause_pair

    pair = await active_pair(engine, connections, access, bus)
    await pause_pair(engine, pair, "migration weekend")
    assert not await fail_pair(engine, pair, "access denied")
    assert (await reload(engine, pair)).state.value == "paused"


async def test_given_two_renewers_then_one_pair_in_error_is_claimed_once(
    engine: AsyncEngine, connections: list[Connection], access: Access, bus: RecordingBus
) -> None:
    pair = await active_pair(engine, connections, access, bus)
    await fail_pair(engine, pair, "calendar not found")
    first = await claim_rechecks(engine, T0, timedelta(minutes=15))
    second = await claim_rechecks(engine, T0, timedelta(minutes=15))
    assert (first, second) == ([pair], [])
    assert await claim_rechecks(engine, T0 + timedelta(minutes=16), timedelta(minutes=15)) == [pair]


async def test_given_a_last_error_then_it_is_cleared_without_touching_the_state(
    engine: AsyncEngine, connections: list[Connection], access: Access, bus: RecordingBus
) -> None:
    pair = await active_pair(engine, connections, access, bus)
    await note_last_error(engine, pair, "the last sync failed, retrying: TransientProviderError: graph 503")
    assert (await reload(engine, pair)).last_error is not None
    await note_last_error(engine, pair, None)
    record = await reload(engine, pair)
    assert (record.state.value, record.last_error) == ("active", None)


async def test_given_event_failures_then_the_gauge_counts_them_and_drops_to_zero_when_cleared(
    engine: AsyncEngine, connections: list[Connection], access: Access, bus: RecordingBus
) -> None:
    pair = await active_pair(engine, connections, access, bus)
    health = PairHealth(
        engine,
        bus,
        lambda ids: _none(),
        RegistryAccessChecker(access.open),
        interval=timedelta(minutes=15),
        clock=lambda: T0,
    )
    async with engine.begin() as conn:
        await record_failures(conn, pair, Side.GOOGLE, [ODD], T0)
    await health.observe()
    assert gauge("calbridge_event_failures", provider="graph", reason="UnsupportedRecurrence") == 1
    async with engine.begin() as conn:
        await clear_failures(conn, pair, Side.GOOGLE, [ODD.event_id])
    await health.observe()
    assert gauge("calbridge_event_failures", provider="graph", reason="UnsupportedRecurrence") == 0


async def _none() -> dict[str, Connection]:
    return {}


async def fail_pair(engine: AsyncEngine, pair_id: str, reason: str) -> bool:
    """What the processor does when the access check confirms a pair's own failure."""
    async with engine.begin() as conn:
        return await fail_pair_in(conn, pair_id, reason)


async def reload(engine: AsyncEngine, pair_id: str):  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        return await fetch_pair(conn, pair_id)


def gauge(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0
