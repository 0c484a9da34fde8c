"""Pairs on both engines: activation checks access first, publishes one baseline hint per source
calendar, is idempotent, and pause/resume/remove move the state as documented."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from pair_fakes import Access, RecordingBus
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.connections import Connection
from calbridge.errors import BusUnavailable
from calbridge.events import ChangeEvent, ChangeKind, Provider
from calbridge.pairs.access import RegistryAccessChecker
from calbridge.pairs.admin import (
    AddOutcome,
    NoConnection,
    PairNotActive,
    add_pair,
    finish_removal,
    pause_pair,
    remove_pair,
    request_resync,
    request_resync_all,
    resume_pair,
)
from calbridge.pairs.records import fetch_pair
from calbridge.pairs.spec import Detail, Direction, PairSpec, Side, parse_calendar
from calbridge.pairs.states import InvalidTransition, PairState
from calbridge.providers.registry import Registry
from calbridge.settings import load_settings
from calbridge.store.tables import calendars, pairs

pytestmark = pytest.mark.integration


def spec(google: str = "alice@example.com", microsoft: str = "alice@example.org", **kw: object) -> PairSpec:
    return PairSpec(
        google=parse_calendar(google, Side.GOOGLE), microsoft=parse_calendar(microsoft, Side.MICROSOFT), **kw
    )  # type: ignore[arg-type]


def hints(bus: RecordingBus) -> list[ChangeEvent]:
    return [m for m in bus.published if isinstance(m, ChangeEvent)]


async def test_given_a_calendar_the_provider_refuses_when_added_then_error_state_and_nothing_published(
    engine: AsyncEngine, connections: list[Connection], access: Access, bus: RecordingBus
) -> None:
    access.denied.add("bob@example.org")
    result = await add_pair(
        engine,
        spec("bob@example.com", "bob@example.org"),
        connections,
        RegistryAccessChecker(access.open),
        bus,
    )
    assert result.outcome is AddOutcome.FAILED
    assert result.pair.state is PairState.ERROR
    reason = result.pair.state_reason or ""
    assert "Microsoft (graph) calendar bob@example.org: access denied" in reason
    assert "Calendars.ReadWrite" in reason  # says what to do
    assert bus.published == []


async def test_given_a_missing_google_calendar_then_the_reason_names_it(
    engine: AsyncEngine, connections: list[Connection], access: Access, bus: RecordingBus
) -> None:
    access.missing.add("carol@example.com")
    result = await add_pair(
        engine,
        spec("carol@example.com/team-cal", "carol@example.org"),
        connections,
        RegistryAccessChecker(access.open),
        bus,
    )
    assert result.pair.state is PairState.ERROR
    assert "Google calendar carol@example.com/team-cal: calendar not found" in (result.pair.last_error or "")
    assert bus.published == []


@pytest.mark.parametrize(
    ("direction", "sources"),
    [
        (Direction.BOTH, {Provider.GOOGLE, Provider.GRAPH}),
        (Direction.GOOGLE_TO_MICROSOFT, {Provider.GOOGLE}),
        (Direction.MICROSOFT_TO_GOOGLE, {Provider.GRAPH}),
    ],
)
async def test_given_a_valid_pair_when_added_then_active_with_one_baseline_hint_per_source(
    engine: AsyncEngine,
    connections: list[Connection],
    access: Access,
    bus: RecordingBus,
    direction: Direction,
    sources: set[Provider],
) -> None:
    result = await add_pair(
        engine, spec(direction=direction), connections, RegistryAccessChecker(access.open), bus
    )
    assert result.outcome is AddOutcome.ADDED
    assert result.pair.state is PairState.ACTIVE
    published = hints(bus)
    assert len(published) == len(sources)
    assert {h.provider for h in published} == sources
    assert all(h.kind is ChangeKind.RESYNC and h.reason == "baseline" for h in published)
    refs = {Provider.GOOGLE: result.pair.google_ref, Provider.GRAPH: result.pair.microsoft_ref}
    assert {h.calendar for h in published} == {refs[p] for p in sources}
    # both sides were checked, with the default calendar
    assert ("google", "alice@example.com", "primary") in access.checked
    assert ("graph", "alice@example.org", "primary") in access.checked


async def test_given_an_active_pair_when_added_again_then_nothing_changes(
    engine: AsyncEngine, connections: list[Connection], access: Access, bus: RecordingBus
) -> None:
    first = await add_pair(engine, spec(), connections, RegistryAccessChecker(access.open), bus)
    published = len(bus.published)
    again = await add_pair(
        engine, spec(google="ALICE@example.com"), connections, RegistryAccessChecker(access.open), bus
    )
    assert again.outcome is AddOutcome.UNCHANGED
    assert again.pair.id == first.pair.id
    assert again.pair.updated_at == first.pair.updated_at
    assert len(bus.published) == published
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(pairs))).scalar_one() == 1
        assert (await conn.execute(sa.select(sa.func.count()).select_from(calendars))).scalar_one() == 2


async def test_given_an_active_pair_when_added_with_another_detail_then_updated_and_resynced(
    engine: AsyncEngine, connections: list[Connection], access: Access, bus: RecordingBus
) -> None:
    await add_pair(engine, spec(), connections, RegistryAccessChecker(access.open), bus)
    bus.published.clear()
    result = await add_pair(
        engine, spec(detail=Detail.BUSY), connections, RegistryAccessChecker(access.open), bus
    )
    assert result.outcome is AddOutcome.UPDATED
    assert result.pair.detail is Detail.BUSY
    assert len(hints(bus)) == 2


async def test_given_a_pair_in_error_when_the_cause_is_fixed_and_resumed_then_active(
    engine: AsyncEngine, connections: list[Connection], access: Access, bus: RecordingBus
) -> None:
    access.denied.add("alice@example.com")
    failed = await add_pair(engine, spec(), connections, RegistryAccessChecker(access.open), bus)
    assert failed.pair.state is PairState.ERROR
    access.denied.clear()
    result = await resume_pair(engine, failed.pair.id, connections, RegistryAccessChecker(access.open), bus)
    assert result.pair.state is PairState.ACTIVE
    assert result.pair.last_error is None and result.pair.state_reason is None
    assert len(hints(bus)) == 2


async def test_pause_resume_and_remove_move_the_state_with_reasons(
    engine: AsyncEngine, connections: list[Connection], access: Access, bus: RecordingBus
) -> None:
    added = await add_pair(engine, spec(), connections, RegistryAccessChecker(access.open), bus)
    pair_id = added.pair.id

    paused = await pause_pair(engine, pair_id, "migration weekend")
    assert (paused.state, paused.state_reason) == (PairState.PAUSED, "migration weekend")
    with pytest.raises(PairNotActive):
        await request_resync(engine, pair_id, bus)
    again = await pause_pair(engine, pair_id)  # pausing a paused pair changes nothing
    assert (again.state, again.state_reason) == (PairState.PAUSED, "migration weekend")

    bus.published.clear()
    resumed = await resume_pair(engine, pair_id, connections, RegistryAccessChecker(access.open), bus)
    assert resumed.pair.state is PairState.ACTIVE and resumed.pair.state_reason is None
    assert {h.reason for h in hints(bus)} == {"resume"}  # catches up on what happened while paused

    bus.published.clear()
    unchanged = await resume_pair(engine, pair_id, connections, RegistryAccessChecker(access.open), bus)
    assert unchanged.outcome is AddOutcome.UNCHANGED and not bus.published  # already active

    resynced = await request_resync(engine, pair_id, bus)
    assert len(resynced) == 2 and all(h.kind is ChangeKind.RESYNC for h in resynced)

    removing = await remove_pair(engine, pair_id, delete_mirrors=True)
    assert removing.state is PairState.REMOVING and removing.delete_mirrors
    with pytest.raises(InvalidTransition):
        await resume_pair(engine, pair_id, connections, RegistryAccessChecker(access.open), bus)

    async with engine.begin() as conn:
        deleted = await finish_removal(conn, pair_id)
    assert set(deleted) == {added.pair.google_ref, added.pair.microsoft_ref}
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(pairs))).scalar_one() == 0


async def test_given_a_calendar_in_two_pairs_when_one_is_removed_then_the_calendar_stays(
    engine: AsyncEngine, connections: list[Connection], access: Access, bus: RecordingBus
) -> None:
    first = await add_pair(engine, spec(), connections, RegistryAccessChecker(access.open), bus)
    second = await add_pair(
        engine, spec(microsoft="alice@example.org/Work"), connections, RegistryAccessChecker(access.open), bus
    )
    assert first.pair.google_ref == second.pair.google_ref  # one calendar ref, pulled once
    await remove_pair(engine, first.pair.id)
    async with engine.begin() as conn:
        deleted = await finish_removal(conn, first.pair.id)
    assert deleted == [first.pair.microsoft_ref]
    async with engine.connect() as conn:
        assert (await fetch_pair(conn, second.pair.id)).state is PairState.ACTIVE


async def test_given_two_graph_connections_when_none_is_named_then_a_clear_error(
    engine: AsyncEngine, connections: list[Connection], access: Access, bus: RecordingBus
) -> None:
    import dataclasses

    other = dataclasses.replace(connections[1], id="other", name="graph-eu")
    with pytest.raises(NoConnection, match="--microsoft-connection"):
        await add_pair(engine, spec(), [*connections, other], RegistryAccessChecker(access.open), bus)


async def test_given_no_adapter_registered_then_the_pair_is_in_error_saying_so(
    engine: AsyncEngine,
    connections: list[Connection],
    bus: RecordingBus,
    access: Access,  # the Microsoft side stays a fake: its connection names no loopback endpoint
) -> None:
    # Given a build whose registry has a Graph adapter and no Google one
    settings = load_settings()
    faked = access.registry(settings).profiles
    graph_only = Registry(settings, [p for p in faked if p.provider is Provider.GRAPH])
    # When a pair is added
    result = await add_pair(engine, spec(), connections, RegistryAccessChecker(graph_only.open), bus)
    # Then it is stored in error, saying which adapter is missing, and nothing is synced
    assert result.pair.state is PairState.ERROR
    assert "no google adapter is available" in (result.pair.state_reason or "")
    assert bus.published == []


class RefusingBus:
    async def publish(self, messages: object) -> None:
        raise BusUnavailable("the broker did not confirm in time")


async def test_given_the_bus_cannot_confirm_the_baseline_then_no_pair_is_left_active(
    engine: AsyncEngine, connections: list[Connection], access: Access
) -> None:
    result = await add_pair(engine, spec(), connections, RegistryAccessChecker(access.open), RefusingBus())
    assert result.outcome is AddOutcome.FAILED
    assert result.pair.state is PairState.ERROR
    assert "baseline sync could not be requested (the broker did not confirm in time)" in (
        result.pair.state_reason or ""
    )
    # once the bus is back, adding again activates it and requests the baseline
    bus = RecordingBus()
    again = await add_pair(engine, spec(), connections, RegistryAccessChecker(access.open), bus)
    assert again.outcome is AddOutcome.ACTIVATED and len(hints(bus)) == 2


async def test_given_active_and_paused_pairs_when_all_are_resynced_then_every_active_one_is_hinted_in_batches(
    engine: AsyncEngine, connections: list[Connection], access: Access, bus: RecordingBus
) -> None:
    # Given three active pairs and a paused one
    checker = RegistryAccessChecker(access.open)
    ids = [
        (
            await add_pair(engine, spec(f"u{n}@example.com", f"u{n}@example.org"), connections, checker, bus)
        ).pair.id
        for n in range(4)
    ]
    await pause_pair(engine, ids[3])
    bus.published.clear()
    publishes: list[int] = []
    original = bus.publish

    async def counting(messages: Any) -> None:
        publishes.append(len(messages))
        await original(messages)

    bus.publish = counting  # type: ignore[method-assign]
    # When every pair is resynced, two pairs to a batch
    seen: list[int] = []
    count = await request_resync_all(engine, bus, batch=2, progress=seen.append)
    # Then the three active pairs got a RESYNC per calendar, in two publishes, the paused one none
    assert count == 3 and seen == [2, 3]
    assert publishes == [4, 2]
    assert all(h.kind is ChangeKind.RESYNC and h.reason == "operator" for h in hints(bus))
