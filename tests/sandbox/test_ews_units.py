"""Pure pieces of the EWS emulator: sync paging, sync states, time-zone offsets, recurrences, faults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from lxml import etree

from sandbox.ews.app import acting_mailbox
from sandbox.ews.availability import utc_offset
from sandbox.ews.operations import EwsFault
from sandbox.ews.operations.items import update_recipients
from sandbox.ews.operations.sync import InvalidSyncState, decode_state, encode_state, plan_page
from sandbox.ews.recurrence import expand
from sandbox.ews.soap import TNS, fault, parse_request
from sandbox.ews.state import Change, EwsWorld, Folder
from sandbox.ews.timezones import yearly_transitions


def changes(*entries: tuple[str, str]) -> list[Change]:
    return [Change(seq, item, kind) for seq, (item, kind) in enumerate(entries, start=1)]


def test_given_create_then_delete_when_planning_then_the_item_never_shows() -> None:
    page = plan_page(changes(("a", "create"), ("a", "delete"), ("b", "create")), 0, 10, {"b"})
    assert page.changes == [("b", "create")] and page.last and page.next_seq == 3


def test_given_more_items_than_the_page_when_planning_then_the_state_stops_before_the_next_item() -> None:
    log = changes(("a", "create"), ("b", "create"), ("a", "update"), ("c", "create"))
    first = plan_page(log, 0, 2, {"a", "b", "c"})
    second = plan_page(log, first.next_seq, 2, {"a", "b", "c"})
    assert first.changes == [("a", "create"), ("b", "create")] and not first.last
    assert second.changes == [("c", "create")] and second.last


def test_given_update_then_delete_when_planning_then_a_delete_is_reported() -> None:
    page = plan_page(changes(("a", "update"), ("a", "delete")), 0, 10, set())
    assert page.changes == [("a", "delete")]


def test_given_state_from_an_older_epoch_or_garbage_when_decoding_then_it_is_invalid() -> None:
    folder = Folder("F1", "calendar", "alice@example.com")
    state = encode_state(folder, 42)
    assert decode_state(folder, state) == 42
    folder.sync_epoch += 1
    for bad in (state, "not-base64!", "aGVsbG8="):
        with pytest.raises(InvalidSyncState):
            decode_state(folder, bad)


def zone(
    bias: int, std: tuple[int, int, int] | None = None, dst: tuple[int, int, int] | None = None
) -> etree._Element:
    elem = etree.Element(f"{{{TNS}}}TimeZone")
    etree.SubElement(elem, f"{{{TNS}}}Bias").text = str(bias)
    for name, rule, rule_bias in (("StandardTime", std, 0), ("DaylightTime", dst, -60)):
        if rule is None:
            continue
        sub = etree.SubElement(elem, f"{{{TNS}}}{name}")
        month, order, _ = rule
        for tag, value in (
            ("Bias", rule_bias),
            ("Time", "02:00:00"),
            ("DayOrder", order),
            ("Month", month),
            ("DayOfWeek", "Sunday"),
        ):
            etree.SubElement(sub, f"{{{TNS}}}{tag}").text = str(value)
    return elem


def test_given_central_european_rules_when_computing_offsets_then_summer_and_winter_differ() -> None:
    cet = zone(-60, std=(10, 5, 0), dst=(3, 5, 0))
    assert utc_offset(cet, datetime(2026, 1, 15, 12, tzinfo=UTC)) == timedelta(hours=1)
    assert utc_offset(cet, datetime(2026, 7, 15, 12, tzinfo=UTC)) == timedelta(hours=2)
    assert utc_offset(None, datetime(2026, 7, 15, tzinfo=UTC)) == timedelta(0)


def recurrence(pattern: str, range_: str) -> etree._Element:
    return etree.fromstring(f'<t:Recurrence xmlns:t="{TNS}">{pattern}{range_}</t:Recurrence>')


def test_given_weekly_pattern_in_berlin_when_expanding_then_wall_clock_time_survives_dst() -> None:
    rec = recurrence(
        "<t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Friday</t:DaysOfWeek></t:WeeklyRecurrence>",
        "<t:NumberedRecurrence><t:StartDate>2026-03-20</t:StartDate>"
        "<t:NumberOfOccurrences>3</t:NumberOfOccurrences></t:NumberedRecurrence>",
    )
    berlin = ZoneInfo("Europe/Berlin")
    first = datetime(2026, 3, 20, 9, tzinfo=berlin).astimezone(UTC)
    starts = expand(rec, first, berlin, datetime(2027, 1, 1, tzinfo=UTC))
    assert [s.astimezone(berlin).hour for s in starts] == [9, 9, 9]
    assert [s.hour for s in starts] == [8, 8, 7]  # summer time starts on 29 March


def test_given_relative_monthly_pattern_with_end_date_when_expanding_then_last_weekday_is_used() -> None:
    rec = recurrence(
        "<t:RelativeMonthlyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Thursday</t:DaysOfWeek>"
        "<t:DayOfWeekIndex>Last</t:DayOfWeekIndex></t:RelativeMonthlyRecurrence>",
        "<t:EndDateRecurrence><t:StartDate>2026-01-01</t:StartDate><t:EndDate>2026-03-31</t:EndDate>"
        "</t:EndDateRecurrence>",
    )
    starts = expand(
        rec, datetime(2026, 1, 1, 15, tzinfo=UTC), ZoneInfo("UTC"), datetime(2027, 1, 1, tzinfo=UTC)
    )
    assert [s.date().isoformat() for s in starts] == ["2026-01-29", "2026-02-26", "2026-03-26"]


def test_given_throttling_when_building_the_fault_then_back_off_sits_in_message_xml() -> None:
    root = etree.fromstring(fault("ErrorServerBusy", "busy", back_off_ms=1500))
    value = root.find(f".//{{{TNS}}}MessageXml/{{{TNS}}}Value")
    assert value is not None and value.get("Name") == "BackOffMilliseconds" and value.text == "1500"


def test_given_impersonation_header_when_parsing_then_the_mailbox_is_found() -> None:
    body = (
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="' + TNS.encode() + b'">'
        b"<s:Header><t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>Alice@Example.com"
        b"</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation></s:Header>"
        b'<s:Body><m:GetFolder xmlns:m="x"/></s:Body></s:Envelope>'
    )
    request = parse_request(body)
    assert (request.name, request.impersonated) == ("GetFolder", "alice@example.com")


def test_given_us_pacific_when_deriving_yearly_rules_then_second_sunday_of_march_and_first_of_november() -> (
    None
):
    rules = yearly_transitions(ZoneInfo("America/Los_Angeles"), 2026)
    assert [(r.to_daylight, r.month, r.weekday, r.occurrence) for r in rules] == [
        (True, 3, "Sunday", 2),
        (False, 11, "Sunday", 1),
    ]
    assert [r.local_time for r in rules] == [timedelta(hours=2), timedelta(hours=2)]
    assert yearly_transitions(ZoneInfo("Asia/Tokyo"), 2026) == []


def test_given_app_only_token_without_impersonation_when_resolving_then_exchange_demands_the_header() -> None:
    world = EwsWorld()
    world.add_mailbox("alice@example.com")
    world.allow_impersonation("app-id", "alice@example.com")

    assert (
        acting_mailbox(world, "app-id", "alice@example.com", bearer=True)
        is world.mailboxes["alice@example.com"]
    )
    with pytest.raises(EwsFault) as missing:
        acting_mailbox(world, "app-id", None, bearer=True)
    with pytest.raises(EwsFault) as denied:
        acting_mailbox(world, "other-app", "alice@example.com", bearer=True)
    assert missing.value.code == "ErrorInvalidExchangeImpersonationHeader"
    assert denied.value.code == "ErrorImpersonateUserDenied"


def test_given_update_modes_when_counting_mail_then_only_sending_modes_mail_and_changed_mode_is_narrow() -> (
    None
):
    before, after = {"bob@x.test", "carol@x.test"}, {"bob@x.test", "dave@x.test"}
    assert update_recipients("SendToNone", before, after, {"RequiredAttendees"}) == 0
    assert update_recipients("SendToAllAndSaveCopy", before, after, {"RequiredAttendees"}) == 3
    assert update_recipients("SendToChangedAndSaveCopy", before, after, {"RequiredAttendees"}) == 2
    assert update_recipients("SendOnlyToChanged", after, after, {"Subject"}) == 0
    assert update_recipients("SendOnlyToChanged", after, after, {"Start", "End"}) == 2
