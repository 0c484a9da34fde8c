"""The processor's pure policies: what becomes of a failed hint, coalescing, shard assignment,
mailbox caps, dead-letter records and the CLI's argument parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import typer

from calbridge.bus.base import BackOff, Reject
from calbridge.bus.deadletter import ATTEMPTS_HEADER, ERROR_HEADER, FIRST_FAILURE_HEADER, LAST_FAILURE_HEADER
from calbridge.bus.names import CALENDAR_HEADER
from calbridge.errors import (
    AccessDenied,
    CalendarNotFound,
    ConnectionUnusable,
    CredentialRefused,
    CursorExpired,
    MalformedMessage,
    NotFound,
    PairPaused,
    PermanentProviderError,
    SecretKeyMismatch,
    Throttled,
    TransientProviderError,
)
from calbridge.events import ChangeEvent, ChangeKind, Provider, encode
from calbridge.pairs.policy import Side
from calbridge.translate.errors import UnknownTimeZone
from calbridge_app.cli.dlq import parse_since
from calbridge_app.cli.processor import parse_shards
from processor.assignment import assign_shards, shards_for
from processor.coalesce import PassLedger
from processor.consumer import change_outcome
from processor.cursors import wants_full_read
from processor.deadletters import record_of
from processor.echoes import is_known_version
from processor.failures import (
    CheckPair,
    FailPair,
    Fate,
    PausePair,
    decide,
    pair_in_reason,
    reason_with_pair,
)
from processor.instrumented import call_status
from processor.sync.actions import Outcome
from processor.sync.record import Link

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


# --- failure fates


@pytest.mark.parametrize(
    ("error", "fate"),
    [
        (Throttled(7.5), ("back off", 7.5)),
        (TransientProviderError("503"), ("retry", None)),
        (CursorExpired("410"), ("retry", None)),
        (NotFound("event"), ("retry", None)),
        (RuntimeError("bug"), ("retry", None)),
        (PermanentProviderError("400"), ("dead-letter", None)),
        (AccessDenied("403"), ("check the pair", None)),
        (CredentialRefused("AADSTS7000215"), ("check the pair", None)),
        (CalendarNotFound("404"), ("check the pair", None)),
        (MalformedMessage("bad"), ("dead-letter", None)),
        (UnknownTimeZone("Mars/Olympus"), ("dead-letter", None)),
        (PairPaused("p1", "mass deletion"), ("pause", "mass deletion")),
        (
            ConnectionUnusable("c1", "graph-b", "connection 'graph-b' ..."),
            ("fail", "connection 'graph-b' ..."),
        ),
        (SecretKeyMismatch("no connection decrypts"), ("retry", None)),
    ],
)
def test_given_a_failed_pass_when_deciding_then_each_error_has_its_fate(
    error: Exception, fate: tuple[str, object]
) -> None:
    assert _shape(decide(error, "why")) == fate


def test_given_a_negative_retry_after_when_deciding_then_the_delay_is_zero() -> None:
    assert _shape(decide(Throttled(-3), "why")) == ("back off", 0.0)


def test_given_a_fate_for_the_bus_then_it_carries_the_reason() -> None:
    fate = decide(PermanentProviderError("400"), "pair=p1 PermanentProviderError: 400")
    assert isinstance(fate, Reject) and fate.reason == "pair=p1 PermanentProviderError: 400"


def _shape(fate: Fate) -> tuple[str, object]:
    if isinstance(fate, PausePair):
        return ("pause", fate.reason)
    if isinstance(fate, CheckPair):
        return ("check the pair", None)
    if isinstance(fate, FailPair):
        return ("fail", fate.reason)
    if isinstance(fate, Reject):
        return ("dead-letter", None)
    if isinstance(fate, BackOff):
        return ("back off", fate.delay)
    return ("retry", fate.delay)


def test_given_a_dead_letter_reason_then_it_names_the_pair_and_the_pair_can_be_read_back() -> None:
    reason = reason_with_pair("pair-7", AccessDenied("403 from\n Graph"))
    assert reason == "pair=pair-7 AccessDenied: 403 from Graph"
    assert pair_in_reason(reason) == "pair-7"
    assert pair_in_reason("TransientProviderError: 503") is None


# --- coalescing


def test_given_a_pass_started_after_a_hint_arrived_then_the_hint_is_covered() -> None:
    ledger = PassLedger()
    ledger.record("cal", started=10.0)
    assert ledger.covers("cal", arrived=9.5)
    assert not ledger.covers("cal", arrived=10.5), "arrived after the pass started: it may be unread"
    assert not ledger.covers("other", arrived=1.0)


def test_given_an_older_pass_finishing_late_then_the_newer_start_is_kept() -> None:
    ledger = PassLedger()
    ledger.record("cal", started=10.0)
    ledger.record("cal", started=5.0)
    assert ledger.covers("cal", arrived=9.0)


def test_given_more_calendars_than_capacity_then_the_oldest_are_forgotten_safely() -> None:
    ledger = PassLedger(capacity=2)
    for number, calendar in enumerate(("a", "b", "c")):
        ledger.record(calendar, started=float(number + 10))
    assert not ledger.covers("a", arrived=0.0), "forgotten means one more pass, never a skipped one"
    assert ledger.covers("c", arrived=0.0)


# --- shard assignment


@pytest.mark.parametrize("members", [1, 2, 3, 5, 8, 9])
def test_given_any_members_then_every_shard_has_exactly_one_owner_and_the_split_is_even(members: int) -> None:
    names = [f"processor-{n}" for n in range(members)]
    assignment = assign_shards(range(8), names)
    owned = sorted(shard for shards in assignment.values() for shard in shards)
    assert owned == list(range(8))
    sizes = [len(shards) for shards in assignment.values()]
    assert max(sizes) - min(sizes) <= 1 or max(sizes) == -(-8 // members)


def test_given_the_same_members_in_any_order_then_every_replica_computes_the_same_split() -> None:
    assert assign_shards(range(8), ["b", "a", "c"]) == assign_shards(range(8), ["c", "b", "a"])
    assert shards_for("a", range(8), ["b", "c"]) == assign_shards(range(8), ["a", "b", "c"])["a"]


def test_given_a_replica_joins_then_most_shards_stay_where_they_were() -> None:
    before = assign_shards(range(32), ["a", "b", "c"])
    after = assign_shards(range(32), ["a", "b", "c", "d"])
    moved = sum(1 for name in "abc" for shard in before[name] if shard not in after[name])
    assert 0 < moved <= 16
    assert len(after["d"]) >= 7


# --- labels


def test_given_planner_outcomes_then_changes_are_counted_under_the_documented_labels() -> None:
    assert change_outcome(Outcome.CREATED) == "created"
    assert change_outcome(Outcome.SKIP_ECHO) == "echo"
    assert change_outcome(Outcome.SKIP_UNCHANGED) == "unchanged"
    assert change_outcome(Outcome.SKIP_FOREIGN_MIRROR) == "skipped"


def test_given_provider_errors_then_calls_are_labelled_by_status() -> None:
    assert call_status(None) == "ok"
    assert call_status(Throttled(1)) == "throttled"
    assert call_status(AccessDenied("x")) == "access_denied"
    assert call_status(PermanentProviderError("x")) == "permanent"
    assert call_status(ValueError()) == "error"


# --- dead-letter records


def test_given_a_dead_lettered_change_event_then_its_row_names_pair_calendar_error_and_times() -> None:
    event = ChangeEvent(provider=Provider.GOOGLE, calendar="calg", kind=ChangeKind.CHANGED)
    headers = {
        ERROR_HEADER: "pair=p1 AccessDenied: 403",
        ATTEMPTS_HEADER: 3,
        FIRST_FAILURE_HEADER: (NOW - timedelta(minutes=5)).isoformat(),
        LAST_FAILURE_HEADER: NOW.isoformat(),
        CALENDAR_HEADER: "calg",
    }
    row = record_of(encode(event), headers, "ignored", NOW)
    assert (row.id, row.pair_id, row.calendar_id, row.attempts) == (event.id, "p1", "calg", 3)
    assert row.first_failed_at == NOW - timedelta(minutes=5)
    assert row.last_failed_at == NOW


def test_given_an_undecodable_message_killed_by_the_delivery_limit_then_it_still_gets_a_row() -> None:
    row = record_of(b"not json", {"x-death": [{"reason": "delivery_limit"}]}, None, NOW)
    assert row.error == "RabbitMQ dead-lettered it: delivery_limit"
    assert len(row.id) == 32 and row.pair_id is None and row.first_failed_at == NOW


# --- CLI arguments


def test_given_shard_ranges_then_they_are_expanded_and_checked() -> None:
    assert parse_shards("0,2-4,2", 8) == [0, 2, 3, 4]
    assert parse_shards(None, 8) is None
    with pytest.raises(typer.BadParameter):
        parse_shards("7-9", 8)
    with pytest.raises(typer.BadParameter):
        parse_shards("one", 8)


def test_given_since_as_a_duration_or_a_timestamp_then_it_is_a_utc_instant() -> None:
    assert parse_since("2h", NOW) == NOW - timedelta(hours=2)
    assert parse_since("2026-03-01T08:00:00", NOW) == datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert parse_since(None, NOW) is None
    with pytest.raises(typer.BadParameter):
        parse_since("yesterday", NOW)


# --- echoes named by the hint


def _link(**fields: object) -> Link:
    values: dict[str, object] = {"origin": Side.GOOGLE, "google_id": "g1", "microsoft_id": "m1"}
    values.update(fields)
    return Link(**values)  # type: ignore[arg-type]


def _graph_hint(kind: ChangeKind, version: str | None = None, resource: str | None = "m1") -> ChangeEvent:
    return ChangeEvent(
        provider=Provider.GRAPH, calendar="calm", kind=kind, resource=resource, version=version
    )


def test_given_a_notification_of_the_version_we_wrote_then_it_is_known() -> None:
    link = _link(microsoft_version="ck42")
    assert is_known_version(_graph_hint(ChangeKind.UPDATED, 'W/"ck42"'), Side.MICROSOFT, link)
    assert is_known_version(_graph_hint(ChangeKind.CREATED, "ck42"), Side.MICROSOFT, link)


def test_given_a_newer_version_or_no_version_then_the_hint_is_not_known() -> None:
    link = _link(microsoft_version="ck42")
    assert not is_known_version(_graph_hint(ChangeKind.UPDATED, 'W/"ck43"'), Side.MICROSOFT, link)
    assert not is_known_version(_graph_hint(ChangeKind.UPDATED, None), Side.MICROSOFT, link)
    assert not is_known_version(_graph_hint(ChangeKind.CHANGED, "ck42"), Side.MICROSOFT, link)
    assert not is_known_version(_graph_hint(ChangeKind.UPDATED, "ck42", resource=None), Side.MICROSOFT, link)
    assert not is_known_version(_graph_hint(ChangeKind.UPDATED, "ck42"), Side.MICROSOFT, None)


def test_given_a_deletion_notice_then_it_is_known_only_for_a_tombstone() -> None:
    assert is_known_version(_graph_hint(ChangeKind.DELETED), Side.MICROSOFT, _link(deleted=True))
    assert not is_known_version(_graph_hint(ChangeKind.DELETED), Side.MICROSOFT, _link())
    assert not is_known_version(
        _graph_hint(ChangeKind.UPDATED, "ck42"), Side.MICROSOFT, _link(deleted=True, microsoft_version="ck42")
    )


def test_given_a_baseline_or_an_operator_resync_then_a_full_read_is_wanted() -> None:
    def resync(reason: str, kind: ChangeKind = ChangeKind.RESYNC) -> ChangeEvent:
        return ChangeEvent(provider=Provider.GOOGLE, calendar="calg", kind=kind, reason=reason)

    assert wants_full_read(resync("baseline"))
    assert wants_full_read(resync("resume"))
    assert wants_full_read(resync("operator"))
    assert not wants_full_read(resync("reconcile"))
    assert not wants_full_read(resync("baseline", ChangeKind.CHANGED))
