"""End to end on the sandbox with real RabbitMQ: three sync rules a person meets in the first week.

- A pair removed without its mirrors and added again adopts the mirrors the first one made:
  nothing is copied twice, in either direction, and nothing is written to adopt them.
- A mirror created after the Outlook cursor's position (its echo pass never ran), then deleted
  by a person, takes its origin with it although Graph's delta (and Exchange's SyncFolderItems)
  nets "created, then deleted" away.
- Two edits of one event a tenth of a second apart: the later one wins on both sides, although
  Google gives milliseconds and Graph seven fractional digits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from ews_e2e_stack import EwsStack, open_ews_stack
from processor_e2e import ALICE, PAIR, Stack, eventually, open_stack, publish_resyncs, titled, writes

from calbridge.bus import open_bus
from calbridge.events import Provider
from calbridge.pairs.access import RegistryAccessChecker
from calbridge.pairs.admin import AddOutcome, add_pair, finish_removal, remove_pair
from calbridge.pairs.spec import PairSpec, Side, parse_calendar
from calbridge.providers.registry import Registry
from calbridge.secretbox import open_secretbox
from calbridge.store.connection_records import list_connections
from calbridge.store.tables import links

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq, pytest.mark.timeout(90)]


@pytest.fixture
async def stack(amqp_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    async with open_stack(amqp_url, tmp_path) as opened:
        yield opened


def google_timed(title: str, start: str, end: str) -> dict[str, Any]:
    return {"summary": title, "start": {"dateTime": start}, "end": {"dateTime": end}}


def outlook_timed(title: str, start: str, end: str) -> dict[str, Any]:
    return {
        "subject": title,
        "start": {"dateTime": start, "timeZone": "UTC"},
        "end": {"dateTime": end, "timeZone": "UTC"},
    }


SIDES = ("google", "outlook")


async def count(stack: Stack, side: str, title: str) -> int:
    events = await (stack.outlook_events() if side == "outlook" else stack.google_events())
    return len(titled(events, title))


async def live_links(stack: Stack, pair_id: str) -> int:
    async with stack.engine.connect() as conn:
        query = sa.select(sa.func.count()).where(links.c.pair_id == pair_id, links.c.deleted.is_(False))
        return int((await conn.execute(query)).scalar_one())


async def readd(stack: Stack) -> tuple[str, str, str]:
    """`calbridge pairs add` of Alice's two calendars, as the command does it: access checked
    through the real adapters, the baseline published on RabbitMQ. Returns the new pair id and
    its calendar refs."""
    async with stack.engine.connect() as conn:
        connections = await list_connections(conn, open_secretbox(stack.settings))
    spec = PairSpec(
        google=parse_calendar(ALICE, Side.GOOGLE), microsoft=parse_calendar(ALICE, Side.MICROSOFT)
    )
    bus = open_bus(stack.settings)
    await bus.connect()
    checker = RegistryAccessChecker(Registry(stack.settings).open)
    try:
        result = await add_pair(stack.engine, spec, connections, checker, bus)
    finally:
        await checker.aclose()
        await bus.close()
    assert result.outcome is AddOutcome.ADDED, result.error
    return result.pair.id, result.pair.google_ref, result.pair.microsoft_ref


async def test_given_a_pair_removed_without_its_mirrors_when_added_again_then_each_mirror_is_adopted_once(
    stack: Stack,
) -> None:
    # Given: a two-way pair that mirrored an event each way
    google_id = await stack.google_create(
        google_timed("planning", "2026-11-25T09:00:00Z", "2026-11-25T10:00:00Z")
    )
    await stack.outlook_create(outlook_timed("retro", "2026-11-26T14:00:00", "2026-11-26T15:00:00"))
    await eventually(lambda: _shows_once(stack, "outlook", "planning"), what="planning G->M")
    await eventually(lambda: _shows_once(stack, "google", "retro"), what="retro M->G")
    await eventually(lambda: stack.settled(stack.processor.consumer.handled), what="quiet")

    # When: it is removed without --delete-mirrors (the renewer finishes that), then added again
    await remove_pair(stack.engine, PAIR)
    async with stack.engine.begin() as conn:
        await finish_removal(conn, PAIR)
    before = writes(await stack.counters())
    handled = stack.processor.consumer.handled
    new_pair, google_ref, microsoft_ref = await readd(stack)
    assert new_pair != PAIR

    # Then: its baseline links both events to the mirrors already there, writing nothing
    async def baseline_done() -> bool:
        return await live_links(stack, new_pair) == 2 and await stack.settled(handled + 2)

    await eventually(baseline_done, what="the baseline of both calendars")
    found = {
        (side, title): await count(stack, side, title) for side in SIDES for title in ("planning", "retro")
    }
    assert found == dict.fromkeys(found, 1), found  # no copy in either direction
    assert writes(await stack.counters()) == before

    # And an adopted mirror follows its origin again (the periodic reconciliation's hint)
    await stack.google_edit(google_id, {"summary": "planning (moved)"})
    await publish_resyncs(stack.settings, (Provider.GOOGLE, google_ref), (Provider.GRAPH, microsoft_ref))
    await eventually(
        lambda: _shows_once(stack, "outlook", "planning (moved)"), what="edit reaches the mirror"
    )
    assert await count(stack, "outlook", "planning") == 0


async def _shows_once(stack: Stack, side: str, title: str) -> bool:
    return await count(stack, side, title) == 1


async def test_given_a_mirror_the_outlook_cursor_never_saw_when_alice_deletes_it_then_its_origin_goes_too(
    stack: Stack,
) -> None:
    # Given: a pass over the Outlook calendar stored its cursor
    await stack.outlook_create(outlook_timed("anchor", "2026-11-24T08:00:00", "2026-11-24T08:30:00"))
    await eventually(lambda: _shows_once(stack, "google", "anchor"), what="anchor M->G")
    # and a mirror was then written in Outlook whose echo never reached a pass (notices lost)
    await stack.control.set_notification_faults("graph", drop_rate=1.0)
    await stack.google_create(google_timed("doomed", "2026-11-27T09:00:00Z", "2026-11-27T09:30:00Z"))
    await eventually(lambda: _shows_once(stack, "outlook", "doomed"), what="mirror G->M")
    await stack.control.set_notification_faults("graph")
    handled = stack.processor.consumer.handled

    # When: Alice deletes that mirror in Outlook (delta from the cursor nets create+delete away)
    [mirror] = titled(await stack.outlook_events(), "doomed")
    await stack.outlook_delete(mirror["id"])

    # Then: her Google event is deleted too, without any resync
    await eventually(lambda: stack.settled(handled + 1), what="the Outlook pass")
    await eventually(lambda: _gone(stack, "google", "doomed"), within=10, what="the deletion M->G")
    assert await count(stack, "google", "anchor") == 1


async def _gone(stack: Stack, side: str, title: str) -> bool:
    return await count(stack, side, title) == 0


@pytest.mark.parametrize("later", ["outlook", "google"])
async def test_given_both_copies_edited_a_tenth_of_a_second_apart_then_the_later_edit_wins_on_both_sides(
    stack: Stack, later: str
) -> None:
    # Given: an event and its mirror, linked and quiet
    google_id = await stack.google_create(
        google_timed("draft", "2026-11-30T09:00:00Z", "2026-11-30T10:00:00Z")
    )
    await eventually(lambda: _shows_once(stack, "outlook", "draft"), what="mirror G->M")
    await eventually(lambda: stack.settled(stack.processor.consumer.handled), what="quiet")
    [mirror] = titled(await stack.outlook_events(), "draft")
    for provider in ("google", "graph"):  # both edits land before either side's pass runs
        await stack.control.set_notification_faults(provider, delay=(1.0, 1.0))
    # The sandbox's clock a quarter into a second, so both edits fall within the same second
    fraction = stack.sandbox.clock.now().microsecond / 1_000_000
    await stack.control.advance_clock((1.25 - fraction) % 1.0)

    # When: both are edited, the `later` one 0.1 s after the other (sandbox time)
    async def edit(side: str) -> None:
        if side == "google":
            await stack.google_edit(google_id, {"summary": "draft (google)"})
        else:
            await stack.outlook_edit(mirror["id"], {"subject": "draft (outlook)"})

    await edit("google" if later == "outlook" else "outlook")
    await stack.control.advance_clock(0.1)
    await edit(later)

    # Then: the later edit is what both sides show, and stays so
    winner = f"draft ({later})"
    await eventually(lambda: _both_show(stack, winner), within=15, what=f"{winner} on both sides")
    handled = stack.processor.consumer.handled
    await eventually(lambda: stack.settled(handled), what="quiet again")
    assert await _both_show(stack, winner)


async def _both_show(stack: Stack, title: str) -> bool:
    return await count(stack, "google", title) == 1 and await count(stack, "outlook", title) == 1


@pytest.fixture
async def ews_stack(amqp_url: str, tmp_path: Path) -> AsyncIterator[EwsStack]:
    async with open_ews_stack(amqp_url, tmp_path) as opened:
        yield opened


async def test_given_an_exchange_mirror_its_cursor_never_saw_when_alice_deletes_it_then_its_origin_goes_too(
    ews_stack: EwsStack,
) -> None:
    stack = ews_stack
    exchange = stack.exchange_items

    async def subjects(subject: str) -> list[dict[str, Any]]:
        return [item for item in await exchange() if item["subject"] == subject]

    # Given: a pass over the Exchange calendar stored its sync state
    await stack.exchange_create(subject="anchor", start="2026-11-24T08:00:00Z", end="2026-11-24T08:30:00Z")
    await eventually(lambda: _titled_once(stack.google_events, "anchor"), what="anchor X->G")
    # and a mirror was then written on Exchange whose notification never reached a pass
    await stack.control.set_notification_faults("ews", drop_rate=1.0)
    await stack.google_create(google_timed("doomed", "2026-11-27T09:00:00Z", "2026-11-27T09:30:00Z"))

    async def mirrored() -> bool:
        return len(await subjects("doomed")) == 1

    await eventually(mirrored, what="mirror G->X")
    await eventually(stack.idle, what="quiet")
    await stack.control.set_notification_faults("ews")

    # When: Alice deletes the mirror (SyncFolderItems nets its creation and deletion away)
    [mirror] = await subjects("doomed")
    await stack.exchange_delete(mirror["id"])

    # Then: her Google event is deleted too, without any resync
    async def origin_gone() -> bool:
        return not titled(await stack.google_events(), "doomed")

    await eventually(origin_gone, within=20, what="the deletion X->G")
    assert await _titled_once(stack.google_events, "anchor")


async def _titled_once(read: Callable[[], Awaitable[list[dict[str, Any]]]], title: str) -> bool:
    return len(titled(await read(), title)) == 1
