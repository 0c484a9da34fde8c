"""Delivery of change and lifecycle notifications, as Graph's webhook sender behaves.

Changes announced by the world become `changeNotification` items for every live subscription
whose resource covers them. Items for the same URL are POSTed together as `{"value": [...]}`.
A delivery has `notification_timeout` (3 s, as Graph) to get a 2xx; slower, 5xx, 429 or a refused
connection counts as failed and is retried after `notification_retry_delays` (bounded; Graph
keeps trying for up to 4 hours, the sandbox for a few seconds). When the retries run out the
subscription's lifecycle URL is told `missed`. Notification faults (drop, duplicate, reorder,
delay) come from `faults.notification_plan("graph")`.

Echoes are not faults but Exchange Online's ordinary behaviour: one edit often brings several
`updated` notifications (reports say 2 to 4), and a create is often followed by `updated` ones
(the store touches the item again). By default each update is followed by 1-3 more `updated`
notifications and each create by 0-2 `updated` ones (`world.update_echoes`,
`world.create_echoes`), each a little later (`world.echo_delay`), drawn from an RNG seeded by the
world's seed: a run repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import defaultdict
from dataclasses import replace
from typing import Any

import aiohttp
import structlog

from sandbox.clock import Clock
from sandbox.faults import Faults
from sandbox.graph.state import Change, GraphWorld, Subscription
from sandbox.graph.timezones import format_utc

__all__ = ["Notifier", "change_notification", "echo_delays", "lifecycle_notification"]

log = structlog.get_logger(__name__)


def covers(sub: Subscription, change: Change) -> bool:
    return (
        sub.mailbox_id == change.mailbox_id
        and (sub.calendar_id is None or sub.calendar_id == change.calendar_id)
        and change.kind in sub.change_types
    )


def change_notification(world: GraphWorld, sub: Subscription, change: Change) -> dict[str, Any]:
    event_id = change.immutable_id if sub.immutable_ids else change.rest_id
    resource = f"Users/{change.mailbox_id}/Events/{event_id}"
    return {
        "subscriptionId": sub.id,
        "subscriptionExpirationDateTime": format_utc(sub.expiration),
        "changeType": change.kind,
        "resource": resource,
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.Event",
            "@odata.id": resource,
            "@odata.etag": change.etag,
            "id": event_id,
        },
        "clientState": sub.client_state,
        "tenantId": world.tenant_id,
    }


def lifecycle_notification(world: GraphWorld, sub: Subscription, event: str) -> dict[str, Any]:
    return {
        "subscriptionId": sub.id,
        "subscriptionExpirationDateTime": format_utc(sub.expiration),
        "tenantId": world.tenant_id,
        "clientState": sub.client_state,
        "lifecycleEvent": event,
        "resource": sub.resource,
    }


def echo_delays(rng: random.Random, world: GraphWorld, kind: str) -> list[float]:
    """When, after a change of `kind`, Exchange sends its extra `updated` notifications (seconds)."""
    bounds = {"created": world.create_echoes, "updated": world.update_echoes}.get(kind)
    if bounds is None:
        return []
    return sorted(rng.uniform(*world.echo_delay) for _ in range(rng.randint(*bounds)))


class Notifier:
    def __init__(self, world: GraphWorld, faults: Faults, clock: Clock) -> None:
        self.world = world
        self.faults = faults
        self.clock = clock
        self.queues: dict[str, list[tuple[Subscription, dict[str, Any]]]] = defaultdict(list)
        self.workers: dict[str, asyncio.Task[None]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.session: aiohttp.ClientSession | None = None
        self.delivered = 0  # notifications POSTed and acknowledged
        self.failed = 0  # notifications given up on
        self.echo_rng = random.Random(f"graph-echoes-{world.seed}")
        self.echoes: set[asyncio.TimerHandle] = set()
        world.listeners.append(self.on_change)

    def client(self) -> aiohttp.ClientSession:
        if self.session is None or self.session.closed:
            self.session = aiohttp.ClientSession()
        return self.session

    async def close(self) -> None:
        for handle in self.echoes:
            handle.cancel()
        self.echoes.clear()
        for task in [*self.workers.values(), *self.tasks]:
            task.cancel()
        for task in [*self.workers.values(), *self.tasks]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.session is not None:
            await self.session.close()

    def live(self) -> list[Subscription]:
        now = self.clock.now()
        return [s for s in self.world.subscriptions.values() if s.expiration > now]

    # change notifications ------------------------------------------------------------------
    def on_change(self, change: Change) -> None:
        self._notify(change)
        self._echo(change)

    def _notify(self, change: Change) -> None:
        for sub in self.live():
            if not covers(sub, change):
                continue
            copies = self.faults.notification_copies("graph")
            if not copies:
                continue
            item = change_notification(self.world, sub, change)
            for _ in range(copies):
                self.queues[sub.notification_url].append((sub, item))
            self._wake(sub.notification_url)

    def _echo(self, change: Change) -> None:
        """Exchange's extra `updated` notifications after a create or an update (module doc)."""
        delays = echo_delays(self.echo_rng, self.world, change.kind)
        if not delays:
            return
        echo = replace(change, kind="updated")
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a write made outside the server's loop: echoed at once
            for _ in delays:
                self._notify(echo)
            return
        for delay in delays:
            self._later(loop, delay, echo)

    def _later(self, loop: asyncio.AbstractEventLoop, delay: float, change: Change) -> None:
        holder: list[asyncio.TimerHandle] = []

        def fire() -> None:
            self.echoes.discard(holder[0])
            self._notify(change)

        holder.append(loop.call_later(delay, fire))
        self.echoes.add(holder[0])

    def _wake(self, url: str) -> None:
        worker = self.workers.get(url)
        if worker is None or worker.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # a write made outside the server's loop: sent with the next one
                return
            self.workers[url] = loop.create_task(self._drain(url))

    async def _drain(self, url: str) -> None:
        while self.queues[url]:
            plan = self.faults.notification_plan("graph")
            low, high = plan.delay
            if high > 0:
                await asyncio.sleep(self.faults.rng.uniform(low, high))
            batch, self.queues[url] = self.queues[url], []
            if plan.reorder:
                self.faults.rng.shuffle(batch)
            ok = await self.post(url, {"value": [item for _, item in batch]})
            if ok:
                self.delivered += len(batch)
                continue
            self.failed += len(batch)
            for sub in {id(s): s for s, _ in batch}.values():
                if sub.lifecycle_url and sub.id in self.world.subscriptions:
                    self.send_lifecycle(sub, "missed")

    async def post(self, url: str, payload: dict[str, Any]) -> bool:
        """POST with Graph's time limit, retrying failures after bounded delays."""
        for delay in (0.0, *self.world.notification_retry_delays):
            if delay:
                await asyncio.sleep(delay)
            try:
                async with self.client().post(
                    url,
                    json=payload,
                    ssl=self.world.notification_ssl if self.world.notification_ssl is not None else True,
                    timeout=aiohttp.ClientTimeout(total=self.world.notification_timeout),
                ) as response:
                    if 200 <= response.status < 300:
                        return True
                    log.info("graph.notification.refused", status=response.status)
            except (TimeoutError, aiohttp.ClientError) as exc:
                log.info("graph.notification.failed", error=type(exc).__name__)
        return False

    # lifecycle notifications ---------------------------------------------------------------
    def send_lifecycle(self, sub: Subscription, event: str) -> asyncio.Task[None] | None:
        if not sub.lifecycle_url:
            return None
        payload = {"value": [lifecycle_notification(self.world, sub, event)]}
        task = asyncio.get_running_loop().create_task(self._post_lifecycle(sub.lifecycle_url, payload))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _post_lifecycle(self, url: str, payload: dict[str, Any]) -> None:
        await self.post(url, payload)
