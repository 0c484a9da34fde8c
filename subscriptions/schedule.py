"""When to act on a subscription and what to do: pure functions of the row, the pair state, the
signing keys and now. No I/O, no clock; randomness only through an injected `random.Random`.

- Renew ahead of expiry: at `expires_at - margin - U(0, jitter)`, but never later than half
  of the remaining lifetime (a provider that granted less than asked is still renewed in time).
- A failed attempt is retried with exponential backoff and full jitter, capped.
- How a subscription is renewed is its provider's profile's `renewal`: a Google channel cannot
  be renewed (`RECREATE`: when due, a new channel is created and the old one stopped).
- A renewal in place (`IN_PLACE`, Graph's PATCH) keeps the `clientState`, so a subscription
  whose token was signed with a key that is no longer first, or whose token would expire before
  the renewed expiry plus TOKEN_GRACE, is recreated with a fresh token instead.
- A subscription that lapsed or that the provider removed is recreated and its calendar
  resynced: changes made in the gap were never notified.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from calbridge.events import Provider
from calbridge.providers.profile import ProviderProfile, Renewal
from calbridge.providers.registry import PROFILES, profile_for
from calbridge.tokens import TOKEN_GRACE

__all__ = [
    "Decision",
    "RenewalPolicy",
    "ResyncCause",
    "RowState",
    "SubscriptionAction",
    "SubscriptionRow",
    "backoff_until",
    "decide",
    "next_resync",
    "profile_lifetimes",
    "renew_time",
    "resync_due",
]


class RowState(StrEnum):
    PENDING = "pending"  # wanted, not (yet) subscribed on the provider
    ACTIVE = "active"
    FAILED = "failed"  # the last renewal failed; still live until expires_at
    REMOVED = "removed"  # the provider said it removed the subscription
    STOPPING = "stopping"  # no longer wanted (pair removed or paused, or a surplus copy)


class SubscriptionAction(StrEnum):
    NOTHING = "nothing"
    CREATE = "create"  # no subscription on the provider yet
    RENEW = "renew"  # extend in place (Graph PATCH)
    RECREATE = "recreate"  # a new subscription, then stop the old one
    STOP = "stop"  # stop on the provider and forget the row


class ResyncCause(StrEnum):
    """Why a RESYNC hint is published (the `cause` label of calbridge_resyncs_total)."""

    SCHEDULE = "reconcile"  # periodic reconciliation
    SUBSCRIBED = "subscribed"  # a calendar newly (re)watched: pair activated or resumed
    LAPSED = "lapsed"  # the subscription expired before it was renewed
    REMOVED = "removed"  # Graph subscriptionRemoved
    GONE = "gone"  # the provider answered 404/410 to a renewal
    RESIGNED = "resigned"  # recreated for a new token (key rotation, token lifetime)
    MISSED = "missed"  # Graph missed: notifications were dropped


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    """One row of the `subscriptions` table, as the decisions need it."""

    id: str
    calendar_id: str
    provider: Provider
    state: RowState
    provider_id: str | None = None
    expires_at: datetime | None = None
    renew_at: datetime | None = None
    resync_at: datetime | None = None
    failures: int = 0
    key_id: str | None = None
    token_expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RenewalPolicy:
    margin: timedelta = timedelta(hours=24)
    jitter: timedelta = timedelta(hours=2)
    lifetimes: Mapping[Provider, timedelta] = field(default_factory=lambda: profile_lifetimes(PROFILES))
    token_lifetime: timedelta = timedelta(days=30)  # renewed in place (Graph): PATCH cannot change it
    token_grace: timedelta = TOKEN_GRACE
    retry_base: timedelta = timedelta(minutes=1)
    retry_cap: timedelta = timedelta(hours=1)
    resync_interval: timedelta = timedelta(hours=6)
    resync_jitter: float = 0.1  # share of the interval drawn off each time

    def lifetime(self, provider: Provider) -> timedelta:
        return self.lifetimes[provider]

    def token_expiry(self, provider: Provider, now: datetime, expiry: datetime) -> datetime:
        """The expiry to sign into a new subscription's token.

        A subscription renewed in place (Graph) keeps its token through several renewals, so
        the token lives `token_lifetime`; any other (a Google channel, never renewed) is
        replaced with a new token each time, so its token outlives it by the grace.
        """
        floor = expiry + self.token_grace
        if profile_for(provider).renewal is not Renewal.IN_PLACE:
            return floor
        return max(floor, now + self.token_lifetime)


def profile_lifetimes(profiles: Iterable[ProviderProfile]) -> dict[Provider, timedelta]:
    """The lifetime to ask for, per provider whose subscriptions the renewer keeps."""
    return {
        profile.provider: profile.subscription_lifetime
        for profile in profiles
        if profile.kept_by_renewer and profile.subscription_lifetime is not None
    }


@dataclass(frozen=True, slots=True)
class Decision:
    action: SubscriptionAction
    reason: str  # for logs: why this action
    resync: ResyncCause | None = None  # publish a RESYNC after the action succeeds


def renew_time(expires_at: datetime, now: datetime, policy: RenewalPolicy, rng: random.Random) -> datetime:
    """When to renew a subscription that expires at `expires_at` (granted just now)."""
    lead: timedelta = policy.margin + policy.jitter * rng.random()
    half: timedelta = (expires_at - now) / 2
    return expires_at - (lead if lead < half else half)


def backoff_until(failures: int, now: datetime, policy: RenewalPolicy, rng: random.Random) -> datetime:
    """When to try again after `failures` consecutive failures (1 = the first)."""
    ceiling = min(policy.retry_cap, policy.retry_base * (1 << min(max(failures - 1, 0), 30)))
    # Full jitter between half and all of the step: replicas that failed together spread out.
    return now + ceiling * (0.5 + 0.5 * rng.random())


def next_resync(now: datetime, policy: RenewalPolicy, rng: random.Random) -> datetime:
    return now + policy.resync_interval * (1 - policy.resync_jitter * rng.random())


def resync_due(row: SubscriptionRow, now: datetime) -> bool:
    """A live subscription whose periodic reconciliation is due."""
    live = row.provider_id is not None and row.state in (RowState.ACTIVE, RowState.FAILED)
    return live and row.resync_at is not None and row.resync_at <= now


def decide(
    row: SubscriptionRow,
    *,
    wanted: bool,
    signing_kid: str,
    now: datetime,
    policy: RenewalPolicy,
    renewable: bool,
) -> Decision:
    """What to do with one subscription now.

    `wanted`: the calendar is a source of an active pair and this row is the one kept for it.
    `signing_kid`: the first configured key (the one new tokens are signed with).
    `renewable`: the provider renews in place (its profile's renewal is IN_PLACE: Graph);
    False for Google channels.
    """
    if not wanted or row.state == RowState.STOPPING:
        return Decision(SubscriptionAction.STOP, "not wanted")
    if row.provider_id is None:
        return Decision(SubscriptionAction.CREATE, "not subscribed", ResyncCause.SUBSCRIBED)
    if row.state == RowState.REMOVED:
        return Decision(SubscriptionAction.RECREATE, "removed by the provider", ResyncCause.REMOVED)
    if row.expires_at is None or row.expires_at <= now:
        return Decision(SubscriptionAction.RECREATE, "lapsed", ResyncCause.LAPSED)
    if row.renew_at is not None and row.renew_at > now:
        return Decision(SubscriptionAction.NOTHING, "not due")
    if not renewable:
        return Decision(SubscriptionAction.RECREATE, "rotate channel")  # overlap: nothing is missed
    if row.key_id != signing_kid:
        return Decision(SubscriptionAction.RECREATE, "signed with a retired key", ResyncCause.RESIGNED)
    renewed = now + policy.lifetime(row.provider)
    if row.token_expires_at is None or row.token_expires_at < renewed + policy.token_grace:
        return Decision(SubscriptionAction.RECREATE, "token would expire", ResyncCause.RESIGNED)
    return Decision(SubscriptionAction.RENEW, "due")
