"""The engine's pass over honest in-memory calendars: what a user sees on the other side after
crashes, redeliveries, expired cursors, windowed reads, mass deletions and provider errors."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sync_fakes import Clock, FakeCalendar

from calbridge.errors import PairPaused, Throttled, TransientProviderError
from calbridge.events import Provider
from calbridge.metrics import REGISTRY
from calbridge.model import Event, EventStatus, InstanceOf, Recurrence, Timed
from calbridge.pairs.policy import ConflictPolicy, Direction, Policy, Side
from calbridge.providers.base import CalendarAddress, Fetched, MirrorStamp
from processor.sync.actions import Outcome
from processor.sync.engine import CalendarSide, Hint, PairContext, PassSummary, run_pass
from processor.sync.memory_links import MemoryLinks

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
GOOGLE_HINT = Hint("calg")
MICROSOFT_HINT = Hint("calm")


class World:
    def __init__(
        self,
        policy: Policy | None = None,
        page_size: int = 3,
        *,
        nets: bool = False,
        folds: bool = False,
        exchange: bool = False,
    ) -> None:
        clock = Clock()
        self.google = FakeCalendar(Provider.GOOGLE, "g", clock, removals="cancelled", page_size=page_size)
        self.microsoft = (
            ExchangeLike(clock)
            if exchange
            else FakeCalendar(
                Provider.GRAPH, "m", clock, page_size=page_size, nets=nets, folds_cancellations=folds
            )
        )
        self.links = MemoryLinks()
        self.pair = PairContext(
            policy or Policy("p1"),
            CalendarSide("calg", CalendarAddress("ann@example.com"), self.google),
            CalendarSide("calm", CalendarAddress("ann@example.com"), self.microsoft),
        )

    async def sync(self, hint: Hint = GOOGLE_HINT, **options: bool) -> PassSummary:
        return await run_pass(self.pair, self.links, hint, **options)  # type: ignore[arg-type]

    def mirrors_of(self, source_id: str) -> list[str]:
        return [eid for eid, s in self.microsoft.live().items() if s.stamp == MirrorStamp("p1", source_id)]


def meeting(title: str = "Planning", hour: int = 0, **more: object) -> Event:
    start = T0 + timedelta(hours=hour)
    return Event(id="", span=Timed(start, start + timedelta(hours=1)), title=title, **more)  # type: ignore[arg-type]


async def test_given_a_new_google_event_when_synced_twice_then_one_mirror_and_no_second_write() -> None:
    world = World()
    g1 = world.google.person_create(meeting())
    first = await world.sync()
    again = await world.sync()  # the same hint delivered twice
    assert first.outcomes[Outcome.CREATED] == 1
    assert again.writes == 0
    assert len(world.mirrors_of(g1)) == 1
    echo = await world.sync(MICROSOFT_HINT)  # our write comes back as a Microsoft change
    assert echo.writes == 0 and echo.outcomes[Outcome.SKIP_ECHO] == 1


async def test_given_a_crash_after_the_create_when_the_pass_is_retried_then_no_duplicate() -> None:
    world = World()
    g1 = world.google.person_create(meeting())
    world.microsoft.faults.append("after")  # the mirror is written, the response is lost
    with pytest.raises(TransientProviderError):
        await world.sync()
    assert world.links.cursors.get("calg") is None, "the cursor must not move past a failed pass"
    await world.sync()
    assert len(world.mirrors_of(g1)) == 1
    assert await world.links.count_live("p1") == 1


async def test_given_a_failure_on_a_later_page_then_the_cursor_waits_and_the_retry_completes() -> None:
    world = World(page_size=2)
    ids = [world.google.person_create(meeting(f"m{i}", i)) for i in range(5)]
    await world.sync()
    for i, event_id in enumerate(ids):
        world.google.person_edit(event_id, title=f"edited {i}")
    world.microsoft.write_error = TransientProviderError("503")
    with pytest.raises(TransientProviderError):
        await world.sync()
    cursor_after_failure = world.links.cursors["calg"]
    world.microsoft.write_error = None
    summary = await world.sync()
    assert summary.outcomes[Outcome.UPDATED] == 5
    assert world.links.cursors["calg"] != cursor_after_failure
    assert all(len(world.mirrors_of(event_id)) == 1 for event_id in ids)


async def test_given_an_expired_cursor_when_synced_then_a_full_resync_writes_nothing_new() -> None:
    world = World()
    world.google.person_create(meeting())
    await world.sync()
    world.google.expire_cursors()
    summary = await world.sync()
    assert summary.full and summary.writes == 0


async def test_given_a_deletion_missed_while_the_cursor_expired_then_the_full_resync_applies_it() -> None:
    world = World()
    g1 = world.google.person_create(meeting())
    world.google.person_create(meeting("Other", 2))
    await world.sync()
    world.google.person_delete(g1)
    world.google.expire_cursors()
    summary = await world.sync()
    assert summary.full and summary.outcomes[Outcome.DELETED] == 1
    assert world.mirrors_of(g1) == []


async def test_given_a_windowed_full_read_when_a_linked_event_is_not_listed_then_it_is_kept() -> None:
    world = World()
    old = world.google.person_create(meeting("Last year"))
    world.google.person_create(meeting("Today", 2))
    await world.sync()
    world.google.outside_window.add(old)
    world.links.cursors.clear()
    summary = await world.sync()
    assert summary.writes == 0
    assert len(world.mirrors_of(old)) == 1


async def test_given_the_mirror_already_deleted_when_the_origin_is_deleted_then_success() -> None:
    world = World()
    g1 = world.google.person_create(meeting())
    await world.sync()
    world.microsoft.person_delete(world.mirrors_of(g1)[0])  # not yet synced
    world.google.person_delete(g1)
    summary = await world.sync()
    assert summary.outcomes[Outcome.DELETED] == 1
    assert (await world.links.find("p1", Side.GOOGLE, g1)).deleted  # type: ignore[union-attr]


async def test_given_most_events_deleted_at_once_then_the_pair_pauses_before_deleting_anything() -> None:
    world = World()
    ids = [world.google.person_create(meeting(f"m{i}", i)) for i in range(12)]
    await world.sync()
    for event_id in ids[:11]:
        world.google.person_delete(event_id)
    pauses_before = REGISTRY.get_sample_value("calbridge_sync_pauses_total") or 0
    with pytest.raises(PairPaused) as paused:
        await world.sync()
    assert "11 of 12" in paused.value.reason
    assert REGISTRY.get_sample_value("calbridge_sync_pauses_total") == pauses_before + 1
    assert len(world.microsoft.live()) == 12, "nothing may be deleted before the verdict"
    confirmed = await world.sync(confirm_deletions=True)
    assert confirmed.outcomes[Outcome.DELETED] == 11
    assert len(world.microsoft.live()) == 1


async def test_given_most_events_deleted_on_both_sides_at_once_then_no_pause_and_the_links_close() -> None:
    """Deletions whose target is already gone delete nothing: the breaker does not ask about them
    (a busy mailbox whose people, or an earlier failed pass of ours, removed both copies)."""
    world = World()
    ids = [world.google.person_create(meeting(f"m{i}", i)) for i in range(12)]
    await world.sync()
    for event_id in ids[:11]:
        world.microsoft.person_delete(world.mirrors_of(event_id)[0])  # gone on Outlook already
        world.google.person_delete(event_id)
    summary = await world.sync()
    assert summary.outcomes[Outcome.DELETED] == 11
    assert len(world.microsoft.live()) == 1
    # and when only some targets are gone, the ones that still exist are still guarded
    more = [world.google.person_create(meeting(f"n{i}", i)) for i in range(12)]
    await world.sync()
    for event_id in more[:11]:
        world.google.person_delete(event_id)
    world.microsoft.person_delete(world.mirrors_of(more[0])[0])
    with pytest.raises(PairPaused, match="10 of 13"):
        await world.sync()


async def test_given_events_made_and_deleted_before_any_pass_copied_them_then_no_pause() -> None:
    """A backlog (passes failing under throttling) in which people made and deleted many events:
    the feed reports each removal, and no stamp finds a mirror of any, so nothing would be
    deleted and the breaker does not ask; a real mirror among them is still guarded."""
    world = World()
    kept = [world.google.person_create(meeting(f"k{i}", i)) for i in range(4)]
    await world.sync()
    for i in range(11):
        world.google.person_delete(world.google.person_create(meeting(f"brief{i}", i)))
    summary = await world.sync()
    assert summary.outcomes[Outcome.SKIP_GONE] == 11
    assert len(world.microsoft.live()) == len(kept)
    # and deletions of the mirrors that exist still count: 4 real ones + 11 of nothing is 4
    for i in range(11):
        world.google.person_delete(world.google.person_create(meeting(f"again{i}", i)))
    for event_id in kept[:3]:
        world.google.person_delete(event_id)
    assert (await world.sync()).outcomes[Outcome.DELETED] == 3
    # while 10 real deletions of 14 linked events pause as before
    more = [world.google.person_create(meeting(f"n{i}", i)) for i in range(13)]
    await world.sync()
    for event_id in more[:10]:
        world.google.person_delete(event_id)
    with pytest.raises(PairPaused, match="10 of 14"):
        await world.sync()


async def test_given_links_when_a_full_read_comes_back_empty_then_pause_not_wipe() -> None:
    world = World()
    world.google.person_create(meeting())
    await world.sync()
    world.google.outside_window.update(world.google.live())  # the provider answers "nothing"
    world.links.cursors.clear()
    with pytest.raises(PairPaused, match="empty full read"):
        await world.sync()
    assert len(world.microsoft.live()) == 1


async def test_given_the_provider_throttles_then_the_error_propagates_and_nothing_advances() -> None:
    world = World()
    world.google.person_create(meeting())
    world.microsoft.write_error = Throttled(30)
    with pytest.raises(Throttled):
        await world.sync()
    assert world.links.cursors.get("calg") is None


async def test_given_an_exception_listed_before_its_series_then_it_lands_on_the_mirror_series() -> None:
    world = World()
    original = T0 + timedelta(days=7)
    exception_id = world.google.person_create(meeting("Moved", 3, instance_of=InstanceOf("g2", original)))
    series = world.google.person_create(meeting(recurrence=Recurrence(("RRULE:FREQ=WEEKLY",))))
    assert series == "g2"
    summary = await world.sync()
    assert summary.outcomes[Outcome.CREATED] == 2
    (mirror_series,) = world.mirrors_of(series)
    (mirror_exception,) = world.mirrors_of(exception_id)
    assert world.microsoft.events[mirror_exception].event.instance_of == InstanceOf(mirror_series, original)


@pytest.mark.parametrize("reversioned", [False, True])
async def test_given_a_cancelled_google_occurrence_when_its_mirror_series_echoes_then_no_google_write(
    reversioned: bool,
) -> None:
    # Given a Google series mirrored to a calendar that keeps cancellations on the series (Exchange)
    world = World(folds=True)
    series = world.google.person_create(meeting(recurrence=Recurrence(("RRULE:FREQ=DAILY;COUNT=5",))))
    await world.sync()
    (mirror_series,) = world.mirrors_of(series)
    if reversioned:  # the provider gave the mirror a new version after our write, same content
        world.microsoft.events[mirror_series].version = "v-again"
    # When a person cancels one occurrence in Google and calbridge carries it over
    original = T0 + timedelta(days=2)
    world.google.person_create(
        meeting("Planning", 48, instance_of=InstanceOf(series, original), status=EventStatus.CANCELLED)
    )
    world.google.person_delete(world.google.exceptions_of(series)[0])
    await world.sync()
    assert "EXDATE" in " ".join(world.microsoft.events[mirror_series].event.recurrence.rules)  # type: ignore[union-attr]
    google_writes = world.google.writes
    # Then the mirror series' change (our own write) is an echo: Google's series is not rewritten
    echo = await world.sync(MICROSOFT_HINT)
    assert world.google.writes == google_writes, echo.outcomes
    assert world.google.events[series].event.recurrence == Recurrence(("RRULE:FREQ=DAILY;COUNT=5",))


async def test_given_a_pass_failing_after_an_occurrence_cancel_when_replayed_then_no_google_write() -> None:
    # Given a Google series mirrored to a calendar that keeps cancellations on the series (Exchange)
    world = World(folds=True)
    series = world.google.person_create(meeting(recurrence=Recurrence(("RRULE:FREQ=DAILY;COUNT=5",))))
    await world.sync()
    (mirror_series,) = world.mirrors_of(series)
    # When a person cancels one occurrence in Google, and the pass carrying it fails right after
    # the cancellation landed on the mirror series (a timeout, a 503 on the next call)
    original = T0 + timedelta(days=2)
    world.google.person_create(
        meeting("Planning", 48, instance_of=InstanceOf(series, original), status=EventStatus.CANCELLED)
    )
    world.google.person_delete(world.google.exceptions_of(series)[0])
    world.microsoft.faults.append("after")
    with pytest.raises(TransientProviderError):
        await world.sync()
    assert "EXDATE" in " ".join(world.microsoft.events[mirror_series].event.recurrence.rules)  # type: ignore[union-attr]
    await world.sync()  # the replay of the failed pass
    google_writes = world.google.writes
    # Then the mirror series' change (our own write) is an echo: Google's series is not rewritten
    echo = await world.sync(MICROSOFT_HINT)
    assert world.google.writes == google_writes, echo.outcomes
    assert echo.outcomes[Outcome.SKIP_ECHO] >= 1
    assert world.google.events[series].event.recurrence == Recurrence(("RRULE:FREQ=DAILY;COUNT=5",))
    # and a later edit of the person's series reaches the mirror without a conflict
    world.google.person_edit(series, title="Renamed")
    renamed = await world.sync()
    assert world.google.writes == google_writes and renamed.outcomes[Outcome.UPDATED] == 1
    assert world.microsoft.events[mirror_series].event.title == "Renamed"


async def test_given_a_failed_occurrence_cancel_when_the_mirror_side_reads_first_then_no_google_write() -> (
    None
):
    # Given a Google series mirrored to a calendar that keeps cancellations on the series (Exchange)
    world = World(folds=True)
    series = world.google.person_create(meeting(recurrence=Recurrence(("RRULE:FREQ=DAILY;COUNT=5",))))
    await world.sync()
    await world.sync(MICROSOFT_HINT)
    # When a person cancels one occurrence in Google, the pass carrying it fails right after the
    # cancellation landed, and the mirror's side is read before that pass is retried
    original = T0 + timedelta(days=2)
    world.google.person_create(
        meeting("Planning", 48, instance_of=InstanceOf(series, original), status=EventStatus.CANCELLED)
    )
    world.google.person_delete(world.google.exceptions_of(series)[0])
    world.microsoft.faults.append("after")
    with pytest.raises(TransientProviderError):
        await world.sync()
    google_writes = world.google.writes
    echo = await world.sync(MICROSOFT_HINT)
    await world.sync()  # the retry
    # Then the mirror series' change is our own echo: Google's series is not rewritten
    assert world.google.writes == google_writes, echo.outcomes
    assert world.google.events[series].event.recurrence == Recurrence(("RRULE:FREQ=DAILY;COUNT=5",))
    again = await world.sync(MICROSOFT_HINT)
    assert world.google.writes == google_writes and again.writes == 0


async def test_given_a_series_edit_failing_after_its_write_when_the_copy_is_read_first_then_no_echo() -> None:
    # Given a Google series with a cancelled occurrence, mirrored to a calendar that keeps
    # cancellations on the series (Exchange): the mirror series reads with an EXDATE line
    world = World(folds=True)
    series = world.google.person_create(meeting(recurrence=Recurrence(("RRULE:FREQ=DAILY;COUNT=5",))))
    await world.sync()
    original = T0 + timedelta(days=2)
    world.google.person_create(
        meeting("Planning", 48, instance_of=InstanceOf(series, original), status=EventStatus.CANCELLED)
    )
    world.google.person_delete(world.google.exceptions_of(series)[0])
    await world.sync()
    await world.sync(MICROSOFT_HINT)
    (mirror_series,) = world.mirrors_of(series)
    # When the person renames the series, the pass writing the mirror fails right after the
    # write (which keeps the cancelled occurrence), and the mirror's side is read before the retry
    world.google.person_edit(series, title="Renamed")
    world.microsoft.faults.append("after")
    with pytest.raises(TransientProviderError):
        await world.sync()
    mirror = world.microsoft.events[mirror_series].event
    assert mirror.title == "Renamed" and "EXDATE" in " ".join(mirror.recurrence.rules)  # type: ignore[union-attr]
    google_writes = world.google.writes
    echo = await world.sync(MICROSOFT_HINT)
    await world.sync()
    # Then the mirror series' change is our own echo: the person's series is not written
    assert world.google.writes == google_writes, echo.outcomes
    assert world.google.events[series].event.recurrence == Recurrence(("RRULE:FREQ=DAILY;COUNT=5",))
    assert (await world.sync(MICROSOFT_HINT)).writes == 0


@pytest.mark.parametrize("retry_refused", [False, True])
async def test_given_an_update_failing_after_its_write_when_the_copy_is_read_first_then_no_google_write(
    retry_refused: bool,
) -> None:
    # Given a Google event and its mirror
    world = World()
    g1 = world.google.person_create(meeting("Planning"))
    await world.sync()
    (m1,) = world.mirrors_of(g1)
    # When a person renames it, the pass writing the mirror fails right after the write, the person
    # renames it again while that write is in flight, and the mirror's side is read before the retry
    world.google.person_edit(g1, title="Planning v2")
    world.microsoft.faults.append("after")
    with pytest.raises(TransientProviderError):
        await world.sync()
    world.google.person_edit(g1, title="Planning v3")
    world.microsoft.events[m1].updated = world.google.clock.now()  # our write landed after that edit
    if retry_refused:  # and a retry's write is refused before it lands (a 503): two failures in a row
        world.microsoft.faults.append("before")
        with pytest.raises(TransientProviderError):
            await world.sync()
    google_writes = world.google.writes
    echo = await world.sync(MICROSOFT_HINT)
    await world.sync()
    # Then the copy's change is our own echo: the person's newer edit is not overwritten, and wins
    assert world.google.writes == google_writes, echo.outcomes
    assert world.google.events[g1].event.title == "Planning v3"
    assert world.microsoft.events[m1].event.title == "Planning v3"


class ExchangeLike(FakeCalendar):
    """Keeps no EXDATE line in a series it is given: only its own cancelled occurrences (folded)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(Provider.GRAPH, "m", clock, folds_cancellations=True)

    async def create(self, calendar: CalendarAddress, event: Event, stamp: MirrorStamp | None) -> Fetched:
        return await super().create(calendar, _no_exdates(event), stamp)

    async def update(
        self, calendar: CalendarAddress, event_id: str, event: Event, stamp: MirrorStamp | None
    ) -> Fetched:
        return await super().update(calendar, event_id, _no_exdates(event), stamp)


def _no_exdates(event: Event) -> Event:
    if event.recurrence is None:
        return event
    rules = tuple(line for line in event.recurrence.rules if not line.startswith("EXDATE"))
    return dataclasses.replace(event, recurrence=Recurrence(rules))


async def test_given_a_series_with_excluded_dates_when_mirrored_to_outlook_then_its_echo_is_skipped() -> None:
    # Given a person's Google series with an EXDATE line (Outlook holds it as a cancelled occurrence)
    world = World(exchange=True)
    rules = ("RRULE:FREQ=DAILY;COUNT=5", "EXDATE;TZID=UTC:20260304T090000")
    series = world.google.person_create(meeting(recurrence=Recurrence(rules)))
    # When calbridge mirrors it and the mirror series comes back from Outlook
    await world.sync()
    (mirror_series,) = world.mirrors_of(series)
    assert world.microsoft.events[mirror_series].event.recurrence is not None
    google_writes = world.google.writes
    echo = await world.sync(MICROSOFT_HINT)
    # Then it is our own write: nothing is written back onto the person's series
    assert world.google.writes == google_writes, echo.outcomes
    assert world.google.events[series].event.recurrence == Recurrence(rules)


async def test_given_a_failed_pass_then_the_origin_deleted_and_netted_away_then_its_mirror_goes_too() -> None:
    # Given an Outlook feed that nets (made and deleted after the cursor: not reported at all)
    world = World(nets=True)
    await world.sync(MICROSOFT_HINT)  # a cursor
    m1 = world.microsoft.person_create(meeting())
    world.google.faults.append("after")  # the mirror is written, then the pass fails
    with pytest.raises(TransientProviderError):
        await world.sync(MICROSOFT_HINT)
    assert len([s for s in world.google.live().values() if s.stamp == MirrorStamp("p1", m1)]) == 1
    # When the person deletes the event before the next pass reads from the same cursor
    world.microsoft.person_delete(m1)
    await world.sync(MICROSOFT_HINT)
    # Then its mirror is gone too
    assert [s for s in world.google.live().values() if s.stamp == MirrorStamp("p1", m1)] == []


async def test_given_an_event_on_the_target_of_a_one_way_pair_then_it_stays_there_alone() -> None:
    world = World(Policy("p1", Direction.GOOGLE_TO_MICROSOFT))
    world.microsoft.person_create(meeting("Private"))
    summary = await world.sync(MICROSOFT_HINT)
    assert summary.outcomes[Outcome.SKIP_DIRECTION] == 1
    assert world.google.live() == {}


async def test_given_both_copies_edited_when_either_side_syncs_then_one_conflict_and_they_agree() -> None:
    world = World(Policy("p1", conflict=ConflictPolicy.MICROSOFT))
    g1 = world.google.person_create(meeting())
    await world.sync()
    (m1,) = world.mirrors_of(g1)
    world.google.person_edit(g1, title="Google says")
    world.microsoft.person_edit(m1, title="Outlook says")
    summary = await world.sync()
    assert summary.conflicts == 1
    settled = [await world.sync(MICROSOFT_HINT), await world.sync()]
    assert [s.writes for s in settled] == [0, 0]
    assert world.google.events[g1].event.title == world.microsoft.events[m1].event.title == "Outlook says"


# --- a pair added again, a feed that nets deletions away


async def test_given_a_pair_added_again_when_its_baseline_runs_then_it_adopts_mirrors_writing_nothing() -> (
    None
):
    # Given: pair p1 of Ann's two calendars mirrored an event each way
    world = World(Policy("p1", pairing="anns-calendars"))
    g1 = world.google.person_create(meeting("Planning"))
    m1 = world.microsoft.person_create(meeting("Retro", 3))
    await world.sync()
    await world.sync(MICROSOFT_HINT)
    writes = world.google.writes + world.microsoft.writes
    # When: it is removed (links and cursors gone, the mirrors left) and added again as p2
    world.links = MemoryLinks()
    world.pair = PairContext(Policy("p2", pairing="anns-calendars"), world.pair.google, world.pair.microsoft)
    baseline = [await world.sync(), await world.sync(MICROSOFT_HINT)]
    # Then: each origin is linked to the mirror already there; nothing is written
    assert [b.full for b in baseline] == [True, True]
    assert [b.outcomes[Outcome.ADOPTED] for b in baseline] == [1, 1]
    assert world.google.writes + world.microsoft.writes == writes
    assert len(world.google.live()) == len(world.microsoft.live()) == 2
    assert await world.links.count_live("p2") == 2
    # And the adopted mirror follows its origin from now on
    world.microsoft.person_edit(m1, title="Retro (moved)")
    await world.sync(MICROSOFT_HINT)
    assert [s.event.title for s in world.google.live().values() if s.stamp] == ["Retro (moved)"]
    assert g1 in world.google.live()


async def test_given_a_pair_added_again_when_a_mirror_drifted_meanwhile_then_it_is_updated_not_copied() -> (
    None
):
    world = World(Policy("p1", pairing="anns-calendars"))
    g1 = world.google.person_create(meeting("Planning"))
    await world.sync()
    world.links = MemoryLinks()
    world.google.person_edit(g1, title="Planning (v2)")  # edited while no pair watched
    world.pair = PairContext(Policy("p2", pairing="anns-calendars"), world.pair.google, world.pair.microsoft)
    summary = await world.sync()
    assert summary.outcomes[Outcome.UPDATED] == 1 and summary.outcomes[Outcome.CREATED] == 0
    assert [s.event.title for s in world.microsoft.live().values()] == ["Planning (v2)"]


@pytest.mark.parametrize(
    ("policy", "google_left"),
    [(Policy("p1"), 0), (Policy("p1", Direction.GOOGLE_TO_MICROSOFT), 1)],
)
async def test_given_a_mirror_made_after_the_outlook_cursor_when_a_person_deletes_it_then_that_is_seen(
    policy: Policy, google_left: int
) -> None:
    # Given: Outlook's feed nets "created, then deleted" away (Exchange ICS, Graph delta), and
    # its cursor was stored before the mirror was written (its echo pass never ran)
    world = World(policy, nets=True)
    await world.sync(MICROSOFT_HINT)
    g1 = world.google.person_create(meeting("Planning"))
    await world.sync()
    (m1,) = world.mirrors_of(g1)
    # When: a person deletes the mirror; the next Outlook pass's feed does not mention it
    world.microsoft.person_delete(m1)
    summary = await world.sync(MICROSOFT_HINT)
    # Then: the deletion is applied as any other: two-way, the origin goes; one-way, the
    # mirror comes back
    assert not summary.full
    assert len(world.google.live()) == google_left
    assert len(world.mirrors_of(g1)) == google_left


async def test_given_links_older_than_the_cursor_then_no_event_is_read_again() -> None:
    world = World(nets=True)
    g1 = world.google.person_create(meeting("Planning"))
    await world.sync()
    await world.sync(MICROSOFT_HINT)  # the Outlook cursor now covers the mirror
    world.links.saved_at = dict.fromkeys(world.links.saved_at, T0)  # saved long ago
    reads = 0
    original = world.microsoft.get

    async def counted(calendar: CalendarAddress, event_id: str) -> object:
        nonlocal reads
        reads += 1
        return await original(calendar, event_id)

    world.microsoft.get = counted  # type: ignore[method-assign]
    world.microsoft.person_create(meeting("Unrelated", 5))
    await world.sync(MICROSOFT_HINT)
    assert reads == 0
    assert len(world.mirrors_of(g1)) == 1


async def test_given_a_pass_then_its_cursor_is_stored_with_the_time_its_read_began() -> None:
    world = World()
    began = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    await run_pass(world.pair, world.links, GOOGLE_HINT, now=lambda: began)
    stored = world.links.cursors["calg"]
    assert stored is not None and stored.read_at == began
