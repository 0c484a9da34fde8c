"""The emulator's pure pieces: recurrence expansion, time zones, Prefer parsing, filters,
availability views and the invitation rule."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from sandbox.graph.content import body_preview, normalize_body, with_teams_block
from sandbox.graph.errors import GraphError
from sandbox.graph.ids import occurrence_id
from sandbox.graph.instances import Instance
from sandbox.graph.invitations import invitation_for
from sandbox.graph.notify import echo_delays
from sandbox.graph.prefs import applied, parse_prefs
from sandbox.graph.query import parse_expand, parse_filter
from sandbox.graph.recurrence import complete_recurrence, occurrences, validate_recurrence
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


def test_ids_are_exchange_shaped_repeatable_and_occurrence_ids_need_the_series_secret() -> None:
    def minted(seed: int) -> tuple[str, str]:
        world = GraphWorld(seed=seed)
        return world.new_event_ids(world.add_mailbox("alice@contoso.test"))

    immutable, rest = minted(5)

    assert rest.startswith("AAMkA") and immutable.startswith("AAkAL")
    assert rest.endswith("=") and "-" in rest and "_" in rest
    assert minted(5) == (immutable, rest) and minted(6) != (immutable, rest)
    one, other = (
        occurrence_id(b"salt-1", rest, "20261130T080000Z"),
        occurrence_id(b"salt-2", rest, "20261130T080000Z"),
    )
    assert one != other and one.startswith(rest[:40]) and "20261130" not in one
    assert one != occurrence_id(b"salt-1", rest, "20261207T080000Z")


def test_exchange_wraps_html_bodies_and_lowercases_their_type() -> None:
    wrapped = normalize_body({"contentType": "HTML", "content": "<p>a</p>\n<p>b</p>"})
    kept = normalize_body({"contentType": "Text", "content": "plain\ntext"})

    assert wrapped["contentType"] == "html" and kept == {"contentType": "text", "content": "plain\ntext"}
    assert wrapped["content"].startswith("<html>\r\n<head>\r\n<meta ")
    assert wrapped["content"].endswith("<body>\r\n<p>a</p>\r\n<p>b</p>\r\n</body>\r\n</html>\r\n")
    assert normalize_body(wrapped) == wrapped  # a whole document is kept as it is
    assert body_preview(wrapped) == "a\r\nb"


def test_the_teams_block_follows_the_description_inside_one_document() -> None:
    url = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0"
    body = with_teams_block({"contentType": "text", "content": "Bring <notes>"}, url, random.Random(1))

    assert body["contentType"] == "html" and body["content"].count("<html>") == 1
    assert body["content"].index("Bring &lt;notes&gt;") < body["content"].index("Microsoft Teams meeting")
    assert f'href="{url}"' in body["content"]


def test_recurrence_is_completed_as_graph_returns_it() -> None:
    monthly = {
        "pattern": {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["Thursday"], "index": "last"},
        "range": {"type": "EndDate", "startDate": "2026-11-26", "endDate": "2027-01-31"},
    }
    daily = {
        "pattern": {"type": "daily", "interval": 2},
        "range": {"type": "noEnd", "startDate": "2026-11-26"},
    }

    assert complete_recurrence(validate_recurrence(monthly), "Customized Time Zone") == {
        "pattern": {"type": "relativeMonthly", "interval": 1, "month": 0, "dayOfMonth": 0,
                    "daysOfWeek": ["thursday"], "firstDayOfWeek": "sunday", "index": "last"},
        "range": {"type": "endDate", "startDate": "2026-11-26", "endDate": "2027-01-31",
                  "recurrenceTimeZone": "Customized Time Zone", "numberOfOccurrences": 0},
    }  # fmt: skip
    completed = complete_recurrence(validate_recurrence(daily), "UTC")
    assert "daysOfWeek" not in completed["pattern"] and completed["range"]["endDate"] == "0001-01-01"


def test_an_all_day_series_steps_over_floating_dates_whatever_its_zone() -> None:
    rule = {
        "pattern": {"type": "daily", "interval": 1},
        "range": {"type": "numbered", "startDate": "2026-11-23", "numberOfOccurrences": 2},
    }
    first_day = datetime(2026, 11, 23, tzinfo=UTC)  # how an all-day start is stored

    found = occurrences(
        rule, first_day, "Pacific Standard Time", datetime(2027, 1, 1, tzinfo=UTC), floating=True
    )

    assert [o.isoformat() for o in found] == ["2026-11-23T00:00:00+00:00", "2026-11-24T00:00:00+00:00"]


def test_echoes_follow_creates_and_updates_only_and_repeat_under_a_seed() -> None:
    world = GraphWorld(update_echoes=(1, 3), create_echoes=(0, 1), echo_delay=(0.1, 0.2))

    plans = [
        [echo_delays(rng, world, kind) for kind in ("created", "updated", "deleted", "updated")]
        for rng in (random.Random("s"), random.Random("s"))
    ]

    assert plans[0] == plans[1]
    created, updated, deleted, again = plans[0]
    assert len(created) <= 1 and 1 <= len(updated) <= 3 and 1 <= len(again) <= 3 and deleted == []
    assert all(0.1 <= d <= 0.2 for d in [*created, *updated, *again]) and updated == sorted(updated)
