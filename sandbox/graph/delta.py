"""`calendarView/delta`: rounds of pages ending in a delta link, and what changed since.

A delta token remembers what the client has seen in its window (instance -> change key). The
next round compares the window now against it: new or changed instances come back whole, the
ones gone (deleted, cancelled, moved out of the window or the calendar) as
`{"id", "@removed": {"reason": "deleted"}}` -- and, as Graph does, so do events added or changed
*outside* the window since the last round (clients must ignore those). Tokens are opaque and
kept in memory; expired or forgotten ones answer 410 `SyncStateNotFound`, so the client restarts
with a full sync.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.graph.errors import GraphError
from sandbox.graph.instances import expand_all
from sandbox.graph.odata import typed_collection
from sandbox.graph.prefs import Prefs
from sandbox.graph.query import parse_window
from sandbox.graph.render import render_instance
from sandbox.graph.routing import VIEW, Call, Reply, Route, route

__all__ = ["ROUTES", "DeltaStore"]

DEFAULT_PAGE = 10


@dataclass
class Seen:
    change_key: str
    rest_id: str


@dataclass
class DeltaState:
    mailbox_id: str
    calendar_id: str
    window: tuple[datetime, datetime]
    seen: dict[str, Seen]  # instance identity (immutable-id based) -> what the client saw
    issued: datetime


@dataclass
class PendingRound:
    state: DeltaState  # what the delta link at the end of this round will remember
    rows: list[dict[str, Any]]
    issued: datetime


@dataclass
class DeltaStore:
    states: dict[str, DeltaState] = field(default_factory=dict)
    rounds: dict[str, PendingRound] = field(default_factory=dict)

    def expire(self, mailbox_id: str | None = None) -> int:
        """Forget delta and skip tokens (of one mailbox, or all): their next use answers 410."""
        doomed = [t for t, s in self.states.items() if mailbox_id in (None, s.mailbox_id)]
        doomed_rounds = [t for t, r in self.rounds.items() if mailbox_id in (None, r.state.mailbox_id)]
        for token in doomed:
            del self.states[token]
        for token in doomed_rounds:
            del self.rounds[token]
        return len(doomed) + len(doomed_rounds)


def _gone() -> GraphError:
    return GraphError(
        410, "SyncStateNotFound", "The sync state generation is not found. Please restart the sync."
    )


def _start_round(call: Call, previous: DeltaState | None) -> PendingRound:
    ctx = call.ctx
    mailbox = call.mailbox
    assert mailbox is not None
    if previous is None:
        calendar_id = (call.match.groupdict().get("calendar") if call.match else None) or (
            mailbox.default_calendar.id
        )
        if calendar_id not in mailbox.calendars:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        window = parse_window(call.query)
        seen: dict[str, Seen] = {}
    else:
        calendar_id, window, seen = previous.calendar_id, previous.window, previous.seen
    calendar = mailbox.calendars.get(calendar_id)
    items = calendar.events.values() if calendar is not None else []
    now_seen: dict[str, Seen] = {}
    in_window: set[str] = set()  # immutable ids of the items shown this round
    rows: list[dict[str, Any]] = []
    for inst in expand_all(items, *window):
        in_window.add(inst.item.immutable_id)
        change_key = inst.shown.change_key if inst.kind == "exception" else inst.item.change_key
        rest = render_instance(mailbox, inst, Prefs())["id"]
        now_seen[inst.identity] = Seen(change_key, rest)
        before = seen.get(inst.identity)
        if before is None or before.change_key != change_key:
            rows.append(render_instance(mailbox, inst, call.prefs))
    removed: dict[str, str] = {}  # identity -> id as this request shows ids
    for identity, before in seen.items():
        if identity not in now_seen:
            removed[identity] = identity if call.prefs.immutable_ids else before.rest_id
    if previous is not None:
        for item in items:
            if item.modified > previous.issued and item.immutable_id not in in_window:
                removed.setdefault(
                    item.immutable_id, item.immutable_id if call.prefs.immutable_ids else item.rest_id
                )
    rows.extend({"id": shown_id, "@removed": {"reason": "deleted"}} for shown_id in removed.values())
    now = ctx.clock.now()
    return PendingRound(DeltaState(mailbox.id, calendar_id, window, now_seen, now), rows, now)


def _serve(call: Call, pending: PendingRound) -> Reply:
    ctx = call.ctx
    size = call.prefs.max_page_size or DEFAULT_PAGE
    page, rest = pending.rows[:size], pending.rows[size:]
    base = call.link(call.path)
    out: dict[str, Any] = {"@odata.context": typed_collection(call, "event"), "value": page}
    if rest:
        token = ctx.world.new_hex(20)
        ctx.delta.rounds[token] = PendingRound(pending.state, rest, pending.issued)
        out["@odata.nextLink"] = f"{base}?$skiptoken={token}"
    else:
        token = ctx.world.new_hex(20)
        ctx.delta.states[token] = pending.state
        out["@odata.deltaLink"] = f"{base}?$deltatoken={token}"
    return Reply(200, out)


async def delta(call: Call) -> Reply:
    ctx = call.ctx
    assert call.mailbox is not None
    lowered = {k.lower(): v for k, v in call.query.items()}
    lifetime = ctx.world.delta_token_lifetime
    now = ctx.clock.now()
    if "$skiptoken" in lowered:
        pending = ctx.delta.rounds.pop(lowered["$skiptoken"], None)
        if pending is None or pending.state.mailbox_id != call.mailbox.id or now - pending.issued > lifetime:
            raise _gone()
        return _serve(call, pending)
    if "$deltatoken" in lowered:
        state = ctx.delta.states.get(lowered["$deltatoken"])
        if state is None or state.mailbox_id != call.mailbox.id or now - state.issued > lifetime:
            raise _gone()
        return _serve(call, _start_round(call, state))
    return _serve(call, _start_round(call, None))


ROUTES: list[Route] = [route("GET", VIEW + r"/delta(?:\(\))?", "events.delta", delta)]
