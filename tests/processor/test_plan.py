"""The planner's rules, one by one: given a pair's policy, a change seen on one side, its link
and (when asked) the other copy, then exactly this action and this link to record."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from calbridge.model import AllDay, Attendee, Body, Event, EventStatus, InstanceOf, Recurrence, ShowAs, Timed
from calbridge.pairs.policy import ConflictPolicy, Detail, Direction, Policy, Side
from calbridge.providers.base import Fetched, MirrorStamp, Removed
from processor.sync.actions import Create, Delete, Outcome, ReadCounterpart, Resolution, Seen, Skip, Update
from processor.sync.plan import plan, settle
from processor.sync.projection import BUSY_TITLE, fingerprint
from processor.sync.record import Link

G, M = Side.GOOGLE, Side.MICROSOFT
TWO_WAY = Policy("p1")
G_TO_M = Policy("p1", Direction.GOOGLE_TO_MICROSOFT)
BUSY = Policy("p1", Direction.BOTH, Detail.BUSY)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def event(event_id: str, title: str = "Planning", hour: int = 0, **more: object) -> Event:
    start = T0 + timedelta(hours=hour)
    span = Timed(start, start + timedelta(hours=1), "Europe/Paris")
    return Event(id=event_id, span=span, title=title, **more)  # type: ignore[arg-type]


def fetched(ev: Event, version: str = "v1", stamp: MirrorStamp | None = None, minute: int = 0) -> Fetched:
    return Fetched(ev, version, T0 + timedelta(minutes=minute), stamp)


def linked(g: Fetched, m: Fetched, origin: Side = G, detail: Detail = Detail.FULL) -> Link:
    """The link as recorded right after g and m were last in step."""
    return Link(
        origin=origin,
        google_id=g.event.id,
        microsoft_id=m.event.id,
        google_version=g.version,
        microsoft_version=m.version,
        google_hash=fingerprint(g.event, detail),
        microsoft_hash=fingerprint(m.event, detail),
        row_id=7,
    )


ORIGIN = fetched(event("g1"))
MIRROR = fetched(event("m1"), "w1", MirrorStamp("p1", "g1"))
LINK = linked(ORIGIN, MIRROR)


# --- new events


def test_given_a_new_event_on_google_when_planned_then_a_stamped_mirror_is_created_on_microsoft() -> None:
    action = plan(TWO_WAY, G, ORIGIN, None)
    assert isinstance(action, Create)
    assert action.target is M
    assert action.stamp == MirrorStamp("p1", "g1")
    assert action.event.title == "Planning"
    assert action.link.origin is G and action.link.google_id == "g1" and action.link.microsoft_id is None


def test_given_a_one_way_pair_when_an_event_appears_on_its_target_then_it_is_not_synced_back() -> None:
    action = plan(G_TO_M, M, fetched(event("m9")), None)
    assert isinstance(action, Skip) and action.outcome is Outcome.SKIP_DIRECTION


def test_given_another_pairs_mirror_when_planned_then_it_is_never_mirrored() -> None:
    action = plan(TWO_WAY, G, fetched(event("g5"), stamp=MirrorStamp("p2", "x")), None)
    assert isinstance(action, Skip) and action.outcome is Outcome.SKIP_FOREIGN_MIRROR


def test_given_the_create_settled_when_the_link_is_recorded_then_it_names_the_written_mirror() -> None:
    action = plan(TWO_WAY, G, ORIGIN, None)
    assert isinstance(action, Create)
    link = settle(action, MIRROR, TWO_WAY)
    assert link.microsoft_id == "m1" and link.microsoft_version == "w1"
    assert link.microsoft_hash == fingerprint(MIRROR.event, Detail.FULL)


# --- echoes and unchanged content


def test_given_our_mirror_read_back_at_the_version_we_wrote_then_it_is_an_echo() -> None:
    action = plan(TWO_WAY, M, MIRROR, LINK)
    assert isinstance(action, Skip) and action.outcome is Outcome.SKIP_ECHO


def test_given_our_mirror_with_a_new_version_but_same_content_then_echo_and_version_recorded() -> None:
    action = plan(TWO_WAY, M, dataclasses.replace(MIRROR, version="w2"), LINK)
    assert isinstance(action, Skip) and action.outcome is Outcome.SKIP_ECHO
    assert action.link is not None and action.link.microsoft_version == "w2"


def test_given_the_origin_redelivered_at_the_same_version_then_unchanged() -> None:
    action = plan(TWO_WAY, G, ORIGIN, LINK)
    assert isinstance(action, Skip) and action.outcome is Outcome.SKIP_UNCHANGED


def test_given_busy_detail_when_only_the_title_changes_then_the_busy_block_is_left_alone() -> None:
    link = linked(ORIGIN, MIRROR, detail=Detail.BUSY)
    renamed = fetched(event("g1", "Secret merger talks", attendees=(Attendee("x@example.com"),)), "v2")
    action = plan(BUSY, G, renamed, link)
    assert isinstance(action, Skip) and action.outcome is Outcome.SKIP_UNCHANGED


def test_given_busy_detail_when_the_time_changes_then_the_block_moves_and_shows_nothing_else() -> None:
    link = linked(ORIGIN, MIRROR, detail=Detail.BUSY)
    moved = fetched(event("g1", "Secret", hour=2, description=Body("agenda"), location="Room 1"), "v2")
    action = plan(BUSY, G, moved, link)
    assert isinstance(action, Update)
    assert action.event.title == BUSY_TITLE
    assert action.event.description is None and action.event.location is None
    assert action.event.attendees == () and action.event.span == moved.event.span


def test_given_busy_detail_when_an_event_is_free_then_no_block_and_an_existing_block_goes() -> None:
    free = fetched(event("g2", show_as=ShowAs.FREE))
    unlinked = plan(BUSY, G, free, None)
    assert isinstance(unlinked, Skip) and unlinked.outcome is Outcome.SKIP_FILTERED
    link = linked(ORIGIN, MIRROR, detail=Detail.BUSY)
    became_free = fetched(event("g1", show_as=ShowAs.FREE), "v2")
    action = plan(BUSY, G, became_free, link)
    assert isinstance(action, Delete) and action.target_id == "m1"
    assert action.link is not None and action.link.deleted


# --- edits


def test_given_a_two_way_pair_when_the_origin_is_edited_then_the_copy_is_read_before_deciding() -> None:
    edited = fetched(event("g1", "Planning v2"), "v2")
    first = plan(TWO_WAY, G, edited, LINK)
    assert first == ReadCounterpart(M, "m1")
    action = plan(TWO_WAY, G, edited, LINK, counterpart=Seen(MIRROR))
    assert isinstance(action, Update)
    assert (action.target, action.target_id) == (M, "m1")
    assert action.stamp == MirrorStamp("p1", "g1") and action.conflict is None
    assert action.link.google_version == "v2"


def test_given_a_one_way_pair_when_the_origin_is_edited_then_the_mirror_is_updated_without_a_read() -> None:
    action = plan(G_TO_M, G, fetched(event("g1", "Planning v2"), "v2"), LINK)
    assert isinstance(action, Update) and action.target is M and action.event.title == "Planning v2"


def test_given_a_two_way_pair_when_the_mirror_is_edited_then_the_origin_follows_and_stays_unstamped() -> None:
    edited = fetched(event("m1", "Moved room"), "w2", MirrorStamp("p1", "g1"))
    action = plan(TWO_WAY, M, edited, LINK, counterpart=Seen(ORIGIN))
    assert isinstance(action, Update)
    assert (action.target, action.target_id, action.stamp) == (G, "g1", None)
    assert action.event.title == "Moved room"


def test_given_a_one_way_pair_when_a_person_edits_the_mirror_then_it_is_restored_from_the_origin() -> None:
    edited = fetched(event("m1", "Scribbled over"), "w2", MirrorStamp("p1", "g1"))
    assert plan(G_TO_M, M, edited, LINK) == ReadCounterpart(G, "g1")
    action = plan(G_TO_M, M, edited, LINK, counterpart=Seen(ORIGIN))
    assert isinstance(action, Update)
    assert (action.target, action.target_id) == (M, "m1") and action.event.title == "Planning"
    assert action.stamp == MirrorStamp("p1", "g1")


def test_given_both_copies_already_agree_when_the_origin_is_read_then_nothing_is_written() -> None:
    edited = fetched(event("g1", "Same"), "v2")
    copy = fetched(event("m1", "Same"), "w2", MirrorStamp("p1", "g1"))
    action = plan(TWO_WAY, G, edited, LINK, counterpart=Seen(copy))
    assert isinstance(action, Skip) and action.outcome is Outcome.SKIP_UNCHANGED
    assert action.link is not None and action.link.microsoft_version == "w2"


# --- conflicts


def _both_edited(g_minute: int, m_minute: int) -> tuple[Fetched, Fetched]:
    g = fetched(event("g1", "Google edit"), "v2", minute=g_minute)
    m = fetched(event("m1", "Outlook edit"), "w2", MirrorStamp("p1", "g1"), minute=m_minute)
    return g, m


def test_given_both_copies_edited_when_newest_wins_then_the_later_edit_overwrites_the_other() -> None:
    g, m = _both_edited(g_minute=5, m_minute=9)
    action = plan(TWO_WAY, G, g, LINK, counterpart=Seen(m))
    assert isinstance(action, Update)
    assert (action.target, action.target_id, action.stamp) == (G, "g1", None)
    assert action.event.title == "Outlook edit"
    assert action.conflict is not None and action.conflict.winner is M
    assert action.link.microsoft_version == "w2"
    # the log says what each side recorded and read, without content
    assert action.conflict.evidence.startswith("google g1 recorded v1 ")
    assert "read v2 " in action.conflict.evidence
    assert "; microsoft m1 recorded w1 " in action.conflict.evidence
    assert "Outlook edit" not in action.conflict.evidence


def test_given_both_copies_edited_when_google_wins_then_googles_edit_is_kept_even_if_older() -> None:
    policy = Policy("p1", conflict=ConflictPolicy.GOOGLE)
    g, m = _both_edited(g_minute=1, m_minute=9)
    action = plan(policy, M, m, LINK, counterpart=Seen(g))
    assert isinstance(action, Update)
    assert (action.target, action.target_id) == (M, "m1") and action.event.title == "Google edit"
    assert action.stamp == MirrorStamp("p1", "g1")
    assert action.conflict == Resolution(G, "policy: google wins")


def test_given_both_copies_edited_when_microsoft_wins_then_either_side_decides_the_same() -> None:
    policy = Policy("p1", conflict=ConflictPolicy.MICROSOFT)
    g, m = _both_edited(g_minute=9, m_minute=1)
    from_google = plan(policy, G, g, LINK, counterpart=Seen(m))
    from_microsoft = plan(policy, M, m, LINK, counterpart=Seen(g))
    assert isinstance(from_google, Update) and isinstance(from_microsoft, Update)
    assert from_google.event.title == from_microsoft.event.title == "Outlook edit"


MS, SECOND = timedelta(milliseconds=1), timedelta(seconds=1)


def _edited_at(g_at: datetime, m_at: datetime, m_precision: timedelta) -> tuple[Fetched, Fetched]:
    """Both copies edited: Google's time in milliseconds, the Microsoft copy's at `m_precision`."""
    g = Fetched(event("g1", "Google edit"), "v2", g_at, None, updated_precision=MS)
    m = Fetched(
        event("m1", "Outlook edit"), "w2", m_at, MirrorStamp("p1", "g1"), updated_precision=m_precision
    )
    return g, m


@pytest.mark.parametrize("seen_on", [G, M])
def test_given_an_outlook_edit_a_tenth_of_a_second_after_a_google_edit_then_outlook_wins_from_either_side(
    seen_on: Side,
) -> None:
    # Google 09:00:00.300, Graph 09:00:00.4000000 (100 ns ticks): the same second, Outlook later
    g, m = _edited_at(T0 + 300 * MS, T0 + 400 * MS, timedelta(microseconds=1))
    mine, theirs = (g, m) if seen_on is G else (m, g)
    action = plan(TWO_WAY, seen_on, mine, LINK, counterpart=Seen(theirs))
    assert isinstance(action, Update) and action.conflict is not None
    assert action.conflict.winner is M and action.event.title == "Outlook edit"
    # and the reverse: a Google edit 0.1 s after the Outlook one wins
    g, m = _edited_at(T0 + 500 * MS, T0 + 400 * MS, timedelta(microseconds=1))
    mine, theirs = (g, m) if seen_on is G else (m, g)
    action = plan(TWO_WAY, seen_on, mine, LINK, counterpart=Seen(theirs))
    assert isinstance(action, Update) and action.conflict is not None and action.conflict.winner is G


@pytest.mark.parametrize(
    ("g_at", "m_at", "m_precision"),
    [
        # Graph 0.4 ms after Google: below Google's millisecond, a tie
        (T0 + 300 * MS, T0 + 300 * MS + timedelta(microseconds=400), timedelta(microseconds=1)),
        # EWS says seconds: a Google edit at .700 and an Exchange edit in the same second tie
        (T0 + 700 * MS, T0, SECOND),
        # a provider that gave no time at all
        (T0, None, timedelta(microseconds=1)),
    ],
)
@pytest.mark.parametrize("origin", [G, M])
def test_given_edits_the_providers_cannot_order_then_the_origin_wins_whichever_side_decides(
    g_at: datetime, m_at: datetime | None, m_precision: timedelta, origin: Side
) -> None:
    g, m = _edited_at(g_at, m_at, m_precision)  # type: ignore[arg-type]
    link = dataclasses.replace(LINK, origin=origin)
    from_google = plan(TWO_WAY, G, g, link, counterpart=Seen(m))
    from_microsoft = plan(TWO_WAY, M, m, link, counterpart=Seen(g))
    assert isinstance(from_google, Update) and isinstance(from_microsoft, Update)
    assert from_google.conflict is not None and from_microsoft.conflict is not None
    assert from_google.conflict.winner is from_microsoft.conflict.winner is origin
    assert "tie" in from_google.conflict.reason


def test_given_an_exchange_edit_a_second_later_then_it_wins_although_exchange_gives_only_seconds() -> None:
    g, m = _edited_at(T0 + 700 * MS, T0 + SECOND, SECOND)
    action = plan(TWO_WAY, G, g, LINK, counterpart=Seen(m))
    assert isinstance(action, Update) and action.conflict is not None and action.conflict.winner is M


def test_given_the_copy_deleted_while_the_origin_was_edited_then_the_deletion_wins() -> None:
    edited = fetched(event("g1", "Planning v2"), "v2")
    action = plan(TWO_WAY, G, edited, LINK, counterpart=Seen(None))
    assert isinstance(action, Delete) and (action.target, action.target_id) == (G, "g1")


def test_given_a_mirror_edited_while_its_origin_was_deleted_then_the_mirror_goes_too() -> None:
    edited = fetched(event("m1", "Late edit"), "w2", MirrorStamp("p1", "g1"))
    action = plan(TWO_WAY, M, edited, LINK, counterpart=Seen(None))
    assert isinstance(action, Delete) and (action.target, action.target_id) == (M, "m1")


# --- deletions


@pytest.mark.parametrize(
    "gone",
    [Removed("g1"), fetched(dataclasses.replace(ORIGIN.event, status=EventStatus.CANCELLED), "v2")],
    ids=["removed", "google-cancelled"],
)
def test_given_the_origin_deleted_then_its_mirror_is_deleted_and_the_link_kept_as_tombstone(
    gone: object,
) -> None:
    action = plan(TWO_WAY, G, gone, LINK)  # type: ignore[arg-type]
    assert isinstance(action, Delete) and (action.target, action.target_id) == (M, "m1")
    assert action.link is not None and action.link.deleted


def test_given_our_own_delete_read_back_then_it_is_an_echo() -> None:
    action = plan(TWO_WAY, M, Removed("m1"), LINK.as_deleted())
    assert isinstance(action, Skip) and action.outcome is Outcome.SKIP_ECHO


def test_given_a_deletion_without_link_then_the_mirror_is_looked_up_by_stamp() -> None:
    action = plan(TWO_WAY, G, Removed("g4"), None)
    assert isinstance(action, Delete)
    assert (action.target, action.target_id, action.stamp) == (M, None, MirrorStamp("p1", "g4"))


def test_given_a_two_way_full_pair_when_a_person_deletes_the_copy_then_the_origin_is_deleted() -> None:
    action = plan(TWO_WAY, M, Removed("m1"), LINK)
    assert isinstance(action, Delete) and (action.target, action.target_id) == (G, "g1")


@pytest.mark.parametrize("policy", [G_TO_M, BUSY], ids=["one-way", "busy"])
def test_given_a_copy_owned_by_its_origin_when_a_person_deletes_it_then_it_comes_back(policy: Policy) -> None:
    assert plan(policy, M, Removed("m1"), LINK) == ReadCounterpart(G, "g1")
    action = plan(policy, M, Removed("m1"), LINK, counterpart=Seen(ORIGIN))
    assert isinstance(action, Create)
    assert action.target is M and action.stamp == MirrorStamp("p1", "g1")
    assert action.link.microsoft_id is None and action.link.row_id == LINK.row_id


def test_given_a_one_way_copy_deleted_when_its_origin_is_gone_too_then_only_the_link_is_retired() -> None:
    action = plan(G_TO_M, M, Removed("m1"), LINK, counterpart=Seen(None))
    assert isinstance(action, Skip) and action.outcome is Outcome.SKIP_GONE
    assert action.link is not None and action.link.deleted


def test_given_the_pair_turned_one_way_when_the_former_origin_changes_then_nothing_is_written() -> None:
    policy = Policy("p1", Direction.MICROSOFT_TO_GOOGLE)
    action = plan(policy, G, fetched(event("g1", "New"), "v2"), LINK)
    assert isinstance(action, Skip) and action.outcome is Outcome.SKIP_DIRECTION


# --- mirrors without links


def test_given_an_unlinked_mirror_whose_origin_lives_then_it_is_left_for_the_origin_to_adopt() -> None:
    assert plan(TWO_WAY, M, MIRROR, None) == ReadCounterpart(G, "g1")
    action = plan(TWO_WAY, M, MIRROR, None, counterpart=Seen(ORIGIN))
    assert isinstance(action, Skip) and action.outcome is Outcome.SKIP_ECHO


def test_given_an_unlinked_mirror_whose_origin_is_gone_then_the_orphan_is_deleted() -> None:
    action = plan(TWO_WAY, M, MIRROR, None, counterpart=Seen(None))
    assert isinstance(action, Delete) and (action.target, action.target_id) == (M, "m1")


PAIRED = Policy("p2", pairing="calendars-of-ann")


def test_given_a_mirror_an_earlier_pair_of_the_same_calendars_made_then_it_is_ours_to_adopt() -> None:
    # The pair was removed and added again: new pair id p2, the same two calendars
    earlier = fetched(event("m1"), "w1", MirrorStamp("p1", "g1", "calendars-of-ann"))
    assert plan(PAIRED, M, earlier, None) == ReadCounterpart(G, "g1")
    action = plan(PAIRED, M, earlier, None, counterpart=Seen(ORIGIN))
    assert isinstance(action, Skip) and action.outcome is Outcome.SKIP_ECHO  # its origin's pass adopts it
    orphan = plan(PAIRED, M, earlier, None, counterpart=Seen(None))
    assert isinstance(orphan, Delete) and orphan.target_id == "m1"


def test_given_a_mirror_of_other_calendars_or_of_an_unknown_earlier_pair_then_it_stays_foreign() -> None:
    for stamp in (MirrorStamp("p1", "g1", "calendars-of-bob"), MirrorStamp("p1", "g1")):
        action = plan(PAIRED, M, fetched(event("m1"), "w1", stamp), None)
        assert isinstance(action, Skip) and action.outcome is Outcome.SKIP_FOREIGN_MIRROR


def test_given_a_pair_with_a_pairing_key_then_every_mirror_it_writes_carries_it() -> None:
    action = plan(PAIRED, G, ORIGIN, None)
    assert isinstance(action, Create) and action.stamp == MirrorStamp("p2", "g1", "calendars-of-ann")


def test_given_a_copy_of_our_mirror_made_by_a_person_then_it_is_neither_mirrored_nor_deleted() -> None:
    pasted = fetched(event("m8"), "x1", MirrorStamp("p1", "g1"))
    action = plan(TWO_WAY, M, pasted, LINK)
    assert isinstance(action, Skip) and action.outcome is Outcome.SKIP_DUPLICATE_MIRROR


# --- recurring series


SERIES = fetched(event("g1", recurrence=Recurrence(("RRULE:FREQ=WEEKLY;BYDAY=MO",))))
SERIES_MIRROR = fetched(event("m1", recurrence=SERIES.event.recurrence), "w1", MirrorStamp("p1", "g1"))
SERIES_LINK = linked(SERIES, SERIES_MIRROR)
ORIGINAL_START = T0 + timedelta(days=7)


def occurrence(event_id: str, master: str, **more: object) -> Event:
    return event(event_id, instance_of=InstanceOf(master, ORIGINAL_START), **more)


def test_given_an_exception_of_a_linked_series_then_it_targets_the_mirror_series_occurrence() -> None:
    moved = fetched(occurrence("g1_20260309", "g1", hour=3))
    action = plan(TWO_WAY, G, moved, None, master_link=SERIES_LINK)
    assert isinstance(action, Create) and action.target is M
    assert action.event.instance_of == InstanceOf("m1", ORIGINAL_START)
    assert action.stamp == MirrorStamp("p1", "g1_20260309")


def test_given_an_exception_whose_series_has_no_mirror_then_it_waits_for_the_series() -> None:
    action = plan(TWO_WAY, G, fetched(occurrence("g1_x", "g1")), None, master_link=None)
    assert isinstance(action, Skip) and action.outcome is Outcome.SKIP_NO_MASTER


def test_given_a_cancelled_occurrence_of_an_origin_series_then_the_mirror_occurrence_is_cancelled() -> None:
    cancelled = fetched(occurrence("g1_x", "g1", status=EventStatus.CANCELLED))
    action = plan(TWO_WAY, G, cancelled, None, master_link=SERIES_LINK)
    assert isinstance(action, Create) and action.target is M
    assert action.event.cancelled and action.event.instance_of == InstanceOf("m1", ORIGINAL_START)
    assert action.link.deleted


def test_given_a_person_moves_one_occurrence_of_a_mirror_series_then_two_way_carries_it_back() -> None:
    moved = fetched(occurrence("m1_x", "m1", hour=5), stamp=MirrorStamp("p1", "g1"))
    action = plan(TWO_WAY, M, moved, None, master_link=SERIES_LINK)
    assert isinstance(action, Create)
    assert action.target is G and action.stamp is None
    assert action.event.instance_of == InstanceOf("g1", ORIGINAL_START)
    one_way = plan(G_TO_M, M, moved, None, master_link=SERIES_LINK)
    assert isinstance(one_way, Skip) and one_way.outcome is Outcome.SKIP_MIRROR_EDIT


def test_given_a_person_cancels_one_occurrence_of_a_mirror_series_then_its_link_is_born_a_tombstone() -> None:
    # Nothing of a cancelled occurrence is left to sync: a live link would name an id that can
    # never be read back (Graph lists cancelled occurrences under made-up ids).
    cancelled = fetched(occurrence("m1_x", "m1", status=EventStatus.CANCELLED), stamp=MirrorStamp("p1", "g1"))
    action = plan(TWO_WAY, M, cancelled, None, master_link=SERIES_LINK)
    assert isinstance(action, Create) and action.target is G and action.event.cancelled
    assert action.event.instance_of == InstanceOf("g1", ORIGINAL_START)
    assert action.link.deleted


def test_given_an_all_day_event_then_its_dates_are_carried_unchanged() -> None:
    day = fetched(Event(id="g3", span=AllDay(date(2026, 3, 2), date(2026, 3, 3)), title="Holiday"))
    action = plan(TWO_WAY, G, day, None)
    assert isinstance(action, Create) and action.event.span == AllDay(date(2026, 3, 2), date(2026, 3, 3))


def test_given_our_own_occurrence_mirror_without_link_then_it_is_never_carried_back() -> None:
    ours = fetched(occurrence("m1_x", "m1", hour=5), stamp=MirrorStamp("p1", "g1_x"))
    action = plan(TWO_WAY, M, ours, None, master_link=SERIES_LINK)
    assert action == ReadCounterpart(G, "g1_x")
    orphan = plan(TWO_WAY, M, ours, None, master_link=SERIES_LINK, counterpart=Seen(None))
    assert isinstance(orphan, Delete) and (orphan.target, orphan.target_id) == (M, "m1_x")


# --- rule 23: a meeting whose provider mails its attendees on every write is never written back

GRAPH_SIDE = Policy("p1", mailing_sides=frozenset({M}))
GUESTS = (Attendee("bob@example.com"), Attendee("room@example.com", resource=True))
OUTLOOK_MEETING = fetched(event("m1", attendees=GUESTS))
ITS_COPY = fetched(event("g1", attendees=GUESTS), "w1", MirrorStamp("p1", "m1"))
MEETING_LINK = linked(ITS_COPY, OUTLOOK_MEETING, origin=M)


def test_given_the_google_copy_of_an_outlook_meeting_edited_when_planned_then_the_copy_is_restored() -> None:
    renamed = fetched(dataclasses.replace(ITS_COPY.event, title="Moved"), "w2", MirrorStamp("p1", "m1"), 5)
    first = plan(GRAPH_SIDE, G, renamed, MEETING_LINK)
    assert first == ReadCounterpart(M, "m1")
    action = plan(GRAPH_SIDE, G, renamed, MEETING_LINK, counterpart=Seen(OUTLOOK_MEETING))
    assert isinstance(action, Update)
    assert action.target is G and action.event.title == "Planning"  # Outlook's meeting is not written


def test_given_the_google_copy_of_an_outlook_meeting_deleted_when_planned_then_it_comes_back() -> None:
    first = plan(GRAPH_SIDE, G, Removed("g1"), MEETING_LINK)
    assert first == ReadCounterpart(M, "m1")
    action = plan(GRAPH_SIDE, G, Removed("g1"), MEETING_LINK, counterpart=Seen(OUTLOOK_MEETING))
    assert isinstance(action, Create) and action.target is G  # no cancellation mailed to Bob


def test_given_an_outlook_event_without_attendees_when_its_copy_is_edited_then_still_carried_back() -> None:
    origin, copy = fetched(event("m1")), fetched(event("g1"), "w1", MirrorStamp("p1", "m1"))
    renamed = fetched(dataclasses.replace(copy.event, title="Moved"), "w2", MirrorStamp("p1", "m1"), 5)
    action = plan(GRAPH_SIDE, G, renamed, linked(copy, origin, origin=M), counterpart=Seen(origin))
    assert isinstance(action, Update) and action.target is M and action.event.title == "Moved"


def test_given_both_copies_of_an_outlook_meeting_changed_when_planned_then_the_meeting_wins() -> None:
    moved = fetched(dataclasses.replace(OUTLOOK_MEETING.event, title="Retro"), "v2", minute=1)
    renamed = fetched(dataclasses.replace(ITS_COPY.event, title="Later"), "w2", MirrorStamp("p1", "m1"), 9)
    action = plan(GRAPH_SIDE, M, moved, MEETING_LINK, counterpart=Seen(renamed))
    assert isinstance(action, Update) and action.target is G and action.event.title == "Retro"


def test_given_an_occurrence_of_an_outlook_meetings_copy_edited_when_planned_then_not_carried_back() -> None:
    series = fetched(event("m1", attendees=GUESTS, recurrence=Recurrence(("RRULE:FREQ=WEEKLY",))))
    copy = fetched(event("g1", attendees=GUESTS, recurrence=Recurrence(("RRULE:FREQ=WEEKLY",))), "w1")
    master_link = linked(copy, series, origin=M)
    moved = event("g1_x", hour=2, attendees=GUESTS, instance_of=InstanceOf("g1", T0))
    action = plan(GRAPH_SIDE, G, fetched(moved, stamp=MirrorStamp("p1", "m1")), None, master_link=master_link)
    assert isinstance(action, Skip) and action.outcome is Outcome.SKIP_MIRROR_EDIT
    plain = dataclasses.replace(moved, attendees=())  # without attendees it is carried back, as before
    stamp = MirrorStamp("p1", "m1")
    carried = plan(GRAPH_SIDE, G, fetched(plain, stamp=stamp), None, master_link=master_link)
    assert isinstance(carried, Create) and carried.target is M


def test_given_a_link_expecting_a_write_then_the_content_before_and_after_it_are_both_ours() -> None:
    link = Link(origin=G, google_id="g1", microsoft_id="m1", microsoft_version="w1", microsoft_hash="h1")
    first = link.expecting(M, "h2")  # a write that landed, unconfirmed
    second = first.expecting(M, "h3")  # the next one, refused before it landed
    assert (second.microsoft_version, second.microsoft_hash, second.microsoft_prior) == ("w1", "h3", "h2")
    assert second.knows(M, "w1", "h1")  # nothing landed yet: the version read is the one recorded
    assert second.knows(M, "w2", "h2") and second.knows(M, "w3", "h3")
    assert not second.knows(M, "w4", "h4")  # a person's edit
    assert second.expecting(M, "h3") == second  # the same write again changes nothing
    settled = second.with_side(M, "m1", "w3", "h3")  # confirmed
    assert settled.microsoft_prior is None and not settled.knows(M, "w2", "h2")
