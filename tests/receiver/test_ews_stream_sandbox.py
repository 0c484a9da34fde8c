"""The EWS listener end to end against the EWS emulator (real exchangelib) and real RabbitMQ.

A person's changes in an Exchange mailbox become change events on the bus; a cut stream, a
subscription dropped on the server and a second listener over the same store are all survived
without losing a change or streaming a subscription twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ews_stream_support import BusReader, eventually, listener, ref_of, seed_pairs
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.events import ChangeKind
from calbridge.metrics import REGISTRY
from calbridge.store.engine import create_engine
from calbridge.store.migrate import upgrade
from ews_listener.notifications import CATCH_UP
from ews_listener.stream import EwsListener
from sandbox.ews.testing import RunningEws, sample_world, serve_in_thread
from sandbox.faults import NotificationFaults

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq, pytest.mark.timeout(60)]

ALICE, BOB = "alice@example.com", "bob@example.com"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def ews() -> Iterator[RunningEws]:
    with serve_in_thread(sample_world(minute_seconds=1.0)) as running:
        yield running


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    await seed_pairs(engine, [ALICE, BOB])
    yield engine
    await engine.dispose()


@pytest.fixture
async def reader(amqp_url: str) -> AsyncIterator[BusReader]:
    async with BusReader(amqp_url) as reader:
        yield reader


async def running(listen: EwsListener) -> tuple[asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    return stop, asyncio.create_task(listen.run(stop))


async def stopped(stop: asyncio.Event, task: asyncio.Task[None]) -> None:
    stop.set()
    await asyncio.wait_for(task, 15)


def create(ews: RunningEws, mailbox: str, subject: str) -> str:
    made = ews.control.create_item(
        mailbox, subject=subject, start=START.isoformat(), end=(START + timedelta(hours=1)).isoformat()
    )
    return str(made["id"])


def dropped_reconnects() -> float:
    return REGISTRY.get_sample_value("calbridge_ews_stream_reconnects_total", {"cause": "dropped"}) or 0.0


def streaming(ews: RunningEws, mailbox: str) -> bool:
    return ews.in_loop(
        lambda: any(s.mailbox == mailbox and s.waiters for s in ews.world.subscriptions.values())
    )


def hints(reader: BusReader, mailbox: str) -> list[tuple[ChangeKind, str | None, str | None]]:
    return [(e.kind, e.resource, e.version) for e in reader.of(ref_of(mailbox), "ews-stream")]


def has_hint(
    reader: BusReader, mailbox: str, kind: ChangeKind, item: str, version: str | None = None
) -> bool:
    return any(
        k is kind and r == item and (version is None or v == version) for k, r, v in hints(reader, mailbox)
    )


async def test_given_a_listener_when_a_person_changes_items_then_each_change_is_on_the_bus_once(
    ews: RunningEws, engine: AsyncEngine, reader: BusReader
) -> None:
    ews.faults.notifications["ews"] = NotificationFaults(duplicate_rate=1.0)  # Exchange repeats itself
    listen, folders = listener(engine, reader.bus, ews.ews_url)
    stop, task = await running(listen)
    try:
        await eventually(
            lambda: streaming(ews, ALICE) and streaming(ews, BOB), what="both mailboxes streaming"
        )
        await eventually(lambda: len(reader.of(ref_of(ALICE), CATCH_UP)) == 1, what="the first catch-up")

        # Exchange follows each create with a modification of the same version, and the stream
        # keeps its order: once the hint of a later change is there, every hint before it is too.
        item = create(ews, ALICE, "Planning")
        await eventually(lambda: has_hint(reader, ALICE, ChangeKind.CREATED, item), what="the create")
        edited = ews.control.edit_item(ALICE, item, subject="Planning (moved)")["changekey"]
        await eventually(lambda: has_hint(reader, ALICE, ChangeKind.UPDATED, item, edited), what="the edit")
        ews.control.move_item(ALICE, item, folder="deleteditems")
        await eventually(lambda: has_hint(reader, ALICE, ChangeKind.DELETED, item), what="the move")
        other = create(ews, BOB, "Lunch")
        ews.control.delete_item(BOB, other)
        await eventually(lambda: has_hint(reader, BOB, ChangeKind.DELETED, other), what="bob's delete")
    finally:
        await stopped(stop, task)
        folders.close()

    alice = [(kind, resource) for kind, resource, _ in hints(reader, ALICE)]
    assert alice == [(ChangeKind.CREATED, item), (ChangeKind.UPDATED, item), (ChangeKind.DELETED, item)]
    bob = [(kind, resource) for kind, resource, _ in hints(reader, BOB)]
    assert bob == [(ChangeKind.CREATED, other), (ChangeKind.DELETED, other)]


async def test_given_a_stream_cut_mid_stream_then_it_reopens_with_a_catch_up_and_later_changes_arrive(
    ews: RunningEws, engine: AsyncEngine, reader: BusReader
) -> None:
    listen, folders = listener(engine, reader.bus, ews.ews_url)
    stop, task = await running(listen)
    try:
        await eventually(lambda: streaming(ews, ALICE), what="alice streaming")
        await eventually(lambda: len(reader.of(ref_of(ALICE), CATCH_UP)) == 1, what="the first catch-up")

        dropped_before = dropped_reconnects()
        assert ews.control.cut_streams(ALICE) == 1
        create(ews, ALICE, "Made while the stream was down")  # the catch-up's SyncFolderItems finds it
        await eventually(
            lambda: len(reader.of(ref_of(ALICE), CATCH_UP)) == 2, what="the catch-up after the cut"
        )
        await eventually(lambda: streaming(ews, ALICE), what="the stream reopened")
        after = create(ews, ALICE, "Made after")
        await eventually(
            lambda: after in {e.resource for e in reader.of(ref_of(ALICE), "ews-stream")},
            what="the later change",
        )
    finally:
        await stopped(stop, task)
        folders.close()
    assert dropped_reconnects() > dropped_before


async def test_given_a_subscription_dropped_on_the_server_then_it_is_recreated_with_a_catch_up(
    ews: RunningEws, engine: AsyncEngine, reader: BusReader
) -> None:
    listen, folders = listener(engine, reader.bus, ews.ews_url)
    stop, task = await running(listen)
    try:
        await eventually(lambda: streaming(ews, ALICE), what="alice streaming")
        await eventually(lambda: len(reader.of(ref_of(ALICE), CATCH_UP)) == 1, what="the first catch-up")
        (first,) = [s["id"] for s in ews.control.subscriptions() if s["mailbox"] == ALICE]

        ews.control.drop_subscription(first)
        await eventually(
            lambda: len(reader.of(ref_of(ALICE), CATCH_UP)) == 2, what="the catch-up after the drop"
        )
        await eventually(lambda: streaming(ews, ALICE), what="a new subscription streaming")
        item = create(ews, ALICE, "After the drop")
        await eventually(
            lambda: item in {e.resource for e in reader.of(ref_of(ALICE), "ews-stream")},
            what="the later change",
        )
    finally:
        await stopped(stop, task)
        folders.close()
    live = [s["id"] for s in ews.control.subscriptions() if s["mailbox"] == ALICE]
    assert first not in live and len(live) == 1


async def test_given_two_listeners_over_one_store_then_each_subscription_is_streamed_by_one(
    ews: RunningEws, engine: AsyncEngine, reader: BusReader
) -> None:
    one, folders_one = listener(engine, reader.bus, ews.ews_url, max_streams=1)
    two, folders_two = listener(engine, reader.bus, ews.ews_url, max_streams=1)
    stop_one, task_one = await running(one)
    stop_two, task_two = await running(two)
    try:
        await eventually(lambda: len(one.held) == 1 and len(two.held) == 1, what="the work split")
        assert not one.held & two.held
        await eventually(lambda: streaming(ews, ALICE) and streaming(ews, BOB), what="both streaming")

        await stopped(stop_one, task_one)  # a replica goes away: the other takes over its mailbox
        await eventually(lambda: len(two.held) == 1, what="the survivor keeps its own")
        two_alone, folders_three = listener(engine, reader.bus, ews.ews_url, max_streams=2)
        stop_three, task_three = await running(two_alone)
        await eventually(lambda: len(two_alone.held) == 1, what="the released lease claimed")
        assert not two_alone.held & two.held
        await stopped(stop_three, task_three)
        folders_three.close()
    finally:
        if not task_one.done():
            await stopped(stop_one, task_one)
        await stopped(stop_two, task_two)
        folders_one.close()
        folders_two.close()
    await eventually(
        lambda: ews.in_loop(lambda: sum(len(s.waiters) for s in ews.world.subscriptions.values())) == 0,
        what="every stream closed once the listeners stopped",
    )


async def test_given_a_resync_period_then_each_held_calendar_gets_reconciliation_hints(
    ews: RunningEws, engine: AsyncEngine, reader: BusReader
) -> None:
    listen, folders = listener(engine, reader.bus, ews.ews_url, resync_every=0.5)
    stop, task = await running(listen)
    try:
        await eventually(
            lambda: all(len(reader.of(ref_of(m), "reconcile")) >= 2 for m in (ALICE, BOB)),
            what="two reconciliation hints per calendar",
        )
    finally:
        await stopped(stop, task)
        folders.close()
    assert {e.kind for e in reader.seen if e.reason == "reconcile"} == {ChangeKind.RESYNC}
