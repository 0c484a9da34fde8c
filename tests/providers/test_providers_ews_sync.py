"""The EWS adapter through real exchangelib against the EWS emulator: sync, writes, invitations."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from calbridge.errors import CursorExpired, NotFound
from calbridge.model import AllDay, Attendee, Event, Recurrence, Timed, content_hash
from calbridge.providers.base import CalendarAddress, Change, Fetched, MirrorStamp, Removed
from calbridge.providers.ews.adapter import EwsProvider
from sandbox.ews.testing import RunningEws

pytestmark = pytest.mark.integration
MAILBOX = "alice@example.com"
CAL = CalendarAddress(MAILBOX)
PARIS = ZoneInfo("Europe/Paris")


async def collect(provider: EwsProvider, cursor: str | None) -> tuple[list[Change], str | None]:
    changes: list[Change] = []
    last: str | None = None
    async for page in provider.changes(CAL, cursor):
        changes.extend(page.changes)
        last = page.cursor
    return changes, last


def timed(title: str, hour: int, **kw: object) -> Event:
    start = datetime(2026, 5, 6, hour, tzinfo=UTC)
    return Event(id="src", span=Timed(start, start.replace(hour=hour + 1)), title=title, **kw)  # type: ignore[arg-type]


async def test_given_items_when_syncing_full_then_incrementally_then_creates_updates_and_deletes_arrive(
    ews: RunningEws, ews_provider: EwsProvider
) -> None:
    ews_provider.page_size = 2  # several SyncFolderItems pages
    made = [
        ews.control.create_item(
            MAILBOX, subject=f"s{h}", start=f"2026-05-06T{h:02d}:00:00Z", end=f"2026-05-06T{h:02d}:30:00Z"
        )
        for h in range(8, 13)
    ]

    full, cursor = await collect(ews_provider, None)
    ews.control.edit_item(MAILBOX, made[0]["id"], subject="renamed")
    ews.control.delete_item(MAILBOX, made[1]["id"])
    incremental, cursor2 = await collect(ews_provider, cursor)
    quiet, _ = await collect(ews_provider, cursor2)

    assert sorted(c.event.title for c in full if isinstance(c, Fetched)) == sorted(
        f"s{h}" for h in range(8, 13)
    )
    assert cursor is not None and cursor2 is not None
    assert [c.event.title for c in incremental if isinstance(c, Fetched)] == ["renamed"]
    assert [c.id for c in incremental if isinstance(c, Removed)] == [made[1]["id"]]
    assert quiet == []


async def test_given_an_expired_sync_state_when_syncing_then_cursor_expired(
    ews: RunningEws, ews_provider: EwsProvider
) -> None:
    _, cursor = await collect(ews_provider, None)
    ews.control.expire_sync_states(MAILBOX)
    with pytest.raises(CursorExpired):
        await collect(ews_provider, cursor)


async def test_given_the_same_stamp_when_creating_twice_then_one_item_and_no_invitation(
    ews: RunningEws, ews_provider: EwsProvider
) -> None:
    event = timed("Meeting", 9, attendees=(Attendee("bob@example.com"), Attendee("carol@example.com")))
    stamp = MirrorStamp("pair-1", "google-abc")

    first = await ews_provider.create(CAL, event, stamp)
    second = await ews_provider.create(CAL, event, stamp)
    found = await ews_provider.find_mirror(CAL, stamp)

    assert first.event.id == second.event.id and found is not None and found.event.id == first.event.id
    assert [i["subject"] for i in ews.control.calendar(MAILBOX)] == ["Meeting"]
    assert first.stamp == stamp and content_hash(first.event) == content_hash(event)
    assert await ews_provider.find_mirror(CAL, MirrorStamp("pair-1", "other")) is None
    assert ews.counters.invitations == []


async def test_given_a_mirror_an_earlier_pair_of_the_same_calendars_made_then_it_is_found_not_duplicated(
    ews: RunningEws, ews_provider: EwsProvider
) -> None:
    # Given: pair-1 mirrored an event, stamping the pairing key of its two calendars
    earlier = MirrorStamp("pair-1", "google-abc", "key-of-the-two-calendars")
    made = await ews_provider.create(CAL, timed("Weekly", 9), earlier)
    assert made.stamp == earlier  # all three marks read back
    # When: pair-2 of the same calendars (the pair added again) looks for it, or creates it
    again = MirrorStamp("pair-2", "google-abc", "key-of-the-two-calendars")
    found = await ews_provider.find_mirror(CAL, again)
    created = await ews_provider.create(CAL, timed("Weekly", 9), again)
    # Then: both are the earlier mirror; a mirror of other calendars is not
    assert found is not None and found.event.id == made.event.id == created.event.id
    assert [i["subject"] for i in ews.control.calendar(MAILBOX)] == ["Weekly"]
    assert await ews_provider.find_mirror(CAL, MirrorStamp("pair-3", "google-abc", "other-calendars")) is None


async def test_given_a_mirror_when_updated_then_deleted_twice_then_not_found_and_nobody_mailed(
    ews: RunningEws, ews_provider: EwsProvider
) -> None:
    stamp = MirrorStamp("pair-1", "g-1")
    attendees = (Attendee("bob@example.com"),)
    created = await ews_provider.create(CAL, timed("Draft", 9, attendees=attendees), stamp)

    updated = await ews_provider.update(CAL, created.event.id, timed("Final", 10, attendees=attendees), stamp)
    await ews_provider.delete(CAL, created.event.id)

    assert updated.event.title == "Final" and updated.version != created.version
    assert isinstance(updated.event.span, Timed) and updated.event.span.start.hour == 10
    with pytest.raises(NotFound):
        await ews_provider.delete(CAL, created.event.id)
    with pytest.raises(NotFound):
        await ews_provider.update(CAL, created.event.id, timed("Again", 9), stamp)
    assert await ews_provider.get(CAL, created.event.id) is None
    assert ews.control.calendar(MAILBOX) == []
    assert ews.counters.invitations == []


async def test_given_all_day_and_dst_zone_events_when_written_and_read_then_exact(
    ews: RunningEws, ews_provider: EwsProvider
) -> None:
    all_day = Event(id="a", span=AllDay(date(2026, 5, 14), date(2026, 5, 16)), title="Trip")
    # 02:30 on the night Paris springs forward does not exist; 09:00 the next morning is CEST.
    start = datetime(2026, 3, 30, 9, tzinfo=PARIS)
    dst = Event(
        id="b",
        span=Timed(start, start.replace(hour=10), "Europe/Paris"),
        title="After DST",
        recurrence=Recurrence(("RRULE:FREQ=DAILY;COUNT=3",)),
    )

    a = await ews_provider.create(CAL, all_day, MirrorStamp("p", "a"))
    b = await ews_provider.create(CAL, dst, MirrorStamp("p", "b"))
    full, _ = await collect(ews_provider, None)

    assert a.event.span == all_day.span and b.event.span == dst.span
    assert content_hash(b.event) == content_hash(dst)
    by_id = {c.event.id: c.event for c in full if isinstance(c, Fetched)}
    assert by_id[a.event.id].span == all_day.span
    assert by_id[b.event.id].span == dst.span and by_id[b.event.id].recurrence == dst.recurrence


async def test_given_a_new_york_mailbox_when_all_day_and_fall_back_events_round_trip_then_exact(
    ews: RunningEws, ews_provider: EwsProvider
) -> None:
    # Given: a mailbox in New York (all-day items are midnight to midnight there)
    provider = EwsProvider(ews_provider.client, all_day_zone="America/New_York")
    # an all-day event whose last day is the spring-forward day (23 hours long), and a meeting
    # at the second 01:30 of the fall-back night (06:30Z, -05:00)
    spring = Event(id="a", span=AllDay(date(2027, 3, 13), date(2027, 3, 15)), title="Weekend")
    tz = ZoneInfo("America/New_York")
    second = datetime(2027, 11, 7, 6, 30, tzinfo=UTC)
    night = Event(
        id="b",
        span=Timed(second.astimezone(tz), datetime(2027, 11, 7, 7, 30, tzinfo=UTC).astimezone(tz), tz.key),
        title="Night shift",
    )

    # When: both are written and read back
    a = await provider.create(CAL, spring, MirrorStamp("p", "a"))
    b = await provider.create(CAL, night, MirrorStamp("p", "b"))
    read_a, read_b = await provider.get(CAL, a.event.id), await provider.get(CAL, b.event.id)

    # Then: the weekend keeps its Sunday, and the meeting its instant and zone
    assert read_a is not None and read_a.event.span == spring.span
    assert read_b is not None and isinstance(read_b.event.span, Timed)
    assert read_b.event.span.start.astimezone(UTC) == second and read_b.event.span.zone == tz.key
    assert content_hash(read_b.event) == content_hash(night)
    [stored] = [i for i in ews.control.calendar(MAILBOX) if i["subject"] == "Night shift"]
    assert stored["start"] == "2027-11-07T06:30:00Z", stored["start"]
