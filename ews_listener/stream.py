"""The EWS streaming listener: GetStreamingEvents for every active EWS pair, as change events.

Run by `calbridge ews-listener`, a second container of the receiver deployment (docs/ews.md).
Every `refresh` seconds it:

1. loads the EWS calendars of active pairs and makes sure each has a `subscriptions` row
   (provider `ews`) and a lease row;
2. renews the leases it holds and claims free or expired ones (ews_listener/leases.py), so with
   several replicas each subscription is streamed by exactly one of them;
3. groups its subscriptions into streams (ews_listener/targets.py `plan_streams`) and starts,
   restarts or stops one thread per stream (ews_listener/worker.py).

Threads hand batches of change events to this loop, which publishes them with publisher confirms
(one publish per notification envelope, more when they queue up). A batch the broker does not
confirm is not dropped: its calendars are kept as catch-up hints (RESYNC, `ews-catch-up`) and
published again with backoff until confirmed; if this process dies first, the next holder of the
lease publishes a catch-up when it claims it. Either way the processor's SyncFolderItems pass
from the stored sync state brings in whatever the stream carried.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.events import ChangeEvent, ChangeKind, Provider
from calbridge.pairs.admin import HintPublisher
from calbridge.store.tables import subscriptions
from ews_listener.leases import claim_leases, ensure_leases, release_leases, renew_leases
from ews_listener.metrics import HELD, PUBLISH_FAILURES
from ews_listener.notifications import catch_up_hint
from ews_listener.targets import (
    StreamKey,
    StreamTarget,
    ensure_subscription_rows,
    load_targets,
    plan_streams,
    record_subscribed,
)
from ews_listener.worker import OpenFolder, StreamTuning, StreamWorker

__all__ = ["EwsListener", "ListenerTuning", "new_holder_id"]

log = structlog.get_logger("calbridge.receiver.ews")


def new_holder_id() -> str:
    """Who holds a lease: host, process and a random part (a restarted process is a new holder)."""
    return f"{socket.gethostname()[:80]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True, slots=True)
class ListenerTuning:
    refresh: float = 15.0  # seconds between rounds of load / renew / claim / reconcile
    lease_seconds: float = 60.0  # a lease not renewed for this long is anyone's
    max_subscriptions: int = 200  # leases one listener holds at most
    max_streams: int = 10  # streams per EWS connection at most; leases beyond them are let go
    stream: StreamTuning = field(default_factory=StreamTuning)
    # A publish while the broker is away fails at once without touching the network, so trying
    # every few seconds costs nothing and resumes within that long after the broker is back.
    publish_backoff_max: float = 5.0
    resync_every: float | None = None  # seconds between reconciliation hints per held calendar


class EwsListener:
    def __init__(
        self,
        engine: AsyncEngine,
        bus: HintPublisher,
        open_folder: OpenFolder,
        tuning: ListenerTuning = ListenerTuning(),
        *,
        holder: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        before_round: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._before_round = before_round
        self.holder = holder or new_holder_id()
        self._engine = engine
        self._bus = bus
        self._open_folder = open_folder
        self._tuning = tuning
        self._clock = clock
        self._held: dict[str, StreamTarget] = {}
        self._resynced: dict[str, float] = {}  # subscription id -> monotonic time of its last hint
        self._workers: dict[StreamKey, StreamWorker] = {}
        self._outbox: asyncio.Queue[list[ChangeEvent]] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending_writes: set[concurrent.futures.Future[None]] = set()  # store writes from threads

    @property
    def held(self) -> frozenset[str]:
        """Subscription ids whose lease this listener holds."""
        return frozenset(self._held)

    async def run(self, stop: asyncio.Event) -> None:
        """Rounds until `stop` is set; then stop the streams and release the leases."""
        self._loop = asyncio.get_running_loop()
        publisher = asyncio.create_task(self._publish_forever(), name="ews-publish")
        try:
            while not stop.is_set():
                try:
                    await self.step()
                except Exception as exc:  # the store or a provider hiccup: try again next round
                    log.warning("ews_listener_round_failed", error=type(exc).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._tuning.refresh)
        finally:
            await self._stop_all()
            await self._drain(publisher)
            with contextlib.suppress(Exception):
                await release_leases(self._engine, self.holder)
            self._held.clear()
            HELD.set(0)

    async def step(self) -> None:
        """One round: load, renew, claim, reconcile the streams."""
        self._loop = asyncio.get_running_loop()
        if self._before_round is not None:
            await self._before_round()
        async with self._engine.begin() as conn:
            targets = {t.subscription_id: t for t in await load_targets(conn)}
            await ensure_subscription_rows(conn, list(targets.values()))
            await ensure_leases(conn, list(targets))
        now = self._clock()
        ttl = self._tuning.lease_seconds
        kept = set(await renew_leases(self._engine, self.holder, list(self._held), now=now, ttl=ttl))
        unwanted = [i for i in kept if i not in targets]
        if unwanted:  # pair paused or removed: stop streaming it, unsubscribe, let go
            await self._retire(unwanted)
            kept.difference_update(unwanted)
        room = self._tuning.max_subscriptions - len(kept)
        free = [i for i in targets if i not in kept]
        won: list[str] = []
        if room > 0 and free:
            won = await claim_leases(self._engine, self.holder, free, now=now, ttl=ttl, limit=room)
        self._held = {i: targets[i] for i in (*kept, *won)}
        over = _beyond_stream_limit(self._held.values(), self._tuning.max_streams)
        if over:  # more mailboxes than this replica may stream: leave them to another
            await self._retire(over, unsubscribe=False)
        HELD.set(len(self._held))
        await self._reconcile()
        self._schedule_resyncs()

    def _schedule_resyncs(self) -> None:
        """Reconciliation for the held calendars: a RESYNC hint every `resync_every` seconds, so
        a notification Exchange never sent delays a change but does not lose it. The first one
        is due a full period after the claim (the claim itself published a catch-up)."""
        every = self._tuning.resync_every
        if not every:
            return
        now = time.monotonic()
        for gone in [i for i in self._resynced if i not in self._held]:
            del self._resynced[gone]
        due = []
        for subscription_id, target in self._held.items():
            last = self._resynced.setdefault(subscription_id, now)
            if now - last >= every:
                due.append(
                    ChangeEvent(
                        provider=Provider.EWS,
                        calendar=target.calendar_ref,
                        kind=ChangeKind.RESYNC,
                        reason="reconcile",
                    )
                )
                self._resynced[subscription_id] = now
        if due:
            self._outbox.put_nowait(due)

    # --- streams

    async def restart_streams(self, connection_id: str) -> None:
        """Stop the streams of one connection (its credentials were replaced); the next
        reconcile starts them again, with a catch-up for their calendars."""
        for key in [k for k in self._workers if k.connection_id == connection_id]:
            await self._stop_worker(self._workers.pop(key))

    async def _reconcile(self) -> None:
        plan = plan_streams(self._held.values())
        for key in [k for k, w in self._workers.items() if plan.get(k) != w.targets or not w.alive]:
            await self._stop_worker(self._workers.pop(key))
        server_ids = await self._server_ids(
            [t for k, ts in plan.items() if k not in self._workers for t in ts]
        )
        for key, group in plan.items():
            if key in self._workers:
                continue
            worker = StreamWorker(
                key,
                group,
                server_ids,
                open_folder=self._open_folder,
                publish=self._hand_over,
                subscribed=self._remember,
                tuning=self._tuning.stream,
            )
            self._workers[key] = worker
            worker.start()
            log.info("ews_stream_started", connection=key.connection_id, subscriptions=len(group))

    async def _server_ids(self, targets: Sequence[StreamTarget]) -> dict[str, str | None]:
        if not targets:
            return {}
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                sa.select(subscriptions.c.id, subscriptions.c.provider_id).where(
                    subscriptions.c.id.in_([t.subscription_id for t in targets])
                )
            )
            return {r.id: r.provider_id for r in rows}

    async def _stop_worker(self, worker: StreamWorker) -> None:
        worker.stop()
        await asyncio.to_thread(worker.join, 5.0)

    async def _stop_all(self) -> None:
        workers, self._workers = list(self._workers.values()), {}
        for worker in workers:
            worker.stop()
        for worker in workers:
            await asyncio.to_thread(worker.join, 2.0)

    async def _retire(self, subscription_ids: Sequence[str], *, unsubscribe: bool = True) -> None:
        gone = set(subscription_ids)
        for key in [k for k, w in self._workers.items() if any(t.subscription_id in gone for t in w.targets)]:
            worker = self._workers.pop(key)
            await self._stop_worker(worker)
            for target in worker.targets:
                server_id = worker.server_ids().get(target.subscription_id)
                if unsubscribe and target.subscription_id in gone and server_id:
                    await self._unsubscribe(target, server_id)
        if unsubscribe:
            async with self._engine.begin() as conn:
                for subscription_id in gone:
                    await record_subscribed(conn, subscription_id, None)
        await release_leases(self._engine, self.holder, list(gone))
        for subscription_id in gone:
            self._held.pop(subscription_id, None)

    async def _unsubscribe(self, target: StreamTarget, server_id: str) -> None:
        def unsubscribe() -> None:
            self._open_folder(target.connection_id, target.mailbox).unsubscribe(server_id)

        try:
            await asyncio.to_thread(unsubscribe)
        except Exception as exc:  # the server forgets idle subscriptions on its own
            log.info("ews_unsubscribe_failed", error=type(exc).__name__)

    # --- from the stream threads

    def _hand_over(self, events: list[ChangeEvent]) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._outbox.put_nowait, events)

    def _remember(self, subscription_id: str, server_id: str | None) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        async def write() -> None:
            try:
                async with self._engine.begin() as conn:
                    await record_subscribed(conn, subscription_id, server_id)
            except Exception as exc:  # only a hint for the next holder; it resubscribes if stale
                log.warning("ews_subscription_not_recorded", error=type(exc).__name__)

        future = asyncio.run_coroutine_threadsafe(write(), loop)
        self._pending_writes.add(future)
        future.add_done_callback(self._pending_writes.discard)

    # --- publishing

    async def _publish_forever(self) -> None:
        backlog: list[ChangeEvent] = []
        wait = 0.5
        while True:
            if not backlog:
                backlog = await self._outbox.get()
            while not self._outbox.empty():
                backlog.extend(self._outbox.get_nowait())
            try:
                await self._bus.publish(backlog)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # unconfirmed: keep one catch-up per calendar, try again
                PUBLISH_FAILURES.inc()
                log.warning("ews_publish_unconfirmed", events=len(backlog), error=type(exc).__name__)
                backlog = _as_catch_ups(backlog)
                await asyncio.sleep(wait)
                wait = min(wait * 2, self._tuning.publish_backoff_max)
                continue
            backlog, wait = [], 0.5

    async def _drain(self, publisher: asyncio.Task[None]) -> None:
        """Give queued batches a moment to be confirmed, then stop publishing."""
        for _ in range(20):
            if self._outbox.empty():
                break
            await asyncio.sleep(0.05)
        publisher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await publisher


def _beyond_stream_limit(held: Iterable[StreamTarget], max_streams: int) -> list[str]:
    """Subscriptions of the streams past `max_streams` per connection (in plan order)."""
    counts: dict[str, int] = {}
    over: list[str] = []
    for key, group in plan_streams(held).items():
        counts[key.connection_id] = counts.get(key.connection_id, 0) + 1
        if counts[key.connection_id] > max_streams:
            over.extend(t.subscription_id for t in group)
    return over


def _as_catch_ups(events: Sequence[ChangeEvent]) -> list[ChangeEvent]:
    """The same calendars, as one RESYNC each: smaller, and covers whatever the batch said."""
    kept: dict[str, ChangeEvent] = {}
    for event in events:
        if event.calendar not in kept or event.kind is ChangeKind.RESYNC:
            kept[event.calendar] = event if event.kind is ChangeKind.RESYNC else catch_up_hint(event.calendar)
    return list(kept.values())
