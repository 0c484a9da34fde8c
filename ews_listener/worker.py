"""One GetStreamingEvents connection, held by a thread: subscribe, stream, reopen, recover.

exchangelib is blocking, so each stream runs in its own thread and hands its results to the
listener's event loop through two callbacks (`publish`, `subscribed`). The loop of a stream:

- subscribe each calendar that has no live server subscription (`subscribe_to_streaming` on the
  mailbox's calendar, through impersonation), then publish a catch-up hint for every calendar
  that may have missed changes (first open after a claim, a dropped connection, a recreated
  subscription): the processor's SyncFolderItems pass from the stored sync state is the catch-up;
- open `GetStreamingEvents` for the group with a ConnectionTimeout below EWS's 30 minutes and
  turn every item event into a change event;
- `Closed` (the timeout) -> reopen at once: the server queues events for a live subscription
  between connections, so nothing is missed;
- a dropped connection -> reopen with backoff, and catch up;
- `ErrorSubscriptionNotFound` / invalid / expired -> recreate the subscriptions, and catch up;
- throttling (`ErrorServerBusy`, too many connections) -> wait (the server's back-off at least).
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from exchangelib.errors import (
    ErrorExceededConnectionCount,
    ErrorExpiredSubscription,
    ErrorInvalidSubscription,
    ErrorMissedNotificationEvents,
    ErrorServerBusy,
    ErrorSubscriptionNotFound,
)

from calbridge.events import ChangeEvent
from ews_listener.metrics import CATCH_UPS, EVENTS, OPEN_STREAMS, RECONNECTS
from ews_listener.notifications import RecentEvents, catch_up_hint, change_events, read_events
from ews_listener.targets import StreamKey, StreamTarget

__all__ = ["EVENT_TYPES", "StreamTuning", "StreamWorker"]

log = structlog.get_logger("calbridge.receiver.ews")

# The item events that can change a calendar (no NewMail, no FreeBusyChanged: the item events
# already say which item changed).
EVENT_TYPES = ("CreatedEvent", "ModifiedEvent", "DeletedEvent", "MovedEvent", "CopiedEvent")
_LOST = (ErrorSubscriptionNotFound, ErrorInvalidSubscription, ErrorExpiredSubscription)
_THROTTLED = (ErrorServerBusy, ErrorExceededConnectionCount)

Publish = Callable[[list[ChangeEvent]], None]  # thread-safe: hands a batch to the loop
OnSubscribed = Callable[[str, str | None], None]  # (our subscription id, server id) -> store it
OpenFolder = Callable[[str, str], Any]  # (connection id, mailbox) -> the calendar folder (blocking)


@dataclass(frozen=True, slots=True)
class StreamTuning:
    connection_minutes: int = 25  # ConnectionTimeout of each GetStreamingEvents, 1-29
    backoff_initial: float = 1.0
    backoff_max: float = 60.0


def _interrupt(service: Any) -> None:
    """Shut the held-open socket down so the reading thread's blocked read returns at once.

    Closing the response from here (exchangelib's `stop_streaming`) would wait for the TLS lock
    the reader holds until the next byte arrives; a socket shutdown takes no lock. The reader
    then fails, sees that it is stopping, and releases the connection itself."""
    response = getattr(service, "_streaming_response", None)
    connection = getattr(getattr(response, "raw", None), "_connection", None)
    sock = getattr(connection, "sock", None)
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed
        log.debug("ews_stream_shutdown_raced")


class StreamWorker:
    """The thread that holds one stream for a group of subscriptions."""

    def __init__(
        self,
        key: StreamKey,
        targets: Sequence[StreamTarget],
        server_ids: dict[str, str | None],
        *,
        open_folder: OpenFolder,
        publish: Publish,
        subscribed: OnSubscribed,
        tuning: StreamTuning,
    ) -> None:
        self.key = key
        self.targets = tuple(targets)
        self._server_ids = {t.subscription_id: server_ids.get(t.subscription_id) for t in targets}
        self._open_folder = open_folder
        self._publish = publish
        self._subscribed = subscribed
        self._tuning = tuning
        self._stopping = threading.Event()
        self._service: Any = None
        self._service_lock = threading.Lock()
        self._recent = RecentEvents()
        self._thread = threading.Thread(
            target=self._run, name=f"ews-stream-{self.targets[0].subscription_id}", daemon=True
        )

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end, and close its open response so a blocked read returns now."""
        self._stopping.set()
        with self._service_lock:
            service = self._service
        if service is not None:
            _interrupt(service)

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def server_ids(self) -> dict[str, str | None]:
        return dict(self._server_ids)

    # --- the thread

    def _run(self) -> None:
        catch_up: str | None = "claimed"  # nobody streamed these before this claim: catch up
        backoff = self._tuning.backoff_initial
        while not self._stopping.is_set():
            try:
                folder = self._open_folder(self.key.connection_id, self.key.anchor)
                self._subscribe_missing(folder)
                if catch_up is not None:
                    self._catch_up(catch_up)
                    catch_up = None
                self._stream(folder)
                if self._stopping.is_set():
                    return
                RECONNECTS.labels("closed").inc()
                backoff = self._tuning.backoff_initial
                continue  # Closed: reopen at once
            except _LOST as exc:
                cause, wait = "subscription_lost", backoff
                log.info("ews_subscription_lost", anchor=self.key.anchor, error=type(exc).__name__)
                self._server_ids = dict.fromkeys(self._server_ids)
                catch_up = cause
            except ErrorMissedNotificationEvents:
                cause, wait, catch_up = "missed", 0.0, "missed"
            except _THROTTLED as exc:
                cause = "throttled"
                wait = max(backoff, float(getattr(exc, "back_off", None) or 0.0))
            except (
                Exception
            ) as exc:  # connection drops (ChunkedEncodingError, TransportError, ...) and the rest
                if self._stopping.is_set():
                    return
                cause, wait, catch_up = "dropped", backoff, "dropped"
                log.info("ews_stream_dropped", anchor=self.key.anchor, error=type(exc).__name__)
            RECONNECTS.labels(cause).inc()
            if wait and self._stopping.wait(wait):
                return
            backoff = min(backoff * 2, self._tuning.backoff_max)

    def _subscribe_missing(self, folder: Any) -> None:
        for target in self.targets:
            if self._server_ids.get(target.subscription_id) is None:
                server_id = folder.subscribe_to_streaming(event_types=EVENT_TYPES)
                self._server_ids[target.subscription_id] = server_id
                self._subscribed(target.subscription_id, server_id)

    def _catch_up(self, cause: str) -> None:
        CATCH_UPS.labels(cause).inc(len(self.targets))
        self._publish([catch_up_hint(t.calendar_ref) for t in self.targets])

    def _stream(self, folder: Any) -> None:
        from exchangelib.services import GetStreamingEvents

        ids: dict[str, str] = {}
        for target in self.targets:
            server_id = self._server_ids[target.subscription_id]
            if server_id is not None:  # subscribed just before, in _subscribe_missing
                ids[server_id] = target.calendar_ref
        folder_ids = {t.calendar_ref: getattr(folder, "id", None) for t in self.targets}
        service = GetStreamingEvents(account=folder.account)
        with self._service_lock:
            self._service = service
        if self._stopping.is_set():
            return
        OPEN_STREAMS.inc()
        try:
            for notification in service.call(
                subscription_ids=list(ids), connection_timeout=self._tuning.connection_minutes
            ):
                if self._stopping.is_set():
                    return
                streamed = read_events(notification)
                events = change_events(
                    streamed,
                    ids,
                    folder_ids,
                    self._recent,
                    trace_id=uuid.uuid4().hex,
                )
                EVENTS.labels("published").inc(len(events))
                EVENTS.labels("skipped").inc(len(streamed) - len(events))
                if events:
                    self._publish(events)
        finally:
            OPEN_STREAMS.dec()
            with self._service_lock:
                self._service = None
