"""exchangelib against the EWS emulator: folders, items, impersonation, auth, invitations."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from exchangelib import (
    BASIC,
    IMPERSONATION,
    Account,
    CalendarItem,
    Configuration,
    Credentials,
    EWSDateTime,
    EWSTimeZone,
    FailFast,
)
from exchangelib.errors import (
    ErrorImpersonateUserDenied,
    ErrorIrresolvableConflict,
    ErrorItemNotFound,
    UnauthorizedError,
)
from exchangelib.properties import ItemId
from exchangelib.version import EXCHANGE_2016, Version

from sandbox.ews import EwsWorld
from sandbox.ews.testing import RunningEws, serve_in_thread

pytestmark = pytest.mark.integration
UTC = EWSTimeZone("UTC")


@pytest.fixture
def ews() -> Iterator[RunningEws]:
    world = EwsWorld(seed=7, minute_seconds=0.5)
    for address in ("alice@example.com", "bob@example.com", "carol@example.com"):
        world.add_mailbox(address)
    world.add_basic_user("svc@example.com", "s3cret")
    world.allow_impersonation("svc@example.com", "alice@example.com", "bob@example.com")
    with serve_in_thread(world) as running:
        yield running


def account(ews: RunningEws, mailbox: str = "alice@example.com", password: str = "s3cret") -> Account:
    config = Configuration(
        service_endpoint=ews.ews_url,
        credentials=Credentials("svc@example.com", password),
        auth_type=BASIC,
        version=Version(build=EXCHANGE_2016),
        retry_policy=FailFast(),
        max_connections=4,
    )
    return Account(mailbox, config=config, autodiscover=False, access_type=IMPERSONATION)


def at(hour: int, day: int = 6) -> EWSDateTime:
    return EWSDateTime(2026, 5, day, hour, 0, tzinfo=UTC)


def test_given_allowed_mailbox_when_saving_without_invitations_then_item_is_stored_and_nobody_mailed(
    ews: RunningEws,
) -> None:
    acc = account(ews)
    item = CalendarItem(
        account=acc, folder=acc.calendar, subject="Standup", start=at(9), end=at(10), body="hi"
    )
    item.save(send_meeting_invitations="SendToNone")

    stored = ews.control.calendar("alice@example.com")
    assert [i["subject"] for i in stored] == ["Standup"]
    assert ews.counters.invitations == []


def test_given_mailbox_not_granted_when_impersonating_then_impersonation_is_denied(ews: RunningEws) -> None:
    acc = account(ews, "carol@example.com")
    with pytest.raises(ErrorImpersonateUserDenied):
        _ = acc.calendar


def test_given_wrong_password_when_calling_then_401_surfaces_as_unauthorized(ews: RunningEws) -> None:
    acc = account(ews, password="wrong")
    with pytest.raises(UnauthorizedError):
        _ = acc.calendar
    assert ews.counters.calls[("ews.auth", 401)] >= 1


def test_given_attendees_when_saving_with_send_to_all_then_one_invitation_is_counted(ews: RunningEws) -> None:
    acc = account(ews)
    quiet = CalendarItem(
        account=acc,
        folder=acc.calendar,
        subject="Quiet",
        start=at(9),
        end=at(10),
        required_attendees=["bob@example.com"],
    )
    quiet.save(send_meeting_invitations="SendToNone")
    loud = CalendarItem(
        account=acc,
        folder=acc.calendar,
        subject="Loud",
        start=at(11),
        end=at(12),
        required_attendees=["bob@example.com", "carol@example.com"],
    )
    loud.save(send_meeting_invitations="SendToAllAndSaveCopy")

    assert len(ews.counters.invitations) == 1
    invitation = ews.counters.invitations[0]
    assert (invitation.provider, invitation.event_id, invitation.recipients) == ("ews", loud.id, 2)


def test_given_item_when_fetching_with_only_fields_then_just_those_fields_come_back(ews: RunningEws) -> None:
    acc = account(ews)
    item = CalendarItem(
        account=acc,
        folder=acc.calendar,
        subject="Review",
        start=at(13),
        end=at(14),
        body="agenda",
        legacy_free_busy_status="Tentative",
        sensitivity="Private",
        location="Room 1",
    )
    item.save(send_meeting_invitations="SendToNone")

    full = next(iter(acc.fetch(ids=[(item.id, item.changekey)])))
    slim = next(
        iter(acc.fetch(ids=[ItemId(id=item.id)], folder=acc.calendar, only_fields=["subject", "start"]))
    )

    assert (full.subject, full.start, full.end) == ("Review", at(13), at(14))
    assert (full.legacy_free_busy_status, full.sensitivity, full.location) == (
        "Tentative",
        "Private",
        "Room 1",
    )
    assert full.body == "agenda"
    assert (slim.subject, slim.start) == ("Review", at(13))
    assert slim.location is None and slim.body is None


def test_given_unknown_id_when_fetching_then_error_is_returned_in_the_list(ews: RunningEws) -> None:
    acc = account(ews)
    results = list(acc.fetch(ids=[ItemId(id="AAMkdoesnotexist", changekey="x")]))
    assert len(results) == 1 and isinstance(results[0], ErrorItemNotFound)


def test_given_item_when_updating_with_current_changekey_then_saved_and_stale_changekey_conflicts(
    ews: RunningEws,
) -> None:
    acc = account(ews)
    item = CalendarItem(account=acc, folder=acc.calendar, subject="Draft", start=at(9), end=at(10))
    item.save(send_meeting_invitations="SendToNone")
    stale = CalendarItem(
        account=acc, folder=acc.calendar, id=item.id, changekey=item.changekey, subject="Other"
    )

    item.subject = "Final"
    item.save(update_fields=["subject"], conflict_resolution="NeverOverwrite")
    with pytest.raises(ErrorIrresolvableConflict):
        stale.save(update_fields=["subject"], conflict_resolution="NeverOverwrite")

    assert [i["subject"] for i in ews.control.calendar("alice@example.com")] == ["Final"]


def test_given_meeting_when_deleting_with_cancellations_then_counted_and_gone(ews: RunningEws) -> None:
    acc = account(ews)
    silent = CalendarItem(
        account=acc,
        folder=acc.calendar,
        subject="A",
        start=at(9),
        end=at(10),
        required_attendees=["bob@example.com"],
    )
    silent.save(send_meeting_invitations="SendToNone")
    loud = CalendarItem(
        account=acc,
        folder=acc.calendar,
        subject="B",
        start=at(11),
        end=at(12),
        required_attendees=["bob@example.com"],
    )
    loud.save(send_meeting_invitations="SendToNone")
    loud_id = loud.id

    silent.delete(send_meeting_cancellations="SendToNone")
    loud.delete(send_meeting_cancellations="SendOnlyToAll")

    assert ews.control.calendar("alice@example.com") == []
    assert [(i.event_id, i.recipients) for i in ews.counters.invitations] == [(loud_id, 1)]


def test_given_items_when_listing_a_calendar_view_then_only_overlapping_ones_in_start_order(
    ews: RunningEws,
) -> None:
    acc = account(ews)
    for subject, start in (("late", 15), ("early", 8), ("next day", 30)):
        CalendarItem(
            account=acc,
            folder=acc.calendar,
            subject=subject,
            start=at(start % 24, 6 + start // 24),
            end=at(start % 24 + 1, 6 + start // 24),
        ).save(send_meeting_invitations="SendToNone")

    view = acc.calendar.view(start=at(0), end=at(23)).only("subject", "start")
    everything = acc.calendar.all().only("subject")
    everything.page_size = 2  # plain FindItem paged with IndexedPageItemView

    assert [i.subject for i in view] == ["early", "late"]
    assert sorted(i.subject for i in everything) == ["early", "late", "next day"]
    assert ews.counters.calls[("ews.FindItem", 200)] == 3  # one view, two pages


def test_given_all_day_item_in_a_zone_when_fetching_then_dates_and_zone_round_trip(ews: RunningEws) -> None:
    acc = account(ews)
    berlin = EWSTimeZone("Europe/Berlin")
    from datetime import date

    item = CalendarItem(
        account=acc,
        folder=acc.calendar,
        subject="Holiday",
        start=date(2026, 5, 14),
        end=date(2026, 5, 14),
        is_all_day=True,
        _start_timezone=berlin,
        _end_timezone=berlin,
        legacy_free_busy_status="OOF",
    )
    item.save(send_meeting_invitations="SendToNone")
    fetched = next(iter(acc.fetch(ids=[item])))

    assert fetched.is_all_day is True
    assert (fetched.start, fetched.end) == (date(2026, 5, 14), date(2026, 5, 14))
    assert fetched._start_timezone.key == "Europe/Berlin"
    assert fetched.legacy_free_busy_status == "OOF"
    stored = ews.control.calendar("alice@example.com")[0]
    assert stored["start"] == "2026-05-13T22:00:00Z" and stored["end"] == "2026-05-14T22:00:00Z"


def test_given_meeting_when_adding_an_attendee_with_send_to_changed_then_only_the_new_one_is_mailed(
    ews: RunningEws,
) -> None:
    acc = account(ews)
    item = CalendarItem(
        account=acc,
        folder=acc.calendar,
        subject="Plan",
        start=at(9),
        end=at(10),
        required_attendees=["bob@example.com"],
    )
    item.save(send_meeting_invitations="SendToNone")
    item.required_attendees = ["bob@example.com", "carol@example.com"]
    item.save(update_fields=["required_attendees"], send_meeting_invitations="SendToChangedAndSaveCopy")
    item.subject = "Plan v2"
    item.save(update_fields=["subject"], send_meeting_invitations="SendToNone")

    assert [(i.event_id, i.recipients, i.reason) for i in ews.counters.invitations] == [
        (item.id, 1, "SendToChangedAndSaveCopy")
    ]
