"""`calbridge dlq` over a real vhost: dead letters made by the processor are listed, shown,
replayed (twice, harmlessly) and purged."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from processor_world import MICROSOFT_REF, World, eventually, hint, meeting, open_world, processor_settings
from test_processor_amqp import dlq_messages
from typer.testing import CliRunner, Result

from calbridge.errors import AccessDenied
from calbridge_app.cli import app

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq]


@pytest.fixture
async def world(tmp_path: Path, amqp_url: str) -> AsyncIterator[World]:
    world = await open_world(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}", processor_settings(amqp_url))
    yield world
    await world.close()


async def dlq(world: World, amqp_url: str, *args: str, answer: str | None = None) -> Result:
    env = {
        "CALBRIDGE_AMQP_URL": amqp_url,
        "CALBRIDGE_DATABASE_URL": str(world.engine.url),
        "CALBRIDGE_SHARD_COUNT": str(world.settings.shard_count),
        "CALBRIDGE_RETRY_DELAYS": ",".join(str(d) for d in world.settings.retry_delays),
        "CALBRIDGE_LOG_LEVEL": "warning",
        "COLUMNS": "200",
    }
    # The command runs its own event loop, so it runs in a thread beside this test's loop.
    result = await asyncio.to_thread(CliRunner().invoke, app, ["dlq", *args], input=answer, env=env)
    assert result.exit_code == 0, result.output
    return result


async def test_given_dead_letters_then_sres_list_show_replay_twice_and_purge_them(
    world: World, amqp_url: str
) -> None:
    # Given: three hints refused by the providers (two for the Google calendar, one for Microsoft)
    world.google.person_create(meeting())
    world.microsoft.person_create(meeting("from outlook", hour=14))
    world.microsoft.write_error = AccessDenied("403 on the mailbox")
    world.google.write_error = AccessDenied("403 on the calendar")
    consumer = await world.bus.consume_changes(world.consumer)
    google_hints = [hint(), hint()]
    await world.bus.publish([*google_hints, hint(MICROSOFT_REF)])
    await eventually(lambda: world.consumer.passes == 3, what="three refused passes")
    await eventually(lambda: _count(dlq_messages(amqp_url), 3), what="three dead letters")

    # When listed: they move into the store and show pair, calendar and error
    listed = await dlq(world, amqp_url, "list")
    assert "moved 3 message(s)" in listed.output
    assert all(h.id in listed.output for h in google_hints)
    assert "pair=p1 AccessDenied" in listed.output and "3 dead-lettered" in listed.output
    assert await dlq_messages(amqp_url) == []

    shown = await dlq(world, amqp_url, "show", google_hints[0].id)
    assert "AccessDenied: 403 on the mailbox" in shown.output and "calg" in shown.output

    # A dry run publishes nothing
    dry = await dlq(world, amqp_url, "replay", "--calendar", "calg", "--dry-run")
    assert "would replay 2" in dry.output
    assert world.mirrors() == []

    # When access is fixed and they are replayed twice: exactly one mirror
    world.microsoft.write_error = None
    passes = world.consumer.passes
    first = await dlq(world, amqp_url, "replay", "--calendar", "calg")
    assert "replayed 2" in first.output
    await eventually(lambda: len(world.mirrors()) == 1, what="the replayed change on the other side")
    await eventually(lambda: world.consumer.handled >= 2, what="both replays acknowledged")
    again = await dlq(world, amqp_url, "replay", "--error-contains", "mailbox")
    assert "replayed 2" in again.output
    await eventually(lambda: world.consumer.passes > passes, what="the second replay handled")
    await eventually(lambda: world.consumer.handled >= 4, what="the second replays acknowledged")
    assert len(world.mirrors()) == 1, "replaying twice is harmless: one mirror"

    # Purge asks first; --yes does not
    kept = await dlq(world, amqp_url, "purge", "--calendar", MICROSOFT_REF, answer="n\n")
    assert "nothing purged" in kept.output
    gone = await dlq(world, amqp_url, "purge", "--calendar", MICROSOFT_REF, "--yes")
    assert "purged 1" in gone.output
    remaining = await dlq(world, amqp_url, "list")
    assert "2 dead-lettered" in remaining.output
    await consumer.stop()


async def _count(found: object, expected: int) -> bool:
    return len(await found) == expected  # type: ignore[misc,arg-type]
