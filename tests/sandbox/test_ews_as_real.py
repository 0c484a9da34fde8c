"""Where the EWS emulator must be as demanding as Exchange: schema order in item answers, m:Items
in item errors, full CalendarEventDetails, the ServerVersionInfo header, the events a create
really streams, real-shaped ids, and NTLM (exchangelib's default) through pyspnego's acceptor.

Order and header facts are read from the raw SOAP, since exchangelib forgives them."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from ews_support import NS, children, ews_soap
from exchangelib import (
    IMPERSONATION,
    NTLM,
    Account,
    CalendarItem,
    Configuration,
    Credentials,
    EWSDateTime,
    EWSTimeZone,
    ExtendedProperty,
    FailFast,
)
from exchangelib.errors import UnauthorizedError
from exchangelib.properties import Attendee, Mailbox
from exchangelib.protocol import BaseProtocol
from exchangelib.recurrence import DailyPattern, Recurrence
from exchangelib.version import EXCHANGE_2016, Version

from sandbox.ews.ids import GOID_CLASS
from sandbox.ews.testing import RunningEws, basic_account, sample_world, serve_in_thread
from sandbox.server import Sandbox

pytestmark = pytest.mark.integration
UTC = EWSTimeZone("UTC")


class Topic(ExtendedProperty):  # type: ignore[misc]
    distinguished_property_set_id = "PublicStrings"
    property_name = "calbridgeTopic"
    property_type = "String"


@pytest.fixture
def ews() -> Iterator[RunningEws]:
    with serve_in_thread(sample_world()) as running:
        yield running


@pytest.fixture(autouse=True, scope="module")
def _topic_registered() -> Iterator[None]:
    CalendarItem.register("topic", Topic)
    yield
    CalendarItem.deregister("topic")


def at(hour: int, day: int = 6) -> EWSDateTime:
    return EWSDateTime(2026, 5, day, hour, 0, tzinfo=UTC)


ALL_PROPERTIES = (
    "<m:ItemShape><t:BaseShape>AllProperties</t:BaseShape><t:AdditionalProperties>"
    '<t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="calbridgeTopic" '
    'PropertyType="String"/></t:AdditionalProperties></m:ItemShape>'
)


def _meeting(acc: Any) -> CalendarItem:
    item = CalendarItem(
        account=acc,
        folder=acc.calendar,
        subject="Plan",
        location="Room 1",
        start=at(9),
        end=at(10),
        required_attendees=[Attendee(mailbox=Mailbox(email_address="bob@example.com"))],
        topic="roadmap",
    )
    item.save(send_meeting_invitations="SendToNone")
    return item


# -- schema order and m:Items --------------------------------------------------------------------


def test_given_an_item_when_got_found_or_synced_then_parent_folder_id_follows_item_id(
    ews: RunningEws,
) -> None:
    acc: Any = basic_account(ews)
    item = _meeting(acc)
    # a field set later by an update must still land in its schema place, not at the end
    item.sensitivity = "Private"
    item.save(update_fields=["sensitivity"], send_meeting_invitations="SendToNone")
    get = f'<m:GetItem>{ALL_PROPERTIES}<m:ItemIds><t:ItemId Id="{item.id}"/></m:ItemIds></m:GetItem>'
    find = (
        '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>'
        '<m:ParentFolderIds><t:DistinguishedFolderId Id="calendar"/></m:ParentFolderIds></m:FindItem>'
    )
    sync = (
        f'<m:SyncFolderItems>{ALL_PROPERTIES}<m:SyncFolderId><t:DistinguishedFolderId Id="calendar"/>'
        "</m:SyncFolderId><m:MaxChangesReturned>10</m:MaxChangesReturned></m:SyncFolderItems>"
    )

    got = ews_soap(ews, get).find(".//t:CalendarItem", NS)
    found_id = ews_soap(ews, find).find(".//t:CalendarItem/t:ItemId", NS)
    assert found_id is not None
    found = ews_soap(ews, get.replace(item.id, found_id.get("Id") or "")).find(".//t:CalendarItem", NS)
    synced = ews_soap(ews, sync).find(".//m:Changes/t:Create/t:CalendarItem", NS)

    for answer in (got, found, synced):
        assert answer is not None
        names = children(answer)
        assert names[:3] == ["ItemId", "ParentFolderId", "ItemClass"]
        assert names.index("Sensitivity") < names.index("ExtendedProperty") < names.index("UID")
        assert names.index("LastModifiedTime") < names.index("UID") < names.index("Start")


def test_given_an_unknown_item_when_getting_then_the_error_message_carries_an_empty_items(
    ews: RunningEws,
) -> None:
    reply = ews_soap(
        ews, f'<m:GetItem>{ALL_PROPERTIES}<m:ItemIds><t:ItemId Id="AAMkAGU="/></m:ItemIds></m:GetItem>'
    )

    message = reply.find(".//m:GetItemResponseMessage", NS)
    assert message is not None and message.get("ResponseClass") == "Error"
    assert children(message) == ["MessageText", "ResponseCode", "DescriptiveLinkKey", "Items"]
    assert message.findtext("m:ResponseCode", namespaces=NS) == "ErrorItemNotFound"
    items = message.find("m:Items", NS)
    assert items is not None and len(items) == 0


# -- free/busy details ---------------------------------------------------------------------------


def test_given_meetings_and_a_changed_occurrence_when_asking_detailed_free_busy_then_every_detail_is_there(
    ews: RunningEws,
) -> None:
    acc: Any = basic_account(ews)
    private = _meeting(acc)
    private.sensitivity, private.reminder_is_set = "Private", True
    private.save(update_fields=["sensitivity", "reminder_is_set"], send_meeting_invitations="SendToNone")
    series = CalendarItem(
        account=acc,
        folder=acc.calendar,
        subject="Standup",
        start=at(7, day=4),
        end=at(8, day=4),
        reminder_is_set=False,
        recurrence=Recurrence(pattern=DailyPattern(interval=1), start=at(7, day=4).date(), number=5),
    )
    series.save(send_meeting_invitations="SendToNone")
    occurrence = next(
        o for o in acc.calendar.view(start=at(0, day=5), end=at(23, day=5)) if o.subject == "Standup"
    )
    occurrence.subject = "Standup (moved)"
    occurrence.save(update_fields=["subject"], send_meeting_invitations="SendToNone")

    (view,) = acc.protocol.get_free_busy_info(
        accounts=[(acc, "Organizer", False)], start=at(0, day=4), end=at(23, day=6), requested_view="Detailed"
    )
    details = {e.details.subject: e.details for e in view.calendar_events}

    assert set(details) == {"Standup", "Standup (moved)", "Plan"}
    plan, moved, plain = details["Plan"], details["Standup (moved)"], details["Standup"]
    assert (plan.location, plan.is_meeting, plan.is_private, plan.is_recurring) == (
        "Room 1",
        True,
        True,
        False,
    )
    assert plan.is_reminder_set is True and plan.is_exception is False
    assert (moved.is_recurring, moved.is_exception, moved.is_reminder_set) == (True, True, False)
    assert (plain.is_recurring, plain.is_exception, plain.is_meeting) == (True, False, False)
    assert all(re.fullmatch(r"[0-9A-F]+", d.id) for d in details.values())
    assert plain.id == moved.id  # occurrences of one series share its entry id


# -- ServerVersionInfo ---------------------------------------------------------------------------


def test_given_any_operation_when_answering_then_the_soap_header_carries_server_version_info(
    ews: RunningEws,
) -> None:
    acc: Any = basic_account(ews)
    _meeting(acc)
    bodies = [
        "<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds>"
        '<t:DistinguishedFolderId Id="calendar"/></m:FolderIds></m:GetFolder>',
        f'<m:GetItem>{ALL_PROPERTIES}<m:ItemIds><t:ItemId Id="AAMkAGU="/></m:ItemIds></m:GetItem>',
        '<m:Subscribe><m:StreamingSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="calendar"/>'
        "</t:FolderIds><t:EventTypes><t:EventType>CreatedEvent</t:EventType></t:EventTypes>"
        "</m:StreamingSubscriptionRequest></m:Subscribe>",
    ]
    headers = []
    for body in bodies:
        header = ews_soap(ews, body).find("s:Header", NS)
        assert header is not None
        headers.append(header)
        info = header.find("t:ServerVersionInfo", NS)
        assert info is not None
        assert {k: info.get(k) for k in ("MajorVersion", "MinorVersion")} == {
            "MajorVersion": "15",
            "MinorVersion": "20",
        }
        assert (info.get("MajorBuildNumber") or "").isdigit() and (info.get("Version") or "").startswith(
            "V20"
        )

    # exchangelib reads the header as Exchange Online's: the build, and its own API version kept
    # (Online reports a schema name that is not valid in a request)
    learned = Version.from_soap_header(requested_api_version="Exchange2016", header=headers[0])
    assert (learned.build.major_version, learned.build.minor_version) == (15, 20)
    assert learned.api_version == EXCHANGE_2016.api_version()


# -- what a create streams and syncs -------------------------------------------------------------


def test_given_a_streaming_subscription_when_the_api_creates_then_created_modified_and_folder_events_arrive(
    ews: RunningEws,
) -> None:
    acc: Any = basic_account(ews)
    _, state = acc.calendar.sync_items(only_fields=["subject"]), acc.calendar.item_sync_state
    sub_id = acc.calendar.subscribe_to_streaming()
    item = _meeting(acc)

    events = [e for n in acc.calendar.get_streaming_events(sub_id, connection_timeout=1) for e in n.events]
    changes = [(kind, getattr(x, "subject", None)) for kind, x in acc.calendar.sync_items(sync_state=state)]

    item_events = [(type(e).__name__, e.item_id.id) for e in events if e.item_id is not None]
    folder_events = [(type(e).__name__, e.folder_id.id) for e in events if e.item_id is None]
    assert item_events == [("CreatedEvent", item.id), ("ModifiedEvent", item.id)]
    assert folder_events == [("ModifiedEvent", acc.calendar.id)]
    assert changes == [("create", "Plan")]  # a sync nets the create and its follow-up update


# -- ids -----------------------------------------------------------------------------------------


def test_given_items_when_created_then_ids_and_change_keys_are_real_base64_and_uid_a_global_object_id(
    ews: RunningEws,
) -> None:
    acc: Any = basic_account(ews)
    item = _meeting(acc)
    series = CalendarItem(
        account=acc,
        folder=acc.calendar,
        subject="Daily",
        start=at(7),
        end=at(8),
        recurrence=Recurrence(pattern=DailyPattern(interval=1), start=at(7).date(), number=3),
    )
    series.save(send_meeting_invitations="SendToNone")
    fetched = acc.calendar.get(id=item.id)
    occurrence = next(o for o in acc.calendar.view(start=at(0, day=7), end=at(23, day=7)))

    assert {"+", "/"} <= set(item.id) and item.id.endswith("=")
    assert {"+", "/"} <= set(item.changekey) and len(base64.b64decode(item.changekey)) == 30
    assert re.fullmatch(GOID_CLASS + r"[0-9A-F]{80}", fetched.uid)
    assert series.id not in occurrence.id  # an occurrence id cannot be derived from the master's
    assert acc.calendar.get(id=occurrence.id).subject == "Daily"
    edited = ews.control.edit_item("alice@example.com", item.id, subject="Renamed")  # quoted in the path
    assert edited["subject"] == "Renamed"


# -- NTLM ----------------------------------------------------------------------------------------


def ntlm_account(url: str, username: str, password: str, max_connections: int = 1) -> Any:
    config = Configuration(
        service_endpoint=url,
        credentials=Credentials(username, password),
        auth_type=NTLM,
        version=Version(build=EXCHANGE_2016),
        retry_policy=FailFast(),
        max_connections=max_connections,
    )
    return Account("alice@example.com", config=config, autodiscover=False, access_type=IMPERSONATION)


def test_given_exchangelibs_default_ntlm_auth_when_calling_then_one_handshake_serves_the_connection(
    ews: RunningEws,
) -> None:
    acc = ntlm_account(ews.ews_url, "svc@example.com", "s3cret")
    for hour in (9, 11, 13):
        CalendarItem(
            account=acc, folder=acc.calendar, subject=f"At {hour}", start=at(hour), end=at(hour + 1)
        ).save(send_meeting_invitations="SendToNone")
    subjects = sorted(i.subject for i in acc.calendar.all())

    assert subjects == ["At 11", "At 13", "At 9"]
    calls = ews.counters.calls
    assert calls[("ews.CreateItem", 200)] == 3
    assert calls[("ews.auth", 401)] == 2  # one handshake: the bare request and the challenge


def test_given_a_wrong_ntlm_password_when_calling_then_exchange_refuses(ews: RunningEws) -> None:
    acc = ntlm_account(ews.ews_url, "svc@example.com", "not-it")
    with pytest.raises(UnauthorizedError):
        list(acc.calendar.all())
    assert ews.counters.calls[("ews.CreateItem", 200)] == 0


def test_given_the_standalone_sandbox_when_using_its_service_account_over_ntlm_then_it_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with Sandbox.running(seed=3) as sb:
        microsoft = sb.info.microsoft
        ca_path = str(sb.ca_file)

        class SandboxCA(requests.adapters.HTTPAdapter):
            def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
                super().cert_verify(conn, url, ca_path, cert)

        monkeypatch.setattr(BaseProtocol, "HTTP_ADAPTER_CLS", SandboxCA)
        acc = ntlm_account(microsoft["ews_url"], microsoft["ews_username"], microsoft["ews_password"])
        CalendarItem(account=acc, folder=acc.calendar, subject="Over NTLM", start=at(9), end=at(10)).save(
            send_meeting_invitations="SendToNone"
        )

        assert [i.subject for i in acc.calendar.all()] == ["Over NTLM"]
        assert microsoft["ews_username"] == "svc@example.com" and len(microsoft["ews_password"]) >= 16
