"""End to end, nothing stops sync: one bad event, a revoked mailbox and a throttling storm.

Given Alice's Google and Outlook calendars paired on the sandbox, with the real receiver,
RabbitMQ and processor:

- a Google series no fallback can mirror (an occurrence every minute or hour: too many single
  events), a series Outlook cannot express as one pattern (`BYHOUR=9,17`, which arrives as two
  daily series), and ten ordinary events: the ten and the split series arrive, the cursor moves
  past the refused series, which is listed as a failure on the pair (`pairs show`) with the
  reason, and no hint is dead-lettered;
- the app's access to Alice's mailbox revoked: the pair shows it (`pairs list --state error`,
  a last error naming the remedy) instead of dead-lettering hint after hint, and it clears by
  itself when access is restored (the renewer's periodic recheck);
- a fifth of the provider calls throttled (429 or 503 with Retry-After) over 52 changes: every
  change arrives and the dead-letter queue stays empty. The changes reach the processor as one
  resync per calendar (their notifications dropped, as after an outage or a `pairs resync`): all
  the work in one pass, the case where every throttle used to fail the whole pass, use up an
  attempt, and after five send the hint to the dead-letter queue with half the events missing.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aio_pika
import pytest
import sqlalchemy as sa
from processor_e2e import (
    ALICE,
    GOOGLE_REF,
    MICROSOFT_REF,
    PAIR,
    SECRET_KEY,
    Stack,
    eventually,
    open_stack,
    publish_resyncs,
    titled,
)
from test_processor_e2e_sync import google_timed, outlook_timed

from calbridge.bus import open_bus
from calbridge.bus.base import DLQ
from calbridge.events import Provider
from calbridge.pairs.access import RegistryAccessChecker
from calbridge.pairs.event_failures import fetch_failures
from calbridge.providers.registry import Registry
from calbridge.secretbox import open_secretbox
from calbridge.store.tables import cursors, pairs
from subscriptions.pair_health import PairHealth
from subscriptions.service import load_connections

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq, pytest.mark.timeout(150)]


@pytest.fixture
async def stack(amqp_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Stack]:
    overrides: dict[str, object] = getattr(request, "param", {})
    async with open_stack(amqp_url, tmp_path, **overrides) as opened:
        yield opened


async def dead_letters(stack: Stack) -> int:
    """Messages waiting in calbridge.dlq."""
    assert stack.settings.amqp_url is not None
    connection = await aio_pika.connect(stack.settings.amqp_url.get_secret_value())
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(DLQ, passive=True)
        return int(queue.declaration_result.message_count or 0)
    finally:
        await connection.close()


async def calbridge(stack: Stack, *args: str) -> tuple[int, str]:
    """Run the `calbridge` command against the stack's store, as an operator would."""
    env = {
        **os.environ,
        "CALBRIDGE_DATABASE_URL": stack.engine.url.render_as_string(hide_password=False),
        "CALBRIDGE_SECRET_KEY": SECRET_KEY,
        "CALBRIDGE_LOG_LEVEL": "error",
        "COLUMNS": "200",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "calbridge_app",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def google_cursor(stack: Stack) -> str | None:
    async with stack.engine.connect() as conn:
        row = (
            await conn.execute(sa.select(cursors.c.cursor).where(cursors.c.calendar_id == GOOGLE_REF))
        ).first()
    return None if row is None else row.cursor


async def pair_row(stack: Stack) -> Any:
    async with stack.engine.connect() as conn:
        return (await conn.execute(sa.select(pairs).where(pairs.c.id == PAIR))).one()


def series(title: str, rule: str) -> dict[str, Any]:
    return {
        "summary": title,
        "start": {"dateTime": "2026-12-01T09:00:00", "timeZone": "Europe/Berlin"},
        "end": {"dateTime": "2026-12-01T09:30:00", "timeZone": "Europe/Berlin"},
        "recurrence": [rule],
    }


@pytest.mark.parametrize(
    ("rule", "stack"),
    [
        # One change at a time: the series went first and stopped every pass before the fix.
        ("RRULE:FREQ=MINUTELY;INTERVAL=5", {"apply_concurrency": 1}),
        ("RRULE:FREQ=HOURLY", {}),
    ],
    indirect=["stack"],
)
async def test_given_a_series_no_fallback_can_mirror_and_ten_events_then_they_arrive_and_it_is_listed(
    stack: Stack, rule: str
) -> None:
    odd = await stack.google_create(series("odd series", rule))
    await stack.google_create(series("twice a day", "RRULE:FREQ=DAILY;BYHOUR=9,17;COUNT=6"))
    for n in range(10):
        await stack.google_create(
            google_timed(f"e{n}", f"2026-12-{n + 2:02d}T09:00:00Z", f"2026-12-{n + 2:02d}T10:00:00Z")
        )

    async def the_ten_arrived() -> bool:
        events = await stack.outlook_events()
        return all(len(titled(events, f"e{n}")) == 1 for n in range(10))

    await eventually(the_ten_arrived, within=40, what="the ten events in Outlook")

    async def split_arrived() -> bool:
        return len(titled(await stack.outlook_events(), "twice a day")) == 2

    await eventually(split_arrived, what="the BYHOUR series as two daily series in Outlook")

    async def listed() -> bool:
        async with stack.engine.connect() as conn:
            return [f.event_id for f in await fetch_failures(conn, PAIR)] == [odd]

    await eventually(listed, what="the series listed as a failure of the pair")
    assert titled(await stack.outlook_events(), "odd series") == []

    async def cursor_stored() -> bool:
        return await google_cursor(stack) is not None

    await eventually(cursor_stored, what="the cursor moved past the series")
    cursor = await google_cursor(stack)

    # A later change is read from that cursor: the series is not read (nor refused) again
    await stack.google_create(google_timed("later", "2026-12-20T09:00:00Z", "2026-12-20T10:00:00Z"))
    await eventually(lambda: _arrived(stack, "later"), what="a later event")

    async def cursor_moved_on() -> bool:
        return await google_cursor(stack) != cursor

    await eventually(cursor_moved_on, what="the cursor moved on again")
    async with stack.engine.connect() as conn:
        (failure,) = await fetch_failures(conn, PAIR)
    assert (failure.error, failure.provider, failure.attempts) == ("UnsupportedRecurrence", "graph", 1)
    assert "too many single events" in failure.reason, "the failure says why no fallback applies"
    assert await dead_letters(stack) == 0, "one event's failure is not a dead-lettered hint"

    # What the operator sees and does (the command costs seconds of CPU: one case each)
    if "BYHOUR" in rule:
        code, shown = await calbridge(stack, "pairs", "show", PAIR)
        assert code == 0, shown
        assert "1 event(s) could not be copied" in shown and odd in shown and "UnsupportedRecurrence" in shown
        code, retried = await calbridge(stack, "pairs", "retry", PAIR)
        assert code == 1 and "0 copied, 1 still failing" in retried  # no fallback can hold it
    else:
        code, listing = await calbridge(stack, "pairs", "list", "--json")
        assert code == 0 and json.loads(listing)[0]["event_failures"] == 1


async def _arrived(stack: Stack, title: str) -> bool:
    return len(titled(await stack.outlook_events(), title)) == 1


async def test_given_the_apps_access_to_the_mailbox_revoked_then_the_pair_shows_it_and_heals_when_restored(
    stack: Stack,
) -> None:
    await stack.google_create(google_timed("before", "2026-12-02T09:00:00Z", "2026-12-02T10:00:00Z"))
    await eventually(lambda: _arrived(stack, "before"), what="the pair working")

    await stack.graph.set_access(["bob@example.com"])  # an admin scopes the app away from Alice
    await stack.google_create(google_timed("during", "2026-12-03T09:00:00Z", "2026-12-03T10:00:00Z"))

    async def in_error() -> bool:
        return (await pair_row(stack)).state == "error"

    await eventually(in_error, what="the pair in error")
    code, listing = await calbridge(stack, "pairs", "list", "--state", "error")
    assert code == 0 and PAIR in listing and "M: access denied" in listing
    code, shown = await calbridge(stack, "pairs", "show", PAIR, "--json")
    last_error = json.loads(shown)["last_error"]
    assert last_error.startswith(f"Microsoft (graph) calendar {ALICE}: access denied")
    assert "grant the app Calendars.ReadWrite and include this mailbox in its access policy" in last_error
    assert await dead_letters(stack) == 0, "the pair's state says it; no hint is dead-lettered"

    # The renewer checks pairs in error again; while access is still refused nothing changes
    bus = open_bus(stack.settings)
    await bus.connect()
    checker = RegistryAccessChecker(Registry(stack.settings).open)
    box = open_secretbox(stack.settings)
    now = [datetime.now(UTC)]
    health = PairHealth(
        stack.engine,
        bus,
        lambda ids: load_connections(stack.engine, box, ids),
        checker,
        interval=timedelta(minutes=15),
        clock=lambda: now[0],
    )
    try:
        report = await health.tick()
        assert report.still_failing == [PAIR] and (await pair_row(stack)).state == "error"

        await stack.graph.set_access(None)  # access restored
        assert (await health.tick()).checked == 0, "checked again only after the interval"
        now[0] += timedelta(minutes=16)
        report = await health.tick()
        assert report.restored == [PAIR]
    finally:
        await checker.aclose()
        await bus.close()

    row = await pair_row(stack)
    assert (row.state, row.state_reason, row.last_error) == ("active", None, None)
    await eventually(lambda: _arrived(stack, "during"), what="what changed meanwhile, after the resync")


STORM_GOOGLE = (
    "events.list",
    "events.insert",
    "events.get",
    "events.update",
    "events.patch",
    "events.delete",
)
STORM_GRAPH_WRITES = ("events.create", "events.update", "events.delete")
STORM_GRAPH_READS = ("events.delta", "events.get", "events.list", "events.instances")


async def test_given_a_fifth_of_the_calls_throttled_then_every_change_arrives_and_nothing_is_dead_lettered(
    stack: Stack,
) -> None:
    for operation in STORM_GOOGLE:  # Google's 503 with Retry-After included
        await stack.control.set_fault(f"google.{operation}", error_rate=0.2, error_status=503, retry_after=1)
    for operation in STORM_GRAPH_WRITES:
        await stack.control.set_fault(f"graph.{operation}", error_rate=0.2, error_status=429, retry_after=1)
    for operation in STORM_GRAPH_READS:
        await stack.control.set_fault(f"graph.{operation}", error_rate=0.2, error_status=503, retry_after=1)

    for provider in ("google", "graph"):
        await stack.control.set_notification_faults(provider, drop_rate=1.0)
    for n in range(30):
        day = 1 + n % 28
        await stack.google_create(
            google_timed(f"g{n}", f"2027-01-{day:02d}T08:00:00Z", f"2027-01-{day:02d}T08:30:00Z")
        )
    for n in range(22):
        day = 1 + n % 28
        await stack.outlook_create(
            outlook_timed(f"m{n}", f"2027-02-{day:02d}T14:00:00", f"2027-02-{day:02d}T14:30:00")
        )
    expected = sorted([f"g{n}" for n in range(30)] + [f"m{n}" for n in range(22)])
    calendars = ((Provider.GOOGLE, GOOGLE_REF), (Provider.GRAPH, MICROSOFT_REF))
    await publish_resyncs(stack.settings, *calendars, reason="operator")

    async def converged() -> bool:
        google = sorted(e["summary"] for e in await stack.google_events())
        outlook = sorted(e["subject"] for e in await stack.outlook_events())
        return google == outlook == expected

    await eventually(converged, within=120, interval=0.5, what="all 52 changes on both sides, each once")
    counters = await stack.counters()
    throttled = sum(c["count"] for c in counters["calls"] if c["status"] in (429, 503))
    assert throttled >= 5, f"the storm happened ({throttled} throttled answers)"
    assert await dead_letters(stack) == 0, "throttling alone never dead-letters"
