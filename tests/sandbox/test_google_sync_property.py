"""Property: a client that full-syncs once and then follows sync tokens (paging through small
pages) always ends up with exactly the calendar's live events, whatever writes happen between."""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from multidict import MultiDict

from sandbox.clock import Clock
from sandbox.counters import Counters
from sandbox.google.state import GoogleUser, GoogleWorld
from sandbox.google.sync import ListQuery, SyncLedger, list_events

ALICE = "alice@example.com"


def _body(n: int) -> dict[str, Any]:
    return {
        "summary": f"s{n}",
        "start": {"dateTime": f"2026-12-{1 + n % 28:02d}T09:00:00Z"},
        "end": {"dateTime": f"2026-12-{1 + n % 28:02d}T10:00:00Z"},
    }


class SyncingClient(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world = GoogleWorld(Clock(), Counters(), users=[GoogleUser(ALICE, "Alice", "UTC")])
        self.ledger = SyncLedger()
        self.calendar = self.world.calendars[ALICE]
        self.mirror: dict[str, str] = {}  # what the client believes: id -> summary
        self.token: str | None = None
        self.counter = 0

    def _pages(self, **params: str) -> str:
        token = None
        while True:
            query = ListQuery.parse(
                MultiDict({"maxResults": "2", **params, **({"pageToken": token} if token else {})})
            )
            page = list_events(self.world, self.ledger, self.calendar, query, "owner")
            for item in page["items"]:
                if item["status"] == "cancelled":
                    self.mirror.pop(item["id"], None)
                else:
                    self.mirror[item["id"]] = item["summary"]
            token = page.get("nextPageToken")
            if token is None:
                return str(page["nextSyncToken"])

    @rule()
    def insert(self) -> None:
        self.counter += 1
        self.world.insert_event(self.calendar, _body(self.counter), ALICE, "none")

    @rule(pick=st.integers(min_value=0, max_value=50))
    def edit(self, pick: int) -> None:
        live = sorted(i for i, e in self.calendar.events.items() if e["status"] != "cancelled")
        if live:
            self.counter += 1
            event_id = live[pick % len(live)]
            self.world.update_event(
                self.calendar, event_id, {"summary": f"e{self.counter}"}, ALICE, "none", patch=True
            )

    @rule(pick=st.integers(min_value=0, max_value=50))
    def delete(self, pick: int) -> None:
        live = sorted(i for i, e in self.calendar.events.items() if e["status"] != "cancelled")
        if live:
            self.world.delete_event(self.calendar, live[pick % len(live)], "none")

    @rule()
    def sync(self) -> None:
        if self.token is None:
            self.mirror.clear()
            self.token = self._pages()
        else:
            self.token = self._pages(syncToken=self.token)

    @invariant()
    def after_a_sync_the_mirror_matches_the_calendar(self) -> None:
        if self.token is None:
            return
        self.token = self._pages(syncToken=self.token)
        truth = {i: e["summary"] for i, e in self.calendar.events.items() if e["status"] != "cancelled"}
        assert self.mirror == truth


TestSyncingClient = SyncingClient.TestCase
TestSyncingClient.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
