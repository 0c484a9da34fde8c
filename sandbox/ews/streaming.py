"""GetStreamingEvents: a held-open response of concatenated SOAP envelopes, one per batch of
notifications, ended by an envelope with ConnectionStatus Closed when ConnectionTimeout runs out.

A stream lasts up to 30 (scaled) minutes, and aiohttp's shutdown waits for running handlers: so
the server, when it shuts down, ends every open stream with ConnectionStatus Closed at once
(`track_streams`), as it would when the timeout ran out, instead of holding the shutdown open."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web
from lxml import etree

from sandbox.ews.items import format_dt
from sandbox.ews.operations import Context, EwsFault
from sandbox.ews.soap import envelope, error_message, m, response, success_message, t
from sandbox.ews.state import StreamEvent, Subscription
from sandbox.faults import Faults

__all__ = ["OPEN_STREAMS", "OpenStreams", "get_streaming_events", "track_streams"]

OPERATION = "GetStreamingEvents"
MAX_SUBSCRIPTIONS_PER_REQUEST = 200
MAX_CONNECTION_MINUTES = 30


class OpenStreams:
    """The wake-up events of the streams an app is serving, and whether it is shutting down."""

    def __init__(self) -> None:
        self.waiters: set[asyncio.Event] = set()
        self.closing = False

    async def close_all(self, app: web.Application) -> None:
        """on_shutdown: wake every open stream; each sees `closing` and ends its response."""
        self.closing = True
        for waiter in self.waiters:
            waiter.set()


OPEN_STREAMS: web.AppKey[OpenStreams] = web.AppKey("ews_open_streams", OpenStreams)


def track_streams(app: web.Application) -> None:
    """Make `app`'s shutdown end its open streams instead of waiting for their timeout."""
    streams = OpenStreams()
    app[OPEN_STREAMS] = streams
    app.on_shutdown.append(streams.close_all)


def _event_element(event: StreamEvent) -> etree._Element:
    elem = etree.Element(t(event.kind))
    etree.SubElement(elem, t("TimeStamp")).text = format_dt(event.timestamp)
    etree.SubElement(
        elem, t("FolderId" if event.of_folder else "ItemId"), Id=event.item_id, ChangeKey=event.changekey
    )
    etree.SubElement(elem, t("ParentFolderId"), Id=event.folder_id, ChangeKey="AQAAAA==")
    if event.old_item_id is not None:
        etree.SubElement(elem, t("OldItemId"), Id=event.old_item_id, ChangeKey=event.changekey)
    if event.old_folder_id is not None:
        etree.SubElement(elem, t("OldParentFolderId"), Id=event.old_folder_id, ChangeKey="AQAAAA==")
    if event.of_folder and event.kind == "ModifiedEvent":
        etree.SubElement(elem, t("UnreadCount")).text = "0"  # calendar items are never unread
    return elem


def _status(status: str, batches: list[tuple[str, list[StreamEvent]]]) -> bytes:
    children: list[etree._Element] = []
    if batches:
        holder = etree.Element(m("Notifications"))
        for sub_id, events in batches:
            note = etree.SubElement(holder, m("Notification"))
            etree.SubElement(note, t("SubscriptionId")).text = sub_id
            note.extend(_event_element(e) for e in events)
        children.append(holder)
    conn = etree.Element(m("ConnectionStatus"))
    conn.text = status
    children.append(conn)
    return envelope(response(OPERATION, [success_message(OPERATION, children)]))


def _error(code: str, text: str) -> bytes:
    return envelope(response(OPERATION, [error_message(OPERATION, code, text)]))


def _take(subs: list[Subscription], faults: Faults) -> list[tuple[str, list[StreamEvent]]]:
    """Drain pending events, applying the configured drop/duplicate/reorder mishaps."""
    plan = faults.notification_plan("ews")
    batches = []
    for sub in subs:
        events: list[StreamEvent] = []
        for event in sub.pending:
            events.extend([event] * faults.notification_copies("ews"))
        sub.pending.clear()
        if plan.reorder:
            faults.rng.shuffle(events)
        if events:
            batches.append((sub.id, events))
    return batches


def _requested(op: etree._Element) -> tuple[list[str], int]:
    ids_holder = op.find(m("SubscriptionIds"))
    ids = [(e.text or "").strip() for e in (ids_holder if ids_holder is not None else [])]
    try:
        minutes = int(op.findtext(m("ConnectionTimeout")) or "0")
    except ValueError:
        minutes = 0
    if not 1 <= minutes <= MAX_CONNECTION_MINUTES or not 1 <= len(ids) <= MAX_SUBSCRIPTIONS_PER_REQUEST:
        # The schema bounds ConnectionTimeout to 1..30 and SubscriptionIds to 200.
        raise EwsFault(
            "ErrorSchemaValidation", "The request failed schema validation: ConnectionTimeout is 1 to 30."
        )
    return ids, minutes


async def get_streaming_events(
    request: web.Request, ctx: Context, op: etree._Element, faults: Faults
) -> web.StreamResponse:
    ids, minutes = _requested(op)
    subs = [ctx.world.subscriptions.get(i) for i in ids]
    live = [s for s in subs if s is not None and s.mailbox == ctx.mailbox.address]
    if ctx.world.require_affinity and any(s.backend != ctx.affinity for s in live):
        live = []  # landed on a backend that does not hold the subscription
    if len(live) != len(ids):
        return _plain(_error("ErrorSubscriptionNotFound", "The specified subscription was not found."))
    if ctx.world.open_streams[ctx.principal] >= ctx.world.max_streaming_connections:
        return _plain(
            _error("ErrorExceededConnectionCount", "You have exceeded the available concurrent connections.")
        )
    ctx.world.open_streams[ctx.principal] += 1
    try:
        return await _serve(request, ctx, live, minutes, faults)
    finally:
        ctx.world.open_streams[ctx.principal] -= 1


async def _serve(
    request: web.Request, ctx: Context, live: list[Subscription], minutes: int, faults: Faults
) -> web.StreamResponse:
    stream = web.StreamResponse(status=200, headers={"Content-Type": "text/xml; charset=utf-8"})
    await stream.prepare(request)
    waiter = asyncio.Event()
    cuts = {s.id: s.cut for s in live}
    for sub in live:
        sub.waiters.add(waiter)
    streams = request.app[OPEN_STREAMS]
    streams.waiters.add(waiter)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + minutes * ctx.world.minute_seconds
    try:
        await stream.write(_status("OK", _take(live, faults)))
        while (remaining := deadline - loop.time()) > 0 and not streams.closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter.wait(), timeout=remaining)
            waiter.clear()
            if streams.closing:
                break
            if any(s.cut != cuts[s.id] for s in live):
                if request.transport is not None:
                    request.transport.close()  # cut mid-stream: no Closed envelope
                return stream
            if any(s.dropped for s in live):
                await stream.write(_error("ErrorSubscriptionNotFound", "The subscription was removed."))
                await stream.write_eof()
                return stream
            batches = _take(live, faults)
            if batches:
                low, high = faults.notification_plan("ews").delay
                if high > 0:
                    await asyncio.sleep(faults.rng.uniform(low, high))
                await stream.write(_status("OK", batches))
        await stream.write(_status("Closed", _take(live, faults)))
        await stream.write_eof()
    except ConnectionResetError:
        pass  # the client went away; a streaming subscription has no replay, as in Exchange
    finally:
        streams.waiters.discard(waiter)
        for sub in live:
            sub.waiters.discard(waiter)
    return stream


def _plain(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="text/xml", charset="utf-8")
