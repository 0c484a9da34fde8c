"""The renewer with the processor: a change made while Graph had removed the subscription
reaches the other side of the pair, through the renewer's resync hint alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from renewer_harness import ALICE, KEYS, World, keys_setting, open_world, wait_for

from calbridge.events import Provider
from calbridge.pairs.admin import remove_pair
from calbridge.providers.registry import Registry
from calbridge.secretbox import generate_key, open_secretbox
from calbridge.settings import load_settings
from calbridge.store.connection_records import save_connection
from calbridge_app.sandbox_connections import sandbox_connections
from processor.opening import store_opener
from processor.service import Processor
from subscriptions.mirrors import OpenCalendar

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq]

GAP_EVENT = {
    "subject": "Made while nobody listened",
    "start": {"dateTime": "2026-12-22T09:00:00", "timeZone": "UTC"},
    "end": {"dateTime": "2026-12-22T10:00:00", "timeZone": "UTC"},
}


@dataclass
class Stack:
    world: World
    processor: Processor
    open_calendar: OpenCalendar


@pytest.fixture
async def stack(amqp_url: str, sqlite_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    """The renewer's world with stored connections and a running processor (which owns the
    change queues), Alice's Google and Outlook calendars paired both ways."""
    async for opened in open_world(amqp_url, sqlite_url, tap=False):
        settings = load_settings(
            amqp_url=SecretStr(amqp_url),
            database_url=SecretStr(sqlite_url),
            signing_keys=keys_setting(KEYS),
            secret_key=SecretStr(generate_key()),
            retry_delays=(0.1, 0.2, 0.5, 1.0),
            drain_timeout=5.0,
        )
        found = sandbox_connections(opened.sb.info.as_json(), "sandbox", tmp_path / "ca.pem")
        async with opened.engine.begin() as conn:
            box = open_secretbox(settings)
            saved = {c.provider: (await save_connection(conn, box, c))[0].id for c in found}
        await opened.add_pair(
            "p1",
            "g_alice",
            "m_alice",
            google_connection=saved[Provider.GOOGLE],
            graph_connection=saved[Provider.GRAPH],
        )
        registry = Registry(settings)  # one per process: the processor and the renewer's mirror deletion
        opener = store_opener(opened.engine, settings, registry)
        processor = Processor(settings, opened.bus, opened.engine, opener, member="e2e")
        await processor.start()
        try:
            yield Stack(opened, processor, opener)
        finally:
            await processor.stop()


async def google_titles(world: World) -> list[str]:
    async with world.sb.control() as control:
        state: dict[str, Any] = await control.google.calendar(ALICE)
    return [e.get("summary", "") for e in state["events"] if e.get("status") != "cancelled"]


async def test_given_a_removed_subscription_when_a_person_edits_in_the_gap_then_the_change_still_arrives(
    stack: Stack,
) -> None:
    world, processor = stack.world, stack.processor
    renewer = world.renewer()
    await renewer.tick()
    [old] = world.live_graph_subscriptions()
    # The processor has taken the two "subscribed" hints, so only a later hint can bring the gap.
    await wait_for(lambda: processor.consumer.handled >= 2, within=15)

    async with world.graph_control() as graph:
        # Graph removes the subscription; Alice adds an event that nobody is notified of.
        await graph.fire_lifecycle(old.id, "subscriptionRemoved")
        await graph.create_event(ALICE, GAP_EVENT)
    assert world.live_graph_subscriptions() == []

    # The renewer takes the lifecycle event: a new subscription, and a resync hint.
    consumer = await world.bus.consume_lifecycle(renewer.handle_lifecycle)
    try:
        [new] = await wait_for(world.live_graph_subscriptions, within=15)
        assert new.id != old.id
        titles: list[str] = []
        for _ in range(300):  # bounded: 15 s
            titles = await google_titles(world)
            if GAP_EVENT["subject"] in titles:
                break
            await asyncio.sleep(0.05)
        assert GAP_EVENT["subject"] in titles
    finally:
        await consumer.stop()


async def outlook_subjects(world: World) -> list[str]:
    async with world.graph_control() as graph:
        state = await graph.calendar_state(ALICE)
    return [str(e.get("subject")) for e in state["events"]]


async def test_given_a_pair_removed_with_delete_mirrors_then_its_mirrors_go_and_peoples_events_stay(
    stack: Stack,
) -> None:
    world = stack.world
    await world.renewer().tick()
    async with world.sb.control() as control:
        await control.google.create_event(ALICE, {
            "summary": "Planning", "start": {"dateTime": "2026-12-22T09:00:00Z"},
            "end": {"dateTime": "2026-12-22T10:00:00Z"},
        })  # fmt: skip
    subjects: list[str] = []
    for _ in range(300):  # bounded: 15 s for the processor to write the mirror
        subjects = await outlook_subjects(world)
        if "Planning" in subjects:
            break
        await asyncio.sleep(0.05)
    assert "Planning" in subjects

    await remove_pair(world.engine, "p1", delete_mirrors=True)
    report = await world.renewer(open_calendar=stack.open_calendar).tick()

    assert report.outcomes.get("pairs_removed") == 1
    assert "Planning" not in await outlook_subjects(world)  # the mirror is gone
    assert "Planning" in await google_titles(world)  # Alice's own event stays
    assert await world.pair_ids() == []
    assert world.sb.counters.invitations == []  # nobody was mailed a cancellation
