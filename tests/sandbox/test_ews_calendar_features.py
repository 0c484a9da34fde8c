"""exchangelib against the EWS emulator: free/busy, extended properties, recurrences, throttling,
OAuth over HTTPS, Autodiscover."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
import requests
import trustme
from exchangelib import CalendarItem, EWSDateTime, EWSTimeZone, ExtendedProperty, FaultTolerance
from exchangelib.errors import ErrorServerBusy, RateLimitError
from exchangelib.recurrence import Recurrence, WeeklyPattern

from sandbox.ews import EwsControlClient
from sandbox.ews.testing import RunningEws, basic_account, sample_world, serve_in_thread
from sandbox.faults import OperationFaults

pytestmark = pytest.mark.integration
UTC = EWSTimeZone("UTC")


@pytest.fixture
def ews() -> Iterator[RunningEws]:
    with serve_in_thread(sample_world()) as running:
        yield running


def at(hour: int, day: int = 4, minute: int = 0) -> EWSDateTime:
    return EWSDateTime(2026, 5, day, hour, minute, tzinfo=UTC)


def test_given_busy_and_free_items_when_asking_free_busy_then_each_mailbox_shows_its_busy_types(
    ews: RunningEws,
) -> None:
    alice: Any = basic_account(ews)
    bob: Any = basic_account(ews, "bob@example.com")
    for acc, subject, start, status in (
        (alice, "Focus", 9, "Busy"),
        (alice, "Maybe", 11, "Tentative"),
        (bob, "Offsite", 10, "OOF"),
        (bob, "Lunch", 12, "Free"),
    ):
        CalendarItem(
            account=acc,
            folder=acc.calendar,
            subject=subject,
            start=at(start),
            end=at(start + 1),
            legacy_free_busy_status=status,
        ).save(send_meeting_invitations="SendToNone")

    views = list(
        alice.protocol.get_free_busy_info(
            accounts=[(alice, "Organizer", False), (bob, "Required", False)],
            start=at(8),
            end=at(14),
            merged_free_busy_interval=60,
        )
    )

    alice_view, bob_view = views
    assert [(e.busy_type, e.start.hour) for e in alice_view.calendar_events] == [
        ("Busy", 9),
        ("Tentative", 11),
    ]
    assert [(e.busy_type, e.details.subject) for e in bob_view.calendar_events] == [
        ("OOF", "Offsite"),
        ("Free", "Lunch"),
    ]
    assert alice_view.merged == "020100" and bob_view.merged == "003000"


def test_given_a_summer_window_in_berlin_when_asking_free_busy_then_times_are_berlin_wall_clock(
    ews: RunningEws,
) -> None:
    alice: Any = basic_account(ews)
    CalendarItem(account=alice, folder=alice.calendar, subject="Call", start=at(9), end=at(10)).save(
        send_meeting_invitations="SendToNone"
    )
    berlin = EWSTimeZone("Europe/Berlin")

    (view,) = alice.protocol.get_free_busy_info(
        accounts=[(alice, "Organizer", False)],
        start=EWSDateTime(2026, 5, 4, 0, 0, tzinfo=berlin),
        end=EWSDateTime(2026, 5, 5, 0, 0, tzinfo=berlin),
    )

    (event,) = view.calendar_events
    assert (event.start, event.end) == (at(9).astimezone(berlin), at(10).astimezone(berlin))
    assert event.start.hour == 11  # CEST, UTC+2


class CalbridgeLink(ExtendedProperty):
    property_set_id = "c11ff724-aa03-4555-9952-8fa248a11c3e"
    property_name = "calbridgeLink"
    property_type = "String"


@pytest.fixture
def link_property() -> Iterator[str]:
    CalendarItem.register("calbridge_link", CalbridgeLink)
    try:
        yield "calbridge_link"
    finally:
        CalendarItem.deregister("calbridge_link")


def test_given_extended_property_when_saving_updating_and_filtering_then_it_round_trips(
    ews: RunningEws, link_property: str
) -> None:
    acc: Any = basic_account(ews)
    linked = CalendarItem(account=acc, folder=acc.calendar, subject="Mirror", start=at(9), end=at(10))
    linked.calbridge_link = "google:abc"
    linked.save(send_meeting_invitations="SendToNone")
    CalendarItem(account=acc, folder=acc.calendar, subject="Own", start=at(11), end=at(12)).save(
        send_meeting_invitations="SendToNone"
    )

    fetched = next(iter(acc.fetch(ids=[linked], only_fields=["subject", "calbridge_link"])))
    found = [i.subject for i in acc.calendar.filter(calbridge_link="google:abc").only("subject")]
    linked.calbridge_link = "google:def"
    linked.save(update_fields=["calbridge_link"])
    refetched = next(iter(acc.fetch(ids=[linked], only_fields=["calbridge_link"])))

    assert fetched.calbridge_link == "google:abc"
    assert found == ["Mirror"]
    assert refetched.calbridge_link == "google:def"


def test_given_weekly_master_when_one_occurrence_is_moved_and_one_deleted_then_master_and_view_show_it(
    ews: RunningEws,
) -> None:
    acc: Any = basic_account(ews)
    master = CalendarItem(
        account=acc,
        folder=acc.calendar,
        subject="Weekly",
        start=at(9),
        end=at(10),
        recurrence=Recurrence(
            pattern=WeeklyPattern(interval=1, weekdays=[1, 3]), start=date(2026, 5, 4), number=6
        ),
    )
    master.save(send_meeting_invitations="SendToNone")

    second = master.occurrence(2)
    second.refresh()
    second.subject = "Moved once"
    second.start, second.end = second.start + timedelta(hours=2), second.end + timedelta(hours=2)
    second.save(update_fields=["subject", "start", "end"])
    third = master.occurrence(3)
    third.refresh()
    third.delete()
    master.refresh()
    view = list(acc.calendar.view(start=at(0), end=at(0, day=31)).only("subject", "start", "type"))

    assert master.type == "RecurringMaster"
    assert [(o.start, o.original_start) for o in master.modified_occurrences] == [
        (at(11, day=6), at(9, day=6))
    ]
    assert [d.start for d in master.deleted_occurrences] == [at(9, day=11)]
    assert [(i.subject, i.start.day, i.type) for i in view] == [
        ("Weekly", 4, "Occurrence"),
        ("Moved once", 6, "Exception"),
        ("Weekly", 13, "Occurrence"),
        ("Weekly", 18, "Occurrence"),
        ("Weekly", 20, "Occurrence"),
    ]


def test_given_a_series_when_its_owner_deletes_an_occurrence_in_outlook_then_ews_shows_it_deleted(
    ews: RunningEws,
) -> None:
    acc: Any = basic_account(ews)
    master = CalendarItem(
        account=acc,
        folder=acc.calendar,
        subject="Weekly",
        start=at(9),
        end=at(10),
        recurrence=Recurrence(
            pattern=WeeklyPattern(interval=1, weekdays=[1]), start=date(2026, 5, 4), number=3
        ),
    )
    master.save(send_meeting_invitations="SendToNone")
    changekey = master.changekey

    shown = ews.control.delete_occurrence("alice@example.com", master.id, 2)  # as Outlook does it
    master.refresh()
    view = list(acc.calendar.view(start=at(0), end=at(0, day=31)).only("subject", "start"))

    assert shown["deleted_occurrences"] == [2]
    assert [d.start for d in master.deleted_occurrences] == [at(9, day=11)]
    assert master.changekey != changekey, "the master changed: a sync sees it"
    assert [i.start.day for i in view] == [4, 18]


def test_given_throttling_rule_when_fail_fast_then_server_busy_carries_the_back_off(ews: RunningEws) -> None:
    ews.faults.operations["ews.GetFolder"] = OperationFaults(
        error_rate=1.0, error_status=500, retry_after=2.5
    )
    acc: Any = basic_account(ews)
    with pytest.raises(ErrorServerBusy) as caught:
        _ = acc.calendar
    assert caught.value.back_off == 2.5
    assert ews.counters.calls[("ews.GetFolder", 500)] == 1


def test_given_a_503_rule_when_fail_fast_then_exchangelib_reports_server_busy(ews: RunningEws) -> None:
    ews.faults.operations["ews.*"] = OperationFaults(error_rate=1.0, error_status=503)
    acc: Any = basic_account(ews)
    with pytest.raises(ErrorServerBusy):
        _ = acc.calendar
    assert ews.counters.calls[("ews.GetFolder", 503)] == 1


def test_given_back_off_longer_than_max_wait_when_fault_tolerant_then_exchangelib_gives_up(
    ews: RunningEws,
) -> None:
    ews.faults.operations["ews.GetFolder"] = OperationFaults(error_rate=1.0, error_status=500, retry_after=30)
    acc: Any = basic_account(ews, retry_policy=FaultTolerance(max_wait=5))
    with pytest.raises(RateLimitError) as caught:
        _ = acc.calendar
    assert caught.value.wait == 30


def test_given_oauth_client_over_https_when_calling_then_bearer_token_is_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from exchangelib import IMPERSONATION, Account, Configuration, FailFast, Identity, OAuth2Credentials
    from exchangelib.protocol import BaseProtocol
    from exchangelib.version import EXCHANGE_2016, Version

    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    world = sample_world()
    world.add_oauth_client("app-id", "app-secret")
    world.allow_impersonation("app-id", "alice@example.com")
    with ca.cert_pem.tempfile() as ca_path, serve_in_thread(world, ssl_context=server_ctx) as running:

        class LocalCAAdapter(requests.adapters.HTTPAdapter):
            def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
                super().cert_verify(conn, url, ca_path, cert)

        token_url = f"{running.base_url}/ews-login/tenant-1/oauth2/v2.0/token"

        class LocalOAuth2Credentials(OAuth2Credentials):
            @property
            def token_url(self) -> str:
                return token_url

        monkeypatch.setattr(BaseProtocol, "HTTP_ADAPTER_CLS", LocalCAAdapter)
        credentials = LocalOAuth2Credentials(
            client_id="app-id",
            client_secret="app-secret",
            tenant_id="tenant-1",
            identity=Identity(primary_smtp_address="alice@example.com"),
        )
        config = Configuration(
            service_endpoint=running.ews_url,
            credentials=credentials,
            version=Version(build=EXCHANGE_2016),
            retry_policy=FailFast(),
        )
        acc = Account("alice@example.com", config=config, autodiscover=False, access_type=IMPERSONATION)
        CalendarItem(account=acc, folder=acc.calendar, subject="Via OAuth", start=at(9), end=at(10)).save(
            send_meeting_invitations="SendToNone"
        )

        client_ctx = ssl.create_default_context()
        ca.configure_trust(client_ctx)
        control = EwsControlClient(running.base_url, ssl_context=client_ctx)
        assert [i["subject"] for i in control.calendar("alice@example.com")] == ["Via OAuth"]
        assert running.counters.calls[("ews.auth", 401)] == 0


def test_given_mailbox_when_autodiscovering_then_the_ews_url_and_version_come_back(ews: RunningEws) -> None:
    from exchangelib import BASIC, Configuration, Credentials, FailFast
    from exchangelib.autodiscover.protocol import AutodiscoverProtocol
    from exchangelib.version import EXCHANGE_2016

    protocol = AutodiscoverProtocol(
        config=Configuration(
            service_endpoint=f"{ews.base_url}/autodiscover/autodiscover.svc",
            credentials=Credentials("svc@example.com", "s3cret"),
            auth_type=BASIC,
            retry_policy=FailFast(),
        )
    )
    settings = protocol.get_user_settings(user="alice@example.com")

    assert settings.ews_url == ews.ews_url
    assert settings.version.api_version == EXCHANGE_2016.api_version()
