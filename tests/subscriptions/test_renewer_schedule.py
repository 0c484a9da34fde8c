"""The renewer's decisions, as pure functions: when to renew, what to do, what to watch."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from calbridge.events import LifecycleKind, Provider
from subscriptions.lifecycle import LifecycleStep, lifecycle_step
from subscriptions.mirrors import mirror_of
from subscriptions.reconcile import PairView, plan_reconcile, removals_ready, source_calendars
from subscriptions.schedule import (
    RenewalPolicy,
    ResyncCause,
    RowState,
    SubscriptionAction,
    SubscriptionRow,
    backoff_until,
    decide,
    next_resync,
    renew_time,
    resync_due,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
POLICY = RenewalPolicy()


def graph_row(**changes: object) -> SubscriptionRow:
    values: dict[str, object] = {
        "id": "s1",
        "calendar_id": "cal_m",
        "provider": Provider.GRAPH,
        "state": RowState.ACTIVE,
        "provider_id": "graph-sub-1",
        "expires_at": NOW + timedelta(hours=20),
        "renew_at": NOW - timedelta(minutes=1),
        "key_id": "k2",
        "token_expires_at": NOW + timedelta(days=25),
    }
    values.update(changes)
    return SubscriptionRow(**values)  # type: ignore[arg-type]


def decided(row: SubscriptionRow, *, wanted: bool = True, kid: str = "k2", renewable: bool = True) -> object:
    return decide(row, wanted=wanted, signing_kid=kid, now=NOW, policy=POLICY, renewable=renewable)


def test_given_a_due_graph_subscription_with_a_fresh_token_then_it_is_renewed_in_place() -> None:
    decision = decided(graph_row())
    assert decision.action == SubscriptionAction.RENEW and decision.resync is None


def test_given_a_subscription_not_yet_due_then_nothing_is_done() -> None:
    assert decided(graph_row(renew_at=NOW + timedelta(hours=1))).action == SubscriptionAction.NOTHING


def test_given_a_token_signed_with_a_retired_key_then_the_subscription_is_recreated_and_resynced() -> None:
    decision = decided(graph_row(key_id="k1"))
    assert decision.action == SubscriptionAction.RECREATE and decision.resync == ResyncCause.RESIGNED


def test_given_a_token_that_would_expire_before_the_renewed_expiry_plus_grace_then_it_is_recreated() -> None:
    # Renewal would reach NOW + ~7 days; the token must last 6 hours beyond that.
    short = NOW + POLICY.lifetime(Provider.GRAPH) + POLICY.token_grace - timedelta(minutes=1)
    assert decided(graph_row(token_expires_at=short)).action == SubscriptionAction.RECREATE
    enough = NOW + POLICY.lifetime(Provider.GRAPH) + POLICY.token_grace
    assert decided(graph_row(token_expires_at=enough)).action == SubscriptionAction.RENEW


def test_given_a_due_google_channel_then_it_is_rotated_without_a_resync() -> None:
    row = graph_row(provider=Provider.GOOGLE, token_expires_at=None)
    decision = decided(row, renewable=False)
    assert decision.action == SubscriptionAction.RECREATE and decision.resync is None


def test_given_a_lapsed_or_removed_subscription_then_it_is_recreated_and_its_calendar_resynced() -> None:
    lapsed = decided(graph_row(expires_at=NOW - timedelta(seconds=1)))
    removed = decided(graph_row(state=RowState.REMOVED, renew_at=NOW + timedelta(days=1)))
    assert (lapsed.action, lapsed.resync) == (SubscriptionAction.RECREATE, ResyncCause.LAPSED)
    assert (removed.action, removed.resync) == (SubscriptionAction.RECREATE, ResyncCause.REMOVED)


def test_given_a_placeholder_row_then_it_is_created_and_resynced() -> None:
    decision = decided(graph_row(state=RowState.PENDING, provider_id=None, expires_at=None))
    assert (decision.action, decision.resync) == (SubscriptionAction.CREATE, ResyncCause.SUBSCRIBED)


def test_given_an_unwanted_or_stopping_row_then_it_is_stopped_whatever_else_holds() -> None:
    assert decided(graph_row(), wanted=False).action == SubscriptionAction.STOP
    assert decided(graph_row(state=RowState.STOPPING)).action == SubscriptionAction.STOP


@given(
    lifetime_minutes=st.integers(min_value=1, max_value=60 * 24 * 30),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_renewal_always_falls_before_expiry_and_within_margin_plus_jitter(
    lifetime_minutes: int, seed: int
) -> None:
    expires = NOW + timedelta(minutes=lifetime_minutes)
    at = renew_time(expires, NOW, POLICY, random.Random(seed))
    assert NOW < at < expires
    assert expires - at <= POLICY.margin + POLICY.jitter
    # A long-lived subscription is renewed at least a margin ahead.
    if expires - NOW >= 2 * (POLICY.margin + POLICY.jitter):
        assert expires - at >= POLICY.margin


def test_jitter_spreads_renewals_of_subscriptions_made_together() -> None:
    rng = random.Random(3)
    expires = NOW + timedelta(days=7)
    times = {renew_time(expires, NOW, POLICY, rng) for _ in range(20)}
    assert len(times) == 20
    assert max(times) - min(times) > POLICY.jitter / 2


@given(failures=st.integers(min_value=1, max_value=200), seed=st.integers(min_value=0, max_value=2**32))
def test_backoff_grows_and_is_capped(failures: int, seed: int) -> None:
    wait = backoff_until(failures, NOW, POLICY, random.Random(seed)) - NOW
    assert POLICY.retry_base / 2 <= wait <= POLICY.retry_cap
    assert wait <= POLICY.retry_base * 2 ** min(failures - 1, 20)


def test_reconciliation_is_jittered_within_a_tenth_of_the_interval() -> None:
    rng = random.Random(5)
    for _ in range(50):
        wait = next_resync(NOW, POLICY, rng) - NOW
        assert POLICY.resync_interval * 0.9 <= wait <= POLICY.resync_interval


def test_resync_is_due_only_for_live_subscriptions() -> None:
    due = NOW - timedelta(seconds=1)
    assert resync_due(graph_row(resync_at=due), NOW)
    assert not resync_due(graph_row(resync_at=NOW + timedelta(seconds=1)), NOW)
    assert not resync_due(graph_row(resync_at=due, provider_id=None, state=RowState.PENDING), NOW)


def test_google_tokens_outlive_the_channel_and_graph_tokens_several_renewals() -> None:
    expiry = NOW + timedelta(days=7)
    assert POLICY.token_expiry(Provider.GOOGLE, NOW, expiry) == expiry + POLICY.token_grace
    assert POLICY.token_expiry(Provider.GRAPH, NOW, expiry) == NOW + POLICY.token_lifetime


def pair(pid: str, g: str, m: str, direction: str = "both", state: str = "active") -> PairView:
    return PairView(pid, g, m, direction, state)


def test_only_source_calendars_of_active_pairs_are_watched() -> None:
    pairs = [
        pair("p1", "g1", "m1"),
        pair("p2", "g2", "m2", "google-to-microsoft"),
        pair("p3", "g3", "m3", "microsoft-to-google"),
        pair("p4", "g4", "m4", state="paused"),
        pair("p5", "g5", "m5", state="removing"),
    ]
    assert source_calendars(pairs) == {"g1", "m1", "g2", "m3"}


def test_reconcile_creates_what_is_missing_and_stops_what_nothing_needs() -> None:
    pairs = [pair("p1", "g1", "m1"), pair("p2", "g2", "m2", state="paused")]
    rows = [
        graph_row(id="keep", calendar_id="m1"),
        graph_row(id="paused", calendar_id="m2"),
        graph_row(id="already", calendar_id="g2", state=RowState.STOPPING),
    ]
    watchable = {"g1": True, "m1": True, "g2": True, "m2": True}
    plan = plan_reconcile(pairs, rows, watchable)
    assert plan.create == ("g1",)
    assert plan.stop == ("paused",)


def test_reconcile_keeps_the_longest_lived_copy_when_a_calendar_has_two() -> None:
    rows = [
        graph_row(id="old", calendar_id="m1", expires_at=NOW + timedelta(days=1)),
        graph_row(id="new", calendar_id="m1", expires_at=NOW + timedelta(days=6)),
    ]
    plan = plan_reconcile([pair("p1", "g1", "m1", "microsoft-to-google")], rows, {"m1": True, "g1": True})
    assert plan.stop == ("old",) and plan.create == ()


def test_calendars_the_renewer_does_not_keep_are_left_to_their_listener() -> None:
    plan = plan_reconcile([pair("p1", "g1", "e1")], [], {"g1": True, "e1": False})
    assert plan.create == ("g1",) and plan.wanted == {"g1"}


def test_a_removing_pair_is_finished_once_its_own_subscriptions_are_gone() -> None:
    removing = pair("p1", "g1", "m1", state="removing")
    keeper = pair("p2", "g1", "m2", "google-to-microsoft")
    waiting = PairView("p3", "g3", "m3", "both", "removing", delete_mirrors=True)
    rows = [graph_row(id="shared", calendar_id="g1")]
    assert removals_ready([removing, keeper, waiting], rows) == ("p1", "p3")
    assert removals_ready([removing], rows) == ()  # g1 is still subscribed: stop it first


def test_a_links_mirror_is_the_copy_on_the_side_the_event_was_not_made_on() -> None:
    removing = pair("p1", "g1", "m1", state="removing")
    assert mirror_of(removing, "google", "gid", "mid") == ("m1", "mid")
    assert mirror_of(removing, "microsoft", "gid", "mid") == ("g1", "gid")
    assert mirror_of(removing, "google", "gid", None) is None  # never written


def test_lifecycle_events_map_to_renew_recreate_resync() -> None:
    assert lifecycle_step(LifecycleKind.REAUTHORIZATION_REQUIRED, known=True) == LifecycleStep.RENEW
    assert lifecycle_step(LifecycleKind.SUBSCRIPTION_REMOVED, known=True) == LifecycleStep.RECREATE
    assert lifecycle_step(LifecycleKind.SUBSCRIPTION_REMOVED, known=False) == LifecycleStep.RESYNC
    assert lifecycle_step(LifecycleKind.MISSED, known=False) == LifecycleStep.RESYNC
    assert lifecycle_step(LifecycleKind.REAUTHORIZATION_REQUIRED, known=False) == LifecycleStep.IGNORE
