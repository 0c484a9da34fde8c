"""`calbridge dlq` over a real vhost, as the runbook writes it: dead letters made by the processor
are listed at 80 columns with ids every command takes, shown, replayed by id (one fails again
and says so), replayed twice harmlessly, filtered by state and purged. Mistakes (an id nobody
has, a prefix several share, an unknown state, no broker configured) get one line and change
nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from processor_world import MICROSOFT_REF, World, eventually, hint, meeting, open_world, processor_settings
from test_processor_amqp import dlq_messages
from typer.testing import CliRunner, Result

from calbridge.bus.deadletter import ATTEMPTS_HEADER, ERROR_HEADER, LAST_FAILURE_HEADER
from calbridge.errors import AccessDenied
from calbridge.events import encode
from calbridge_app.cli import app
from processor.deadletters import DeadLetterFilter, find_dead_letters, record_of, store_record

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq]


@pytest.fixture
async def world(tmp_path: Path, amqp_url: str) -> AsyncIterator[World]:
    world = await open_world(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}", processor_settings(amqp_url))
    yield world
    await world.close()


async def dlq(
    world: World,
    amqp_url: str | None,
    *args: str,
    answer: str | None = None,
    code: int = 0,
    columns: int = 200,
) -> Result:
    env = {
        "CALBRIDGE_AMQP_URL": amqp_url,
        "CALBRIDGE_DATABASE_URL": str(world.engine.url),
        "CALBRIDGE_SHARD_COUNT": str(world.settings.shard_count),
        "CALBRIDGE_RETRY_DELAYS": ",".join(str(d) for d in world.settings.retry_delays),
        "CALBRIDGE_LOG_LEVEL": "warning",
        "COLUMNS": str(columns),
    }
    # The command runs its own event loop, so it runs in a thread beside this test's loop.
    result = await asyncio.to_thread(CliRunner().invoke, app, ["dlq", *args], input=answer, env=env)
    assert result.exit_code == code, result.output
    return result


def one_line(result: Result) -> str:
    """A refusal: one line, no traceback."""
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


async def test_given_dead_letters_then_the_runbook_lists_shows_replays_and_purges_them(
    world: World, amqp_url: str
) -> None:
    # Given: three hints refused by the providers (two for the Google calendar, one for Microsoft)
    world.google.person_create(meeting())
    world.microsoft.person_create(meeting("from outlook", hour=14))
    world.microsoft.write_error = AccessDenied("403 on the mailbox")
    world.google.write_error = AccessDenied("403 on the calendar")
    consumer = await world.bus.consume_changes(world.consumer)
    google_hints = [hint(), hint()]
    outlook_hint = hint(MICROSOFT_REF)
    await world.bus.publish([*google_hints, outlook_hint])
    await eventually(lambda: world.consumer.passes == 3, what="three refused passes")
    await eventually(lambda: _count(dlq_messages(amqp_url), 3), what="three dead letters")

    # When listed at 80 columns (a pipe, `kubectl exec` without -t): they move into the store,
    # every line fits, and every id shown is one `dlq show` takes
    listed = await dlq(world, amqp_url, "list", columns=80)
    assert "moved 3 message(s)" in listed.output
    table = [line for line in listed.stdout.splitlines() if line.strip()]
    assert all(len(line) <= 80 for line in table), listed.stdout
    assert table[-1] == "3 dead-lettered change event(s): 3 waiting"
    shown_ids = [line.split()[0] for line in table[1:-1]]
    assert len(shown_ids) == 3 and all(len(short) < 32 for short in shown_ids)
    for short in shown_ids:
        shown = await dlq(world, amqp_url, "show", short)
        assert "AccessDenied: 403 on the" in shown.output and "waiting" in shown.output
    entries = json.loads((await dlq(world, amqp_url, "list", "--json")).stdout)
    assert sorted(e["id"] for e in entries) == sorted(h.id for h in [*google_hints, outlook_hint])
    assert {e["state"] for e in entries} == {"waiting"}

    # When the Outlook hint is replayed by a prefix of its id while Google still refuses:
    # it comes back, and the list says it failed again, with the attempts of both rounds
    replayed = await dlq(world, amqp_url, "replay", outlook_hint.id[:10])
    assert "replayed 1 change event(s)" in replayed.output
    await eventually(lambda: _count(dlq_messages(amqp_url), 1), what="the replay dead-lettered again")
    failed = json.loads((await dlq(world, amqp_url, "list", "--state", "failed", "--json")).stdout)
    first_round = {e["id"]: e["attempts"] for e in entries}[outlook_hint.id]
    assert [(e["id"], e["attempts"], e["replays"]) for e in failed] == [
        (outlook_hint.id, 2 * first_round, 1)  # the same attempts again, added up
    ]

    # A dry run publishes nothing
    dry = await dlq(world, amqp_url, "replay", "--calendar", "calg", "--dry-run")
    assert "would replay 2" in dry.output
    assert world.mirrors() == []

    # When access is fixed and they are replayed twice: exactly one mirror, and they show replayed
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
    summary = await dlq(world, amqp_url, "list")
    assert "3 dead-lettered change event(s): 2 replayed, 1 failed" in summary.output
    outstanding = await dlq(world, amqp_url, "list", "--state", "waiting")
    assert "no dead-lettered change events match" in outstanding.output

    # Purge asks first; --yes does not
    kept = await dlq(world, amqp_url, "purge", "--state", "failed", answer="n\n")
    assert "nothing purged" in kept.output
    gone = await dlq(world, amqp_url, "purge", "--state", "replayed", "--yes")
    assert "purged 2" in gone.output
    remaining = await dlq(world, amqp_url, "list")
    assert "1 dead-lettered change event(s): 1 failed" in remaining.output
    await consumer.stop()


async def test_given_ids_that_name_no_entry_or_several_then_one_line_and_nothing_changes(
    world: World, amqp_url: str
) -> None:
    # Given three stored entries, two of whose ids start alike
    now = datetime.now(UTC)
    ids = ["abc1" + "0" * 28, "abc2" + "0" * 28, "ffff" + "0" * 28]
    for message_id in ids:
        headers = {
            ERROR_HEADER: "pair=p1 AccessDenied: 403",
            ATTEMPTS_HEADER: 1,
            LAST_FAILURE_HEADER: now.isoformat(),
        }
        await store_record(
            world.engine, record_of(encode(hint().model_copy(update={"id": message_id})), headers, None, now)
        )

    async def untouched() -> bool:
        rows = await find_dead_letters(world.engine, DeadLetterFilter())
        return [(r.id, r.state.value, r.replays) for r in rows] == [(i, "waiting", 0) for i in ids]

    # --pair takes a prefix too
    by_pair = json.loads((await dlq(world, amqp_url, "list", "--pair", "p", "--json")).stdout)
    assert sorted(e["id"] for e in by_pair) == ids

    # An id nobody has: exit 1, naming it and where to look
    missing = one_line(await dlq(world, amqp_url, "replay", "0000nosuch", code=1))
    assert "'0000nosuch'" in missing and "calbridge dlq list" in missing
    one_line(await dlq(world, amqp_url, "show", "0000nosuch", code=1))

    # A prefix two ids share: exit 2, listing both, for every command that takes ids
    for command in (["show", "abc"], ["replay", "abc"], ["replay", "--id", "abc"], ["purge", "abc", "--yes"]):
        ambiguous = one_line(await dlq(world, amqp_url, *command, code=2))
        assert ids[0] in ambiguous and ids[1] in ambiguous and "more characters" in ambiguous

    # One good id and one unknown: refused before the good one is replayed
    one_line(await dlq(world, amqp_url, "replay", "abc1", "--id", "0000nosuch", code=1))

    # An unknown state, and no broker configured: usage and configuration, exit 2
    bad_state = await dlq(world, amqp_url, "list", "--state", "lost", code=2)
    assert "'lost' is not one of waiting, replayed, failed" in " ".join(bad_state.output.split())
    no_broker = one_line(await dlq(world, None, "replay", "abc1", code=2))
    assert "CALBRIDGE_AMQP_URL is not set" in no_broker

    # Purge asked and answered no, or not answered at all (standard input closed)
    refused = await dlq(world, amqp_url, "purge", "ffff", answer="n\n")
    assert "nothing purged" in refused.output
    unanswered = await dlq(world, amqp_url, "purge", "ffff", answer="", code=1)
    assert "nothing purged: no answer to the confirmation (add --yes to skip it)" in unanswered.output
    assert "Traceback" not in unanswered.output
    assert await untouched(), "nothing replayed, purged or rewritten"

    # Then the ids and prefixes that do name one entry work, positional and --id alike
    both = await dlq(world, amqp_url, "replay", "abc1", "--id", ids[2])
    assert "replayed 2 change event(s)" in both.output
    states = {r.id: r.state.value for r in await find_dead_letters(world.engine, DeadLetterFilter())}
    assert states == {ids[0]: "replayed", ids[1]: "waiting", ids[2]: "replayed"}


async def _count(found: object, expected: int) -> bool:
    return len(await found) == expected  # type: ignore[misc,arg-type]
