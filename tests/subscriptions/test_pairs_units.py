"""The pure parts of pairs: addresses, choices, the state machine, retries of the access check,
connection choice, and how times and reasons read in the table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pair_fakes import CLIENT_SECRET, service_account

from calbridge.connections import Connection
from calbridge.errors import (
    AccessDenied,
    CalendarNotFound,
    CredentialRefused,
    Throttled,
    TransientProviderError,
)
from calbridge.events import Provider
from calbridge.pairs.access import check_with_retries, explain_access_failure
from calbridge.pairs.admin import NoConnection, choose_connection
from calbridge.pairs.spec import (
    CalendarSpec,
    Direction,
    PairSpecInvalid,
    Side,
    parse_calendar,
    parse_choice,
    source_sides,
)
from calbridge.pairs.states import InvalidTransition, PairAction, PairState, next_state
from calbridge.providers.base import CalendarAddress
from calbridge.providers.google.connection import GoogleConnection
from calbridge.providers.graph.connection import GraphConnection
from calbridge.store.connection_records import new_id
from calbridge_app.cli.humanize import relative
from calbridge_app.cli.pairs_listing import short_error


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Alice@Example.com", CalendarSpec("alice@example.com", "primary")),
        (
            " alice@example.com/team@group.calendar.google.com ",
            CalendarSpec("alice@example.com", "team@group.calendar.google.com"),
        ),
        ("alice@example.com/AAMkAD=/x", CalendarSpec("alice@example.com", "AAMkAD=/x")),
    ],
)
def test_calendar_addresses_parse_with_primary_as_the_default(text: str, expected: CalendarSpec) -> None:
    assert parse_calendar(text, Side.GOOGLE) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the Google user is empty"),
        ("alice", "'alice' is not an email address"),
        ("alice@example.com/", "empty calendar id"),
    ],
)
def test_bad_calendar_addresses_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(PairSpecInvalid, match=message):
        parse_calendar(text, Side.GOOGLE)


def test_a_bad_choice_lists_the_allowed_values() -> None:
    with pytest.raises(PairSpecInvalid, match="must be both\\|google-to-microsoft\\|microsoft-to-google"):
        parse_choice("sideways", Direction, "direction")
    assert parse_choice(" BOTH ", Direction, "direction") is Direction.BOTH


def test_sources_follow_the_direction() -> None:
    assert source_sides(Direction.BOTH) == (Side.GOOGLE, Side.MICROSOFT)
    assert source_sides(Direction.GOOGLE_TO_MICROSOFT) == (Side.GOOGLE,)
    assert source_sides(Direction.MICROSOFT_TO_GOOGLE) == (Side.MICROSOFT,)


def test_the_state_machine_allows_only_the_documented_moves() -> None:
    assert next_state(PairState.PENDING, PairAction.ACTIVATE) is PairState.ACTIVE
    assert next_state(PairState.ERROR, PairAction.ACTIVATE) is PairState.ACTIVE
    assert next_state(PairState.ACTIVE, PairAction.PAUSE) is PairState.PAUSED
    assert next_state(PairState.PAUSED, PairAction.RESUME) is PairState.ACTIVE
    assert next_state(PairState.ACTIVE, PairAction.FAIL) is PairState.ERROR  # the processor found it
    for state in (PairState.PENDING, PairState.ACTIVE, PairState.PAUSED, PairState.ERROR):
        assert next_state(state, PairAction.REMOVE) is PairState.REMOVING
    for state, action in [
        (PairState.PAUSED, PairAction.PAUSE),
        (PairState.ERROR, PairAction.PAUSE),
        (PairState.ACTIVE, PairAction.RESUME),
        (PairState.REMOVING, PairAction.ACTIVATE),
        (PairState.REMOVING, PairAction.REMOVE),
        (PairState.PAUSED, PairAction.ACTIVATE),
        (PairState.PAUSED, PairAction.FAIL),  # an operator's pause is never overridden
        (PairState.REMOVING, PairAction.FAIL),
    ]:
        with pytest.raises(InvalidTransition):
            next_state(state, action)


def test_ids_are_twelve_safe_characters_never_starting_like_an_option() -> None:
    ids = {new_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(len(i) == 12 and i[0].isalnum() and all(c.isalnum() or c in "-_" for c in i) for i in ids)


GOOGLE = GoogleConnection(id="g1", name="google", service_account=service_account())
GRAPH = GraphConnection(id="m1", name="graph", tenant_id="t", client_id="c", client_secret=CLIENT_SECRET)
GRAPH_EU = GraphConnection(
    id="m2", name="graph-eu", tenant_id="t2", client_id="c", client_secret=CLIENT_SECRET
)


def test_the_only_connection_of_a_provider_is_chosen_and_several_need_a_name() -> None:
    assert choose_connection([GOOGLE, GRAPH], Provider.GRAPH, None) is GRAPH
    assert choose_connection([GOOGLE, GRAPH, GRAPH_EU], Provider.GRAPH, "graph-eu") is GRAPH_EU
    with pytest.raises(NoConnection, match="2 graph connections exist \\(graph, graph-eu\\)"):
        choose_connection([GOOGLE, GRAPH, GRAPH_EU], Provider.GRAPH, None)
    with pytest.raises(NoConnection, match="calbridge connections add ews"):
        choose_connection([GOOGLE, GRAPH], Provider.EWS, None)
    with pytest.raises(NoConnection, match="no google connection named 'nope'"):
        choose_connection([GOOGLE], Provider.GOOGLE, "nope")


class Flaky:
    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    async def __call__(self, connection: Connection, calendar: CalendarAddress) -> None:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)


async def test_throttling_and_transient_failures_are_waited_out_a_few_times() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    checker = Flaky(Throttled(7), TransientProviderError("503"))
    await check_with_retries(checker, GRAPH, CalendarAddress("a@b.c"), sleep=sleep)
    assert checker.calls == 3 and waits == [7, 2.0]  # Retry-After, then backoff for attempt 2

    with pytest.raises(AccessDenied):  # not worth retrying
        await check_with_retries(Flaky(AccessDenied("403")), GRAPH, CalendarAddress("a@b.c"), sleep=sleep)
    with pytest.raises(Throttled):  # longer than we wait in a check
        await check_with_retries(Flaky(Throttled(600)), GRAPH, CalendarAddress("a@b.c"), sleep=sleep)


def test_times_read_as_a_person_says_them() -> None:
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    assert relative(now + timedelta(days=3, hours=4, minutes=10), now) == "in 3d 4h"
    assert relative(now - timedelta(minutes=2, seconds=5), now) == "2m ago"
    assert relative(now - timedelta(hours=5), now) == "5h ago"
    assert relative(now + timedelta(seconds=2), now) == "just now"
    assert relative(None, now) == "never"


def test_the_table_names_the_side_not_the_address_again() -> None:
    assert short_error("Google calendar a@b.c/x: calendar not found; check") == "G: calendar not found; check"
    assert short_error("Microsoft (ews) calendar m@b.c: access denied") == "M: access denied"


@pytest.mark.parametrize(
    ("error", "provider", "says", "never"),
    [
        (
            CredentialRefused(
                "microsoft refused the app's credential (AADSTS7000215: invalid client secret)"
            ),
            "graph",
            "calbridge connections add graph ... --replace",
            "Calendars.ReadWrite",
        ),
        (
            CredentialRefused("google refused the service account key"),
            "google",
            "create a new key",
            "domain-wide delegation",
        ),
        (AccessDenied("graph 403"), "graph", "Calendars.ReadWrite", "--replace"),
        (CalendarNotFound("graph 404"), "graph", "deleted, or is no longer shared", "Calendars.ReadWrite"),
    ],
)
def test_a_refused_credential_is_explained_as_a_credential_not_a_missing_permission(
    error: Exception, provider: str, says: str, never: str
) -> None:
    reason = explain_access_failure("Microsoft (graph) calendar bob@example.org", error, provider)
    assert says in reason and never not in reason
