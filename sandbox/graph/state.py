"""The Graph emulator's world: one tenant, one app registration, mailboxes with calendars.

Everything a Graph call or a person's edit changes lives here, in memory. Ids and tokens come
from one seeded RNG so a run is repeatable. Changes are announced to `listeners` (the notifier),
so writers never need to know who is subscribed.
"""

from __future__ import annotations

import random
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sandbox.graph import ids

__all__ = ["Calendar", "Change", "GraphWorld", "Mailbox", "StoredEvent", "Subscription"]


@dataclass
class StoredEvent:
    """One item in a calendar folder: a single event or a series master (with its exceptions)."""

    immutable_id: str
    rest_id: str  # the default-format id; it changes when the item moves to another folder
    calendar_id: str
    fields: dict[str, Any]  # client-settable JSON properties other than those below
    start: datetime  # UTC; for all-day events, midnight UTC of the first day
    end: datetime
    start_zone: str
    end_zone: str
    is_all_day: bool
    created: datetime
    modified: datetime
    change_key: str
    ical_uid: str
    transaction_id: str | None = None
    # How the creating client recorded its zone, when that is not a zone name: Outlook's
    # `tzone://Microsoft/Custom`, `tzone://Microsoft/Utc` or `Customized Time Zone`. Shown as
    # originalStart/EndTimeZone (and a series' recurrenceTimeZone); times still follow start_zone.
    zone_label: str | None = None
    salt: bytes = b""  # keys the digests in occurrence ids (`ids.occurrence_id`)
    occurrence_index: dict[str, str] = field(default_factory=dict)  # occurrence id shown -> key
    recurrence: dict[str, Any] | None = None
    extended: dict[str, str] = field(default_factory=dict)  # singleValueExtendedProperties id -> value
    exceptions: dict[str, StoredEvent] = field(default_factory=dict)  # occurrence key -> modified copy
    cancelled: set[str] = field(default_factory=set)  # occurrence keys deleted from the series


@dataclass
class Calendar:
    id: str
    name: str
    is_default: bool = False
    events: dict[str, StoredEvent] = field(default_factory=dict)  # by immutable id
    change_key: str = ""


@dataclass
class Mailbox:
    id: str  # the user's object id (a GUID)
    address: str
    display_name: str
    calendars: dict[str, Calendar] = field(default_factory=dict)
    transactions: dict[str, str] = field(default_factory=dict)  # transactionId -> immutable id
    # mailboxSettings/automaticRepliesSetting as Graph shows it (sandbox.graph.mailbox_settings)
    automatic_replies: dict[str, Any] = field(default_factory=dict)
    # mailboxSettings.timeZone: the zone the owner chose in Outlook, as Outlook stores it (a
    # Windows name, e.g. "Eastern Standard Time"); set with the control route that adds mailboxes.
    time_zone: str = "UTC"

    @property
    def default_calendar(self) -> Calendar:
        return next(c for c in self.calendars.values() if c.is_default)

    def find(self, event_id: str) -> StoredEvent | None:
        """The stored item whose immutable or default-format id is `event_id`."""
        for calendar in self.calendars.values():
            hit = calendar.events.get(event_id)
            if hit is not None:
                return hit
            for item in calendar.events.values():
                if item.rest_id == event_id:
                    return item
        return None

    def locate(self, event_id: str) -> tuple[StoredEvent, str | None] | None:
        """The item an id names, and the occurrence key when it names one of its occurrences.

        Occurrence ids are opaque: only ids this mailbox has shown are known (`instances`
        registers each one it renders), and one made with an item's old default-format id (before
        a move) no longer resolves.
        """
        item = self.find(event_id)
        if item is not None:
            return item, None
        for candidate in self.items():
            key = candidate.occurrence_index.get(event_id)
            if key is not None and event_id in occurrence_ids(candidate, key):
                return candidate, key
        return None

    def items(self) -> Iterator[StoredEvent]:
        for calendar in self.calendars.values():
            yield from calendar.events.values()


def occurrence_ids(item: StoredEvent, key: str) -> tuple[str, str]:
    """Occurrence `key` of `item` as (immutable-format id, default-format id)."""
    return (
        ids.occurrence_id(item.salt, item.immutable_id, key),
        ids.occurrence_id(item.salt, item.rest_id, key),
    )


@dataclass
class Subscription:
    id: str
    resource: str  # as the client wrote it
    mailbox_id: str
    calendar_id: str | None  # None: every calendar of the mailbox (`/users/{id}/events`)
    change_types: frozenset[str]
    notification_url: str
    lifecycle_url: str | None
    client_state: str | None
    expiration: datetime
    immutable_ids: bool
    creator_id: str


@dataclass(frozen=True)
class Change:
    """An item changed in a mailbox; `kind` is Graph's changeType (created, updated, deleted)."""

    mailbox_id: str
    calendar_id: str
    immutable_id: str
    rest_id: str
    kind: str
    etag: str


@dataclass
class GraphWorld:
    tenant_id: str = "9f3c2a51-7d4e-4b8a-9c1f-2e6d5a7b8c90"
    client_id: str = "5d1e8c3a-2b7f-4e9d-8a6c-1f0b3e5d7a92"
    client_secret: str = "sandbox-graph-secret"
    # Every secret the app registration holds now (Entra keeps several at once, so a rotation can
    # overlap); empty means just `client_secret`. Removing one refuses it at the token endpoint,
    # while tokens already issued with it stay valid until they expire, as in Entra.
    client_secrets: list[str] = field(default_factory=list)
    seed: int = 0
    # An application access policy: addresses (or user ids) the app may reach; None means all.
    allowed_mailboxes: set[str] | None = None
    token_lifetime: timedelta = timedelta(hours=1)
    delta_token_lifetime: timedelta = timedelta(days=7)
    max_subscription_minutes: int = 10080
    mailbox_concurrency: int = 4
    throttle_retry_after: int = 1  # seconds, sent with MailboxConcurrency 429s
    # Requests per app and mailbox over a sliding window (Outlook: 10,000 per 10 minutes).
    mailbox_requests: int | None = 10_000
    mailbox_request_window: timedelta = timedelta(minutes=10)
    validation_timeout: float = 10.0
    notification_timeout: float = 3.0  # an endpoint slower than this has failed the delivery
    notification_retry_delays: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)
    # TLS for webhook POSTs: None verifies against the system store (as Graph does); pass an
    # SSLContext trusting a test CA, or False for a loopback receiver with a throwaway cert.
    notification_ssl: ssl.SSLContext | bool | None = None
    max_subscriptions_per_mailbox: int = 1000
    # Exchange Online sends several `updated` notifications for one edit (2 to 4 are reported),
    # and follows a create with updates. Extra `updated` notifications per update / per create
    # are drawn from these ranges (inclusive, seeded), each after `echo_delay` seconds.
    update_echoes: tuple[int, int] = (1, 3)
    create_echoes: tuple[int, int] = (0, 2)
    echo_delay: tuple[float, float] = (0.05, 0.4)
    # A kindness real Graph does not have, for a local demo only: accept plain-http webhook URLs
    # whose host is loopback. Off unless named (`GraphWorld(plain_http_loopback_webhooks=True)`,
    # the control route `PUT settings`, `Sandbox.start(plain_http_webhooks=True)`).
    plain_http_loopback_webhooks: bool = False
    mailboxes: dict[str, Mailbox] = field(default_factory=dict)  # by user id
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    tokens: dict[str, datetime] = field(default_factory=dict)  # access token -> expiry
    listeners: list[Callable[[Change], None]] = field(default_factory=list)
    rng: random.Random = field(init=False)
    _by_address: dict[str, str] = field(init=False, default_factory=dict)  # lower address -> id

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        if not self.client_secrets:
            self.client_secrets = [self.client_secret]

    def accepts_secret(self, secret: object) -> bool:
        return isinstance(secret, str) and secret in self.client_secrets

    # ids -----------------------------------------------------------------------------------
    def new_hex(self, nbytes: int = 16) -> str:
        return self.rng.getrandbits(nbytes * 8).to_bytes(nbytes, "big").hex()

    def new_guid(self) -> str:
        h = self.new_hex(16)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"

    def new_event_ids(self, mailbox: Mailbox) -> tuple[str, str]:
        """A fresh (immutable id, default-format id) pair, shaped like Exchange's (`ids`)."""
        return ids.event_ids(self.rng, mailbox.id)

    def new_change_key(self) -> str:
        return ids.change_key(self.rng)

    def new_salt(self) -> bytes:
        return self.rng.getrandbits(128).to_bytes(16, "big")

    # mailboxes -----------------------------------------------------------------------------
    def add_mailbox(self, address: str, display_name: str | None = None) -> Mailbox:
        mailbox = Mailbox(self.new_guid(), address, display_name or address.split("@")[0].title())
        calendar = Calendar(ids.calendar_id(self.rng, mailbox.id), "Calendar", is_default=True)
        calendar.change_key = self.new_change_key()
        mailbox.calendars[calendar.id] = calendar
        self.mailboxes[mailbox.id] = mailbox
        self._by_address[address.lower()] = mailbox.id
        return mailbox

    def add_calendar(self, mailbox: Mailbox, name: str) -> Calendar:
        calendar = Calendar(ids.calendar_id(self.rng, mailbox.id), name)
        calendar.change_key = self.new_change_key()
        mailbox.calendars[calendar.id] = calendar
        return calendar

    def mailbox(self, key: str) -> Mailbox | None:
        """By user id or address (case-insensitive), as `/users/{id | userPrincipalName}` takes."""
        found = self.mailboxes.get(key)
        if found is not None:
            return found
        lowered = key.lower()
        indexed = self._by_address.get(lowered)
        if indexed is not None and indexed in self.mailboxes:
            return self.mailboxes[indexed]
        # not indexed (a mailbox put in the dict directly, or an unknown user): look through
        return next((m for m in self.mailboxes.values() if m.address.lower() == lowered), None)

    def may_access(self, mailbox: Mailbox) -> bool:
        if self.allowed_mailboxes is None:
            return True
        allowed = {a.lower() for a in self.allowed_mailboxes}
        return mailbox.address.lower() in allowed or mailbox.id.lower() in allowed

    # changes -------------------------------------------------------------------------------
    def announce(self, change: Change) -> None:
        for listener in list(self.listeners):
            listener(change)
