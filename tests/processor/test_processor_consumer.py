"""The change consumer on the memory bus over a real store: what a user sees on the other side
when providers throttle, fail, refuse, trip the breaker, or when hints come in bursts."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from processor_world import (
    GOOGLE_REF,
    MICROSOFT_REF,
    PAIR,
    World,
    add_pair,
    eventually,
    hint,
    meeting,
    open_world,
    pair_state,
    processor_settings,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from sync_fakes import FakeCalendar

from calbridge.bus import MemoryBus, RetryLater
from calbridge.bus.deadletter import ATTEMPTS_HEADER, ERROR_HEADER
from calbridge.errors import AccessDenied, CursorExpired, Throttled, TransientProviderError
from calbridge.events import ChangeKind, Provider
from calbridge.metrics import REGISTRY
from calbridge.pairs.event_failures import fetch_failures
from calbridge.pairs.policy import Side
from calbridge.providers.base import CalendarProvider
from calbridge.store.tables import calendars, connections, pairs
from calbridge.translate.errors import UnsupportedRecurrence
from processor.consumer import ChangeConsumer
from processor.deadletters import DeadLetterFilter, collect_memory, find_dead_letters, replay_dead_letters
from processor.directory import PairDirectory
from processor.providers import ProviderCache
from processor.sync.links import StoredLinks
from processor.sync.record import Link


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def handled() -> float:
    return sum(
        REGISTRY.get_sample_value("calbridge_hints_total", {"outcome": o}) or 0.0
        for o in ("synced", "coalesced")
    )


def retries() -> float:
    return REGISTRY.get_sample_value("calbridge_hints_total", {"outcome": "retry"}) or 0.0


def backoffs() -> float:
    return REGISTRY.get_sample_value("calbridge_hints_total", {"outcome": "backoff"}) or 0.0


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    world = await open_world(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}", processor_settings())
    yield world
    await world.close()


async def test_given_a_new_google_event_when_its_hint_is_handled_then_one_mirror_appears(
    world: World,
) -> None:
    created_before = sample("calbridge_changes_total", outcome="created")
    graph_creates = sample(
        "calbridge_provider_calls_total", provider="graph", operation="create", status="ok"
    )
    latencies = sample("calbridge_change_latency_seconds_count")
    world.google.person_create(meeting())
    await world.consumer(hint())
    assert len(world.mirrors()) == 1
    await world.consumer(hint())
    assert len(world.mirrors()) == 1, "a second hint changes nothing"
    # and the operator sees it: the change, the provider call, the latency, the pair's last sync
    assert sample("calbridge_changes_total", outcome="created") == created_before + 1
    assert (
        sample("calbridge_provider_calls_total", provider="graph", operation="create", status="ok")
        == graph_creates + 1
    )
    assert sample("calbridge_change_latency_seconds_count") == latencies + 1
    async with world.engine.connect() as conn:
        synced = (await conn.execute(sa.select(pairs.c.last_sync_at).where(pairs.c.id == PAIR))).scalar_one()
    assert synced is not None


async def test_given_a_throttled_write_then_the_hint_is_retried_after_the_retry_after(world: World) -> None:
    world.google.person_create(meeting())
    world.microsoft.write_error = Throttled(0.15)
    with pytest.raises(RetryLater) as raised:
        await world.consumer(hint())
    assert raised.value.delay == 0.15
    assert raised.value.reason.startswith(f"pair={PAIR} Throttled")


async def test_given_throttling_on_the_bus_then_the_change_lands_after_the_delay_it_asked(
    world: World,
) -> None:
    world.google.person_create(meeting())
    world.microsoft.write_error = Throttled(0.15)  # rounds up to the 0.2 s delay queue
    backoffs_before, retries_before = backoffs(), retries()
    consumer = await world.bus.consume_changes(world.consumer)
    await world.bus.publish([hint()])
    await eventually(lambda: backoffs() > backoffs_before, what="the throttled pass")
    assert retries() == retries_before, "a throttle is back-pressure, not a failed attempt"
    failed_at = time.monotonic()
    world.microsoft.write_error = None
    await eventually(lambda: len(world.mirrors()) == 1, what="the mirror after the retry")
    assert time.monotonic() - failed_at >= 0.1, "not retried before the provider's Retry-After"
    await consumer.stop()


async def test_given_a_provider_failing_on_every_attempt_then_the_hint_ends_in_the_dlq_naming_the_pair(
    world: World,
) -> None:
    world.google.person_create(meeting())
    world.microsoft.write_error = TransientProviderError("503 from the provider")
    assert isinstance(world.bus, MemoryBus)
    consumer = await world.bus.consume_changes(world.consumer)
    await world.bus.publish([hint()])
    await eventually(lambda: len(world.bus.dead_letters) == 1, what="the dead letter")  # type: ignore[attr-defined]
    await consumer.stop()
    letter = world.bus.dead_letters[0]
    assert letter.headers[ATTEMPTS_HEADER] == 4, "the first attempt and three retries"
    assert letter.headers[ERROR_HEADER] == f"pair={PAIR} TransientProviderError: 503 from the provider"
    assert await collect_memory(world.bus, world.engine) == 1
    [row] = await find_dead_letters(world.engine, DeadLetterFilter(pair=PAIR))
    assert (row.calendar_id, row.attempts) == (GOOGLE_REF, 4)
    assert world.mirrors() == []


async def test_given_access_refused_for_the_mailbox_then_the_pair_is_in_error_naming_the_remedy(
    world: World,
) -> None:
    world.google.person_create(meeting())
    world.microsoft.write_error = AccessDenied("graph 403")
    world.microsoft.access_error = AccessDenied("graph 403")  # the access check agrees
    await world.consumer(hint())  # returns: acknowledged, not dead-lettered hint after hint
    state, reason = await pair_state(world.engine)
    assert state == "error"
    assert reason == (
        f"Microsoft (graph) calendar {MICROSOFT_REF}@example.com: access denied (graph 403); grant the app "
        "Calendars.ReadWrite and include this mailbox in its access policy"
    )
    world.microsoft.write_error = None
    await world.consumer(hint())
    assert world.mirrors() == [], "a pair in error is not processed until it is checked again"


async def test_given_a_refusal_the_access_check_does_not_confirm_then_the_hint_is_retried(
    world: World,
) -> None:
    world.google.person_create(meeting())
    world.microsoft.write_error = AccessDenied("403 on this one call")
    with pytest.raises(RetryLater, match=f"pair={PAIR} AccessDenied"):
        await world.consumer(hint())
    assert (await pair_state(world.engine))[0] == "active"


async def test_given_a_failing_pass_then_the_pair_shows_its_last_error_until_a_pass_works(
    world: World,
) -> None:
    world.google.person_create(meeting())
    world.microsoft.write_error = TransientProviderError("graph 503")
    with pytest.raises(RetryLater):
        await world.consumer(hint())
    assert await last_error(world.engine) == (
        "the last sync failed, retrying: TransientProviderError: graph 503"
    )
    world.microsoft.write_error = None
    await world.consumer(hint(attempt=1))
    assert await last_error(world.engine) is None
    assert len(world.mirrors()) == 1


async def test_given_an_event_outlook_refuses_then_the_rest_arrives_and_the_pair_lists_the_failure(
    world: World,
) -> None:
    world.microsoft.refused["odd"] = UnsupportedRecurrence("BYHOUR with two hours")
    odd = world.google.person_create(meeting("odd"))
    world.google.person_create(meeting("fine", hour=11))
    await world.consumer(hint())  # acknowledged: no retry, no dead letter
    assert sorted(s.event.title for s in world.microsoft.live().values()) == ["fine"]
    async with world.engine.connect() as conn:
        (failure,) = await fetch_failures(conn, PAIR)
    assert (failure.side, failure.event_id, failure.error, failure.attempts) == (
        Side.GOOGLE,
        odd,
        "UnsupportedRecurrence",
        1,
    )
    # Edited into something Outlook takes, it arrives and the failure is gone
    del world.microsoft.refused["odd"]
    world.google.person_edit(odd, title="odd, now fine")
    await world.consumer(hint())
    async with world.engine.connect() as conn:
        assert await fetch_failures(conn, PAIR) == []
    assert sorted(s.event.title for s in world.microsoft.live().values()) == ["fine", "odd, now fine"]


async def last_error(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        value = (await conn.execute(sa.select(pairs.c.last_error).where(pairs.c.id == PAIR))).scalar_one()
    return str(value) if value is not None else None


async def test_given_an_expired_cursor_then_the_pair_is_resynced_from_scratch(world: World) -> None:
    first = world.google.person_create(meeting("one"))
    await world.consumer(hint())
    world.google.expire_cursors()
    world.google.person_create(meeting("two", hour=11))
    world.google.person_edit(first, title="one, edited")
    await world.consumer(hint())
    titles = sorted(stored.event.title for stored in world.microsoft.live().values())
    assert titles == ["one, edited", "two"]


async def test_given_a_cursor_refused_even_for_a_full_read_then_the_hint_is_retried(world: World) -> None:
    async def refuse(*_args: object) -> AsyncIterator[object]:
        raise CursorExpired("410")
        yield  # an async generator, like the real feed

    world.google.changes = refuse  # type: ignore[method-assign,assignment]
    with pytest.raises(RetryLater, match="CursorExpired"):
        await world.consumer(hint())


async def test_given_a_mass_deletion_then_the_pair_is_paused_and_the_hint_acknowledged(world: World) -> None:
    ids = [world.google.person_create(meeting(f"m{n}", hour=8 + n % 8)) for n in range(12)]
    await world.consumer(hint())
    assert len(world.mirrors()) == 12
    for event_id in ids:
        world.google.person_delete(event_id)
    await world.consumer(hint())  # returns: acknowledged, not retried for ever
    state, reason = await pair_state(world.engine)
    assert state == "paused"
    assert reason is not None and "mass deletion" in reason
    assert len(world.mirrors()) == 12, "nothing deleted"
    await world.consumer(hint())
    assert len(world.mirrors()) == 12, "a paused pair is not touched again"


async def test_given_a_burst_of_ten_hints_then_one_or_two_passes_serve_them_all(world: World) -> None:
    world.google.person_create(meeting())
    handled_before = handled()
    consumer = await world.bus.consume_changes(world.consumer)
    await world.bus.publish([hint() for _ in range(10)])
    await eventually(lambda: handled() - handled_before == 10, what="all ten hints handled")
    await consumer.stop()
    assert 1 <= world.consumer.passes <= 2
    assert len(world.mirrors()) == 1


async def test_given_a_calendar_without_an_active_pair_then_its_hint_is_acknowledged_untouched(
    world: World,
) -> None:
    await add_pair(world.engine, pair="p-paused", google="calg2", microsoft="calm2", state="paused")
    world.google.person_create(meeting())
    await world.consumer(hint("unknown-calendar"))
    await world.consumer(hint("calg2"))
    assert world.consumer.passes == 0
    assert world.mirrors() == []


async def test_given_a_notification_of_our_own_write_then_no_pass_reads_the_calendar(world: World) -> None:
    world.google.person_create(meeting())
    await world.consumer(hint())
    [(mirror_id, mirror)] = [(eid, s) for eid, s in world.microsoft.live().items() if s.stamp is not None]
    passes = world.consumer.passes

    own = hint(MICROSOFT_REF, kind=ChangeKind.CREATED, resource=mirror_id, version=f'W/"{mirror.version}"')
    await world.consumer(own)
    assert world.consumer.passes == passes, "the echo of our write needs no pass"

    world.microsoft.person_edit(mirror_id, title="edited in Outlook")
    edited = world.microsoft.events[mirror_id].version
    await world.consumer(hint(MICROSOFT_REF, kind=ChangeKind.UPDATED, resource=mirror_id, version=edited))
    assert world.consumer.passes == passes + 1
    assert [s.event.title for s in world.google.live().values()] == ["edited in Outlook"]


async def test_given_the_memory_bus_then_dead_letters_are_collected_and_replayed_in_process(
    world: World,
) -> None:
    world.google.person_create(meeting())
    world.microsoft.write_error = AccessDenied("403")
    consumer = await world.bus.consume_changes(world.consumer)
    await world.bus.publish([hint()])
    await eventually(lambda: len(world.bus.dead_letters) == 1, what="the dead letter")  # type: ignore[attr-defined]
    assert isinstance(world.bus, MemoryBus)
    assert await collect_memory(world.bus, world.engine) == 1

    world.microsoft.write_error = None
    report = await replay_dead_letters(world.engine, world.bus, DeadLetterFilter(pair=PAIR))
    assert (report.replayed, report.skipped) == (1, 0)
    await eventually(lambda: len(world.mirrors()) == 1, what="the replayed change applied")
    await consumer.stop()
    [row] = await find_dead_letters(world.engine, DeadLetterFilter())
    assert row.replayed_at is not None


async def add_second_pair(world: World) -> FakeCalendar:
    """Pair p2: the same Google calendar with another Outlook calendar (its own fake)."""
    second = FakeCalendar(Provider.GRAPH, "n", world.google.clock)
    opened = world.open_provider

    async def open_provider(connection_id: str) -> CalendarProvider:
        return second if connection_id == "conn-m2" else await opened(connection_id)

    world.open_provider = open_provider  # type: ignore[method-assign]
    async with world.engine.begin() as conn:
        await conn.execute(
            sa.insert(connections).values(id="conn-m2", provider="graph", name="m2", settings={})
        )
        await conn.execute(
            sa.insert(calendars).values(
                id="calm2",
                connection_id="conn-m2",
                provider="graph",
                owner="bo@example.com",
                calendar="primary",
            )
        )
        await conn.execute(
            sa.insert(pairs).values(
                id="p2", google_calendar_id=GOOGLE_REF, microsoft_calendar_id="calm2", state="active"
            )
        )
    return second


async def test_given_a_calendar_in_two_pairs_then_each_pair_gets_every_change(world: World) -> None:
    second = await add_second_pair(world)
    consumer = world.new_consumer()
    for title in ("first", "second"):
        world.google.person_create(meeting(title))
        await consumer(hint())
        assert sorted(s.event.title for s in world.microsoft.live().values()) == sorted(
            s.event.title for s in second.live().values()
        )
    assert len(second.live()) == 2


async def test_given_a_pair_added_to_a_synced_calendar_then_its_baseline_brings_the_older_events(
    world: World,
) -> None:
    world.google.person_create(meeting("before the second pair"))
    await world.consumer(hint())  # p1 is in sync; the calendar's cursor has moved on
    second = await add_second_pair(world)
    consumer = world.new_consumer()
    await consumer(hint(kind=ChangeKind.RESYNC, reason="baseline"))
    assert [s.event.title for s in second.live().values()] == ["before the second pair"]
    assert len(world.mirrors()) == 1, "the full read is idempotent for the pair already in sync"


class CountingFinds(StoredLinks):
    """The store, counting single-link look-ups (the echo check's read)."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self.finds = 0

    async def find(self, pair_id: str, side: Side, event_id: str) -> Link | None:
        self.finds += 1
        return await super().find(pair_id, side, event_id)


async def test_given_the_echo_of_a_write_of_this_process_then_no_store_read_and_elsewhere_one(
    world: World,
) -> None:
    links = CountingFinds(world.engine)
    consumer = ChangeConsumer(PairDirectory(world.engine), links, ProviderCache(world.open_provider))
    world.google.person_create(meeting())
    await consumer(hint())
    [(mirror_id, mirror)] = [(eid, s) for eid, s in world.microsoft.live().items() if s.stamp is not None]
    own = hint(MICROSOFT_REF, kind=ChangeKind.CREATED, resource=mirror_id, version=f'W/"{mirror.version}"')

    finds, passes = links.finds, consumer.passes
    await consumer(own)
    assert (consumer.passes, links.finds) == (passes, finds), "this process knows its own write"

    elsewhere = CountingFinds(world.engine)  # another replica, or this one restarted
    other = ChangeConsumer(PairDirectory(world.engine), elsewhere, ProviderCache(world.open_provider))
    await other(own)
    assert (other.passes, elsewhere.finds) == (0, 1), "the store still tells an echo apart"
