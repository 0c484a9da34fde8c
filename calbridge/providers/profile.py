"""A provider's profile: its facts and limits, and how to open what the kernel needs of it.

The rest of calbridge asks a provider's profile instead of branching on the provider: the
token code and length limit (`tokens`), how a subscription is kept alive (`subscriptions`),
how a new connection's credential is tried (`connections add`), push or streaming, the
free/busy batch size, window and timeout (`freebusy`), the per-mailbox concurrency cap
(`registry.Registry`), the request quotas (`budget`), the connection type (`connections`), and
the openers of its adapter, free/busy source, meeting source and subscription provider. Each
slice declares its own in `calbridge/providers/<name>/profile.py`; `registry.PROFILES` lists
them, one line per provider.

The openers are plain functions that import the slice's SDK-backed modules when first called,
so that reading a profile (the receiver verifying a token, the planner batching free/busy
calls) never loads google-api-python-client, msgraph-sdk or exchangelib. Openers take the
process's settings as an argument; nothing here reads the environment.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from calbridge.events import Provider
from calbridge.model import MeetingProvider
from calbridge.pairs.policy import Side

if TYPE_CHECKING:
    from calbridge.clock import Clock
    from calbridge.connections import Connection
    from calbridge.freebusy.batching import ProviderLimits
    from calbridge.freebusy.source import FreeBusySource
    from calbridge.meetings.source import MeetingSource
    from calbridge.providers.base import CalendarProvider
    from calbridge.providers.limits import AdapterShares
    from calbridge.providers.quota import Quota
    from calbridge.providers.subscriptions import SubscriptionProvider
    from calbridge.settings import Settings

__all__ = ["DeliveryMode", "ProviderProfile", "Renewal", "TokenFormat"]


class DeliveryMode(StrEnum):
    """How the provider tells calbridge that a calendar changed."""

    PUSH = "push"  # it posts notifications to the receiver (a route and a parser there)
    STREAMING = "streaming"  # calbridge holds a stream open to it (the EWS listener)


class Renewal(StrEnum):
    """How a subscription is kept alive past its lifetime."""

    IN_PLACE = "in-place"  # the renewer extends it (Graph PATCH); its token cannot change
    RECREATE = "recreate"  # the renewer opens a new one, then stops the old (Google channels)
    LISTENER = "listener"  # the EWS listener holds its streaming subscriptions; the renewer never does


@dataclass(frozen=True, slots=True)
class TokenFormat:
    """The signed token a push provider echoes back on every notification (`calbridge.tokens`)."""

    code: str  # the one letter after the scheme version: "1g." Google, "1m." Graph
    max_length: int  # the longest token the provider accepts (channel token 256, clientState 128)
    bound_to_channel: bool  # the MAC covers the channel id, chosen before the subscription exists


@dataclass(frozen=True, slots=True)
class ProviderProfile:
    """One provider's facts, limits and openers; see each field's comment for who reads it."""

    provider: Provider
    side: Side  # which side of a pair its calendars sit on (pairs: the connection flag to name)
    delivery: DeliveryMode  # push: a receiver route; streaming: the EWS listener (docs/providers.md)
    renewal: Renewal  # subscriptions.schedule / renewer: renew in place, recreate, or leave alone
    subscription_lifetime: timedelta | None  # asked for per subscription (renewer); None: listener
    notification_path: str | None  # the receiver's route for its pushes (renewer: the address)
    lifecycle_path: str | None  # the receiver's route for subscription lifecycle events, if any
    token: TokenFormat | None  # calbridge.tokens; None: no token travels (streaming)
    freebusy: ProviderLimits  # freebusy.batching: addresses per call, longest window per call
    freebusy_timeout: float  # freebusy.orchestrate: seconds per lookup, unless settings say
    mailbox_concurrency: int | None  # registry: requests in flight per mailbox; None: no cap
    quotas: tuple[Quota, ...]  # registry -> budget: request quotas shared by every replica
    access_fix: str  # pairs.access: what to grant when the provider denies access
    credential_fix: str  # pairs.access: what to do when it refuses the connection's own credential
    connection_type: type[Connection]  # connections: rebuilds a stored connection
    open_adapter: Callable[[Connection, Settings, AdapterShares], CalendarProvider]
    open_freebusy: Callable[[Connection, Settings, str | None], FreeBusySource]  # (.., mailbox)
    open_subscriptions: Callable[[Connection, Settings, Clock], SubscriptionProvider] | None
    # connections add: one cheap authenticated call (a token request) with a connection's
    # credential, (connection, timeout) -> what it proved; raises CredentialRefused naming the fix
    verify_credentials: Callable[[Connection, float], Awaitable[str]]
    open_meetings: Callable[[Connection, Settings], MeetingSource]  # the meeting list, out of office
    # Settings that override a fact for this deployment (a lifetime, a cap); as declared if none.
    configure: Callable[[ProviderProfile, Settings], ProviderProfile] = lambda profile, settings: profile
    # Meetings its API makes on request (a keyword in a location; docs/hybrid.md).
    meeting_hosts: frozenset[MeetingProvider] = frozenset()
    # Whether an organiser's own event can be updated without mailing its attendees (Google:
    # sendUpdates=none; EWS: SendToNone; Graph: no such switch). Where it cannot, the planner
    # never writes a mirror's edit or deletion back onto a meeting with attendees (sync rule 23).
    silent_organizer_updates: bool = False

    def tuned(self, settings: Settings) -> ProviderProfile:
        """This profile with the deployment's settings applied (see `configure`)."""
        return self.configure(self, settings)

    def but(self, **changes: object) -> ProviderProfile:
        """A copy with some fields replaced (`configure` functions, tests plugging a fake opener)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    @property
    def kept_by_renewer(self) -> bool:
        """Whether the renewer creates, renews and stops its subscriptions."""
        return self.renewal is not Renewal.LISTENER
