"""The emulator's pure pieces: recurrence expansion, time zones, Prefer parsing, filters,
availability views and the invitation rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sandbox.graph.errors import GraphError
from sandbox.graph.instances import Instance
from sandbox.graph.invitations import invitation_for
from sandbox.graph.prefs import applied, parse_prefs
from sandbox.graph.query import parse_expand, parse_filter
from sandbox.graph.recurrence import occurrences, validate_recurrence
from sandbox.graph.schedule import availability_view
from sandbox.graph.state import GraphWorld, StoredEvent
from sandbox.graph.timezones import parse_datetime_tz, resolve_zone
from sandbox.graph.writes import create_event, update_target

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)


def stored(fields: dict[str, object], start: datetime, end: datetime) -> StoredEvent:
    return StoredEvent(
        "AAkALg1", "AAMkAG1", "cal", fields, start, end, "UTC", "UTC", False, start, start, "ck", "uid"
    )


def test_a_weekly_series_keeps_its_local_hour_across_the_dst_change() -> None:
    rule = {
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["friday"], "firstDayOfWeek": "sunday"},
        "range": {"type": "numbered", "startDate": "2026-10-16", "numberOfOccurrences": 3},
    }
    start, _ = parse_datetime_tz(
        {"dateTime": "2026-10-16T09:00:00", "timeZone": "W. Europe Standard Time"}, "s"
    )

    found = occurrences(rule, start, "W. Europe Standard Time", datetime(2027, 1, 1, tzinfo=UTC))

    assert [o.isoformat() for o in found] == [
        "2026-10-16T07:00:00+00:00",
        "2026-10-23T07:00:00+00:00",
        "2026-10-30T08:00:00+00:00",  # Berlin left summer time on 25 October
    ]


def test_relative_monthly_last_weekday_and_end_date_range() -> None:
    rule = {
        "pattern": {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["thursday"], "index": "last"},
        "range": {"type": "endDate", "startDate": "2026-11-01", "endDate": "2027-01-31"},
    }
    start = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)

    found = occurrences(rule, start, "UTC", datetime(2030, 1, 1, tzinfo=UTC))

    assert [o.date().isoformat() for o in found] == ["2026-11-26", "2026-12-31", "2027-01-28"]


@pytest.mark.parametrize("name", ["Pacific Standard Time", "America/Los_Angeles", "UTC"])
def test_windows_and_cldr_iana_names_are_accepted(name: str) -> None:
    assert resolve_zone(name) is not None


def test_an_unknown_zone_is_refused_like_graph() -> None:
    with pytest.raises(GraphError) as refused:
        parse_datetime_tz({"dateTime": "2026-11-23T09:00:00", "timeZone": "Mars/Olympus"}, "start")
    assert refused.value.code == "TimeZoneNotSupportedException"


def test_prefer_headers_are_read_together_or_apart() -> None:
    prefs = parse_prefs(
        ['outlook.timezone="Tokyo Standard Time", odata.maxpagesize=5', 'IdType="ImmutableId"']
    )
    assert (prefs.zone_name, prefs.max_page_size, prefs.immutable_ids) == ("Tokyo Standard Time", 5, True)
    assert parse_prefs(['outlook.timezone="Nowhere"']).zone_name == "UTC"
    assert (
        applied(prefs) == 'outlook.timezone="Tokyo Standard Time", odata.maxpagesize=5, IdType="ImmutableId"'
    )
    assert applied(parse_prefs([])) is None


def test_extended_property_filter_matches_name_exactly_and_value_case_insensitively() -> None:
    pid = "String {66F5A359-4659-4830-9070-00047EC6AC6E} Name calbridgeSource"
    item = stored({}, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 1, tzinfo=UTC))
    item.extended[pid] = "Google:ABC"

    same = "string {66f5a359-4659-4830-9070-00047ec6ac6e} Name calbridgeSource"
    other_name = "String {66F5A359-4659-4830-9070-00047EC6AC6E} Name CALBRIDGESOURCE"
    by_value = parse_filter(
        f"singleValueExtendedProperties/Any(ep: ep/id eq '{same}' and ep/value eq 'google:abc')"
    )
    by_name = parse_filter(f"singleValueExtendedProperties/any(x: x/id eq '{other_name}')")

    assert by_value is not None and by_value.matches(item)
    assert by_name is not None and not by_name.matches(item)
    assert parse_expand(f"singleValueExtendedProperties($filter=id eq '{pid}')") == {pid.lower()}
    with pytest.raises(GraphError):
        parse_filter("subject eq 'x'")


def test_availability_view_takes_the_strongest_status_per_slot() -> None:
    base = datetime(2026, 11, 23, 9, tzinfo=UTC)

    def inst(status: str, start_min: int, end_min: int) -> Instance:
        shown = stored(
            {"showAs": status}, base + timedelta(minutes=start_min), base + timedelta(minutes=end_min)
        )
        return Instance(shown, None, shown, shown.start, shown.end, "singleInstance")

    view = availability_view(
        [
            inst("tentative", 0, 60),
            inst("busy", 30, 60),
            inst("oof", 120, 150),
            inst("workingElsewhere", 180, 200),
        ],
        base,
        base + timedelta(hours=4),
        timedelta(minutes=30),
    )
    assert view == "12003000"  # working elsewhere shows as 0, as Graph does


def test_only_meetings_the_mailbox_organizes_mail_attendees() -> None:
    world = GraphWorld()
    alice = world.add_mailbox("alice@contoso.test")
    at = datetime(2026, 11, 23, 9, tzinfo=UTC)
    bob = {"emailAddress": {"address": "bob@contoso.test"}}
    appointment = stored({}, at, at)
    meeting = stored({"attendees": [bob]}, at, at)
    their_meeting = stored({"attendees": [bob], "organizer": bob}, at, at)

    assert invitation_for("create", alice, "e", appointment) is None
    assert invitation_for("create", alice, "e", their_meeting) is None
    assert invitation_for("update", alice, "e", meeting, {"categories": ["x"]}) is None
    assert invitation_for("update", alice, "e", meeting, {"end": {}}) is not None
    assert invitation_for("delete", alice, "e", meeting) is not None


@pytest.mark.parametrize(
    "pattern",
    [
        {"type": "hourly", "interval": 1},
        {"type": "absoluteMonthly", "interval": 1},
        {"type": "weekly", "interval": 1, "daysOfWeek": ["someday"]},
    ],
)
def test_recurrences_graph_would_refuse_are_refused(pattern: dict[str, object]) -> None:
    with pytest.raises(GraphError) as refused:
        validate_recurrence({"pattern": pattern, "range": {"type": "noEnd", "startDate": "2026-11-23"}})
    assert refused.value.status == 400


def test_a_refused_patch_leaves_the_event_as_it_was() -> None:
    world = GraphWorld()
    alice = world.add_mailbox("alice@contoso.test")
    when = {"dateTime": "2026-11-23T09:00:00", "timeZone": "UTC"}
    item, _ = create_event(
        world, alice, alice.default_calendar, {"subject": "Kept", "start": when, "end": when}, NOW
    )
    target = Instance(item, None, item, item.start, item.end, "singleInstance")
    change_key = item.change_key
    # the subject is applied before the nameless extended property is refused
    refused = {"subject": "Lost", "singleValueExtendedProperties": [{"value": "x"}]}

    with pytest.raises(GraphError):
        update_target(world, alice, target, refused, NOW)

    assert (item.fields["subject"], item.change_key) == ("Kept", change_key)
