"""Behaviour every bus shares, run on the memory bus and on RabbitMQ (fixture `harness`)."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from datetime import UTC, datetime

import pytest
from bus_harness import SHARDS, Harness, eventually

from calbridge.bus.base import Reject, RetryLater
from calbridge.bus.deadletter import (
    ATTEMPTS_HEADER,
    CAUSE_HEADER,
    ERROR_HEADER,
    FIRST_FAILURE_HEADER,
    LAST_FAILURE_HEADER,
    QUEUE_HEADER,
)
from calbridge.bus.names import CALENDAR_HEADER, shard_queue
from calbridge.errors import BusUnavailable
from calbridge.events import ChangeEvent, ChangeKind, LifecycleEvent, LifecycleKind, Provider


def change(calendar: str, version: str = "1") -> ChangeEvent:
    return ChangeEvent(provider=Provider.GRAPH, calendar=calendar, kind=ChangeKind.UPDATED, version=version)


async def test_given_many_calendars_when_published_then_each_stays_on_one_shard_in_order(
    harness: Harness,
) -> None:
    # Given one consumer per shard that records what it sees
    seen: dict[str, list[tuple[int, int]]] = defaultdict(list)
    consumers = []
    for shard in range(SHARDS):

        async def record(event: ChangeEvent, shard: int = shard) -> None:
            seen[event.calendar].append((shard, int(event.version or 0)))

        consumers.append(await harness.bus.consume_changes(record, shards=[shard]))
    calendars = [f"cal-{n}" for n in range(60)]

    # When every calendar's changes are published three times over, interleaved
    for version in range(3):
        await harness.bus.publish([change(ref, str(version)) for ref in calendars])
    await eventually(lambda: sum(map(len, seen.values())) == 180, what="all 180 changes")

    # Then each calendar was seen on exactly one shard, in the order published,
    # and the calendars are spread over every shard
    for ref in calendars:
        assert len({shard for shard, _ in seen[ref]}) == 1, ref
        assert [version for _, version in seen[ref]] == [0, 1, 2], ref
    assert {seen[ref][0][0] for ref in calendars} == set(range(SHARDS))
    for consumer in consumers:
        await consumer.stop()


async def test_given_undecodable_message_when_consumed_then_dead_lettered_with_reason(
    harness: Harness,
) -> None:
    handled: list[ChangeEvent] = []

    async def handle(event: ChangeEvent) -> None:
        handled.append(event)

    consumer = await harness.bus.consume_changes(handle)
    # When a message that is not a change event arrives, followed by a good one
    await harness.inject_raw(b'{"v": 1, "nonsense": true}', "cal-poison")
    await harness.bus.publish([change("cal-poison")])

    # Then the good one is handled and the poison one is in the DLQ with why
    await eventually(lambda: len(handled) == 1 and len(harness.dead_letters()) == 1, what="dead letter")
    letter = harness.dead_letters()[0]
    assert letter.body == b'{"v": 1, "nonsense": true}'
    assert letter.headers[CAUSE_HEADER] == "malformed"
    assert "invalid ChangeEvent" in str(letter.headers[ERROR_HEADER])
    assert letter.headers[CALENDAR_HEADER] == "cal-poison"
    assert str(letter.headers[QUEUE_HEADER]).startswith("calbridge.changes.")
    await consumer.stop()


async def test_given_handler_always_fails_when_retries_run_out_then_dead_lettered_with_attempts(
    harness: Harness,
) -> None:
    attempts: list[tuple[int, int]] = []  # (shard, attempt counter in the event)
    started: list[str] = []
    consumers = []
    for shard in range(SHARDS):

        async def fail(event: ChangeEvent, shard: int = shard) -> None:
            attempts.append((shard, event.attempt))
            started.append(datetime.now(UTC).isoformat())
            raise RuntimeError("provider said no")

        consumers.append(await harness.bus.consume_changes(fail, shards=[shard]))

    # When a change keeps failing (3 delays configured)
    await harness.bus.publish([change("cal-doomed")])
    await eventually(lambda: len(harness.dead_letters()) == 1, what="dead letter")

    # Then it was tried 4 times, always on the same shard, with the counter advancing,
    # and the DLQ entry says why, how often, since when and from where
    assert [attempt for _, attempt in attempts] == [0, 1, 2, 3]
    assert len({shard for shard, _ in attempts}) == 1
    headers = harness.dead_letters()[0].headers
    assert headers[CAUSE_HEADER] == "exhausted"
    assert headers[ERROR_HEADER] == "RuntimeError: provider said no"
    assert headers[ATTEMPTS_HEADER] == 4
    assert headers[CALENDAR_HEADER] == "cal-doomed"
    assert headers[QUEUE_HEADER] == shard_queue(attempts[0][0])
    # the first failure time survived three trips through the delay queues
    assert started[0] <= str(headers[FIRST_FAILURE_HEADER]) < started[1]
    assert started[3] <= str(headers[LAST_FAILURE_HEADER])
    for consumer in consumers:
        await consumer.stop()


async def test_given_handler_rejects_when_consumed_then_dead_lettered_at_once(harness: Harness) -> None:
    calls: list[int] = []

    async def reject(event: ChangeEvent) -> None:
        calls.append(event.attempt)
        raise Reject("pair is misconfigured")

    consumer = await harness.bus.consume_changes(reject)
    await harness.bus.publish([change("cal-rejected")])
    await eventually(lambda: len(harness.dead_letters()) == 1, what="dead letter")
    headers = harness.dead_letters()[0].headers
    assert calls == [0]
    assert headers[CAUSE_HEADER] == "rejected"
    assert headers[ERROR_HEADER] == "pair is misconfigured"
    assert headers[ATTEMPTS_HEADER] == 1
    await consumer.stop()


async def test_given_retry_later_with_delay_when_consumed_then_not_redelivered_sooner(
    harness: Harness,
) -> None:
    # Given a handler that asks for 0.15 s once (rounded up to the 0.2 s delay queue)
    seen: list[tuple[float, int]] = []

    async def throttled(event: ChangeEvent) -> None:
        seen.append((time.monotonic(), event.attempt))
        if event.attempt == 0:
            raise RetryLater("throttled", delay=0.15)

    consumer = await harness.bus.consume_changes(throttled)
    await harness.bus.publish([change("cal-throttled")])
    await eventually(lambda: len(seen) == 2, what="the second attempt")

    # Then the second attempt came no sooner than asked, and nothing was dead-lettered
    (first, _), (second, attempt) = seen
    assert attempt == 1
    assert second - first >= 0.15
    assert harness.dead_letters() == []
    await consumer.stop()


async def test_given_running_handler_when_consumer_stops_then_it_finishes_and_is_acked(
    harness: Harness,
) -> None:
    # Given a handler in the middle of its work
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[str] = []

    async def slow(event: ChangeEvent) -> None:
        started.set()
        await release.wait()
        finished.append(event.version or "")

    consumer = await harness.bus.consume_changes(slow)
    await harness.bus.publish([change("cal-drain", "first")])
    await asyncio.wait_for(started.wait(), 10)

    # When the consumer is stopped, it waits for the handler
    stopping = asyncio.create_task(consumer.stop())
    done, _ = await asyncio.wait([stopping], timeout=0.05)  # a chance to (wrongly) return early
    assert not done
    release.set()
    await asyncio.wait_for(stopping, 10)
    assert finished == ["first"]

    # Then the message was acknowledged: a new consumer of that calendar gets the next change
    # first (a redelivered "first" would come before it on the same shard)
    after: list[str] = []

    async def record(event: ChangeEvent) -> None:
        after.append(event.version or "")

    await harness.bus.publish([change("cal-drain", "second")])
    successor = await harness.bus.consume_changes(record)
    await eventually(lambda: len(after) >= 1, what="the next change")
    assert after[0] == "second"
    await successor.stop()


async def test_given_two_consumers_on_a_shard_when_the_first_stops_then_the_second_takes_over(
    harness: Harness,
) -> None:
    first: list[str] = []
    second: list[str] = []

    async def into_first(event: ChangeEvent) -> None:
        first.append(event.version or "")

    async def into_second(event: ChangeEvent) -> None:
        second.append(event.version or "")

    a = await harness.bus.consume_changes(into_first)
    b = await harness.bus.consume_changes(into_second)
    await harness.bus.publish([change("cal-sac", str(n)) for n in range(20)])
    await eventually(lambda: len(first) == 20, what="all changes on the active consumer")
    assert second == []

    await a.stop()
    await harness.bus.publish([change("cal-sac", str(n)) for n in range(20, 30)])
    await eventually(lambda: len(second) == 10, what="the standby to take over")
    assert second == [str(n) for n in range(20, 30)]
    assert len(first) == 20
    await b.stop()


async def test_given_lifecycle_event_when_its_handler_retries_then_it_comes_back(harness: Harness) -> None:
    seen: list[str] = []

    async def renew(event: LifecycleEvent) -> None:
        seen.append(event.subscription)
        if len(seen) == 1:
            raise RetryLater("store busy")

    consumer = await harness.bus.consume_lifecycle(renew)
    await harness.bus.publish(
        [
            LifecycleEvent(
                provider=Provider.GRAPH,
                calendar="cal-life",
                kind=LifecycleKind.REAUTHORIZATION_REQUIRED,
                subscription="sub-1",
            )
        ]
    )
    await eventually(lambda: len(seen) == 2, what="the lifecycle retry")
    assert seen == ["sub-1", "sub-1"]
    await consumer.stop()


async def test_given_closed_bus_then_not_ready_and_publishing_fails_loudly(harness: Harness) -> None:
    assert await harness.bus.ready()
    await harness.bus.close()
    assert not await harness.bus.ready()
    with pytest.raises(BusUnavailable):
        await harness.bus.publish([change("cal-late")])
