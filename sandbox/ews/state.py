"""The EWS emulator's world: mailboxes, their folders and items, the change log behind
SyncFolderItems, streaming subscriptions, and who may impersonate whom."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from sandbox.clock import Clock
from sandbox.ews import ids

__all__ = ["Change", "EwsWorld", "Folder", "Mailbox", "StoredItem", "StreamEvent", "Subscription"]

CALENDAR = "calendar"
ROOT = "root"
DELETED_ITEMS = "deleteditems"


@dataclass
class StoredItem:
    """A calendar item as the mailbox holds it: the XML fields it was given, keyed by local name."""

    id: str
    changekey: str
    folder_id: str
    uid: str
    created: datetime
    modified: datetime
    fields: dict[str, etree._Element] = field(default_factory=dict)
    extended: dict[tuple[str, str, str], etree._Element] = field(default_factory=dict)
    # recurring masters only: occurrence index -> overriding fields / deleted indexes
    exceptions: dict[int, dict[str, etree._Element]] = field(default_factory=dict)
    deleted_occurrences: set[int] = field(default_factory=set)

    def text(self, name: str) -> str | None:
        elem = self.fields.get(name)
        return None if elem is None or elem.text is None else elem.text.strip()


@dataclass(frozen=True)
class Change:
    seq: int
    item_id: str
    kind: str  # create | update | delete


@dataclass
class Folder:
    id: str
    distinguished: str
    mailbox: str
    changekey: str = "AgAAAA=="
    items: dict[str, StoredItem] = field(default_factory=dict)
    log: list[Change] = field(default_factory=list)
    sync_epoch: int = 0  # bumped to expire every sync state issued so far


@dataclass
class OofSettings:
    """A mailbox's automatic replies, as GetUserOofSettings shows them."""

    state: str = "Disabled"  # Disabled | Enabled | Scheduled
    external_audience: str = "All"  # None | Known | All
    start: datetime | None = None  # UTC; Exchange keeps the last scheduled span
    end: datetime | None = None
    internal_reply: str = ""
    external_reply: str = ""


@dataclass
class Mailbox:
    address: str
    display_name: str
    folders: dict[str, Folder] = field(default_factory=dict)  # by distinguished name
    oof: OofSettings = field(default_factory=lambda: OofSettings())  # automatic replies (sandbox.ews.oof)

    @property
    def calendar(self) -> Folder:
        return self.folders[CALENDAR]


@dataclass(frozen=True)
class StreamEvent:
    kind: str  # CreatedEvent | ModifiedEvent | DeletedEvent | MovedEvent
    timestamp: datetime
    item_id: str
    changekey: str
    folder_id: str
    old_item_id: str | None = None
    old_folder_id: str | None = None
    of_folder: bool = False  # a folder's own event: item_id is the folder, folder_id its parent


@dataclass
class Subscription:
    id: str
    mailbox: str
    folder_ids: set[str]
    event_types: set[str]
    backend: str = ""  # the X-BackEndOverrideCookie value that reaches it
    pending: list[StreamEvent] = field(default_factory=list)
    waiters: set[asyncio.Event] = field(default_factory=set)  # one per open streaming connection
    cut: int = 0  # bumped to cut every open streaming connection
    dropped: bool = False

    def notify(self) -> None:
        for waiter in self.waiters:
            waiter.set()


@dataclass
class EwsWorld:
    """Everything the emulator knows. Tests build it, the app serves it, control routes change it."""

    seed: int = 0
    minute_seconds: float = 60.0  # length of one EWS "minute" (streaming ConnectionTimeout); tests shrink it
    clock: Clock = field(default_factory=Clock)
    basic_users: dict[str, str] = field(default_factory=dict)  # username -> password
    oauth_clients: dict[str, str] = field(default_factory=dict)  # client id -> secret
    bearer_tokens: dict[str, str] = field(default_factory=dict)  # access token -> principal
    impersonation: dict[str, set[str]] = field(default_factory=dict)  # principal -> mailboxes
    mailboxes: dict[str, Mailbox] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    max_subscriptions_per_mailbox: int = 20  # EWSMaxSubscriptions in Exchange Online
    max_streaming_connections: int = 10  # HangingConnectionLimit per account in Exchange Online
    # Exchange Online routes a subscription to one backend; without the affinity cookie a
    # GetStreamingEvents lands elsewhere and answers ErrorSubscriptionNotFound. Off by default.
    require_affinity: bool = False
    open_streams: Counter[str] = field(default_factory=Counter)  # principal -> open streaming connections
    rng: random.Random = field(init=False)
    _seq: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    # --- setup -----------------------------------------------------------------------------------
    def add_mailbox(self, address: str, display_name: str | None = None) -> Mailbox:
        address = address.lower()
        mailbox = Mailbox(address, display_name or address.split("@")[0].title())
        for name in (ROOT, CALENDAR, DELETED_ITEMS):
            mailbox.folders[name] = Folder(ids.folder_id(self.rng, address), name, address)
        self.mailboxes[address] = mailbox
        return mailbox

    def add_basic_user(self, username: str, password: str) -> None:
        self.basic_users[username.lower()] = password

    def add_oauth_client(self, client_id: str, secret: str) -> None:
        self.oauth_clients[client_id] = secret

    def add_bearer_token(self, token: str, principal: str) -> None:
        self.bearer_tokens[token] = principal.lower()

    def allow_impersonation(self, principal: str, *mailboxes: str) -> None:
        self.impersonation.setdefault(principal.lower(), set()).update(a.lower() for a in mailboxes)

    def may_impersonate(self, principal: str, mailbox: str) -> bool:
        return mailbox.lower() in self.impersonation.get(principal.lower(), set())

    # --- ids -------------------------------------------------------------------------------------
    def new_item_id(self, mailbox: str) -> str:
        return ids.item_id(self.rng, mailbox)

    def new_uid(self, created: datetime) -> str:
        return ids.global_object_id(self.rng, created)

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def new_changekey(self) -> str:
        return ids.change_key(self.rng, self.next_seq())

    # --- lookups ---------------------------------------------------------------------------------
    def folder_by_id(self, folder_id: str) -> Folder | None:
        for mailbox in self.mailboxes.values():
            for folder in mailbox.folders.values():
                if folder.id == folder_id:
                    return folder
        return None

    def find_item(self, item_id: str) -> tuple[Folder, StoredItem] | None:
        for mailbox in self.mailboxes.values():
            for folder in mailbox.folders.values():
                item = folder.items.get(item_id)
                if item is not None:
                    return folder, item
        return None

    # --- changes ---------------------------------------------------------------------------------
    def record(self, folder: Folder, item: StoredItem, kind: str) -> None:
        """Log a change for SyncFolderItems and queue streaming events for matching subscriptions.

        As Exchange does, every change to an item also modifies its folder (counts change), and a
        new calendar item is modified again straight after its creation (the calendar assistant
        stamps it): a create streams CreatedEvent, the folder's ModifiedEvent and the item's
        ModifiedEvent, and its sync log shows the follow-up update."""
        now = self.clock.now()
        folder.log.append(Change(self.next_seq(), item.id, kind))
        event_kind = {"create": "CreatedEvent", "update": "ModifiedEvent", "delete": "DeletedEvent"}[kind]
        self.publish(folder, StreamEvent(event_kind, now, item.id, item.changekey, folder.id))
        self.publish(folder, self._folder_modified(folder))
        if kind == "create":
            folder.log.append(Change(self.next_seq(), item.id, "update"))
            self.publish(folder, StreamEvent("ModifiedEvent", now, item.id, item.changekey, folder.id))

    def _folder_modified(self, folder: Folder) -> StreamEvent:
        root = self.mailboxes[folder.mailbox].folders[ROOT]
        return StreamEvent(
            "ModifiedEvent", self.clock.now(), folder.id, folder.changekey, root.id, of_folder=True
        )

    def record_move(self, source: Folder, target: Folder, old_id: str, item: StoredItem) -> None:
        source.log.append(Change(self.next_seq(), old_id, "delete"))
        target.log.append(Change(self.next_seq(), item.id, "create"))
        event = StreamEvent(
            "MovedEvent", self.clock.now(), item.id, item.changekey, target.id, old_id, source.id
        )
        self.publish(source, event)
        self.publish(target, event, skip_folder=source.id)
        self.publish(source, self._folder_modified(source))
        self.publish(target, self._folder_modified(target))

    def publish(self, folder: Folder, event: StreamEvent, skip_folder: str | None = None) -> None:
        for sub in self.subscriptions.values():
            if sub.mailbox != folder.mailbox or folder.id not in sub.folder_ids:
                continue
            if skip_folder is not None and skip_folder in sub.folder_ids:
                continue  # already told through the source folder
            if event.kind.removesuffix("Event") not in sub.event_types:
                continue
            sub.pending.append(event)
            sub.notify()
