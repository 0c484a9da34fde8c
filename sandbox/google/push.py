"""Push channels (`events.watch`, `channels.stop`) and webhook delivery.

A channel gets the `sync` message (number 1) as soon as it is made, then one `exists` message
per change on its calendar. Message numbers rise by a random step, as Google's do. Each channel
delivers from its own queue, in order unless the reorder fault is on; 5xx answers, timeouts and
refused connections are retried with backoff a bounded number of times; other answers count as
a failed message, as Google documents. Expired channels die quietly.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime
from typing import Any

import aiohttp
import structlog

from sandbox.clock import Clock
from sandbox.counters import Counters
from sandbox.faults import Faults
from sandbox.google.errors import GoogleApiError
from sandbox.google.state import GoogleWorld

__all__ = ["Channel", "Delivery", "PushHub"]

log = structlog.get_logger("sandbox.google.push")

DEFAULT_TTL = timedelta(seconds=604800)  # documented default for params.ttl
MAX_TTL = timedelta(days=30)  # the events maximum is undocumented; clients must read `expiration`


@dataclass(frozen=True)
class Pending:
    state: str
    number: int
    delay: float  # seconds to hold it back (delay fault)
    reorder: bool  # may be shuffled with the others waiting (reorder fault)


@dataclass
class Channel:
    id: str
    resource_id: str
    resource_uri: str
    calendar_id: str
    address: str
    token: str | None
    expiration: datetime
    next_number: int = 1
    queue: asyncio.Queue[Pending] = field(default_factory=asyncio.Queue)
    worker: asyncio.Task[None] | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "api#channel",
            "id": self.id,
            "resourceId": self.resource_id,
            "resourceUri": self.resource_uri,
            **({"token": self.token} if self.token is not None else {}),
            "expiration": str(int(self.expiration.timestamp() * 1000)),
        }


@dataclass(frozen=True)
class Delivery:
    channel_id: str
    number: int
    state: str
    status: int | None  # None: no answer (timeout or connection failure)
    attempt: int


class PushHub:
    def __init__(
        self,
        world: GoogleWorld,
        clock: Clock,
        faults: Faults,
        counters: Counters,
        ssl_context: ssl.SSLContext | None = None,
        *,
        attempts: int = 4,
        backoff: float = 0.2,
        timeout: float = 5.0,
    ) -> None:
        self.world = world
        self.clock = clock
        self.faults = faults
        self.counters = counters
        self.ssl_context = ssl_context
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout
        self.channels: dict[str, Channel] = {}
        self.deliveries: list[Delivery] = []
        self._session: aiohttp.ClientSession | None = None
        world.listeners.append(self.notify)

    # -- channel lifecycle ----------------------------------------------------------------------

    def open(self, calendar_id: str, body: dict[str, Any], resource_uri: str) -> Channel:
        channel_id = body.get("id")
        if not isinstance(channel_id, str) or not channel_id:
            raise GoogleApiError.bad_request("Required channel id.", "required")
        if len(channel_id) > 64 or channel_id in self.channels:
            raise GoogleApiError.bad_request(f"Channel id {channel_id} not unique", "channelIdNotUnique")
        if body.get("type") not in {"web_hook", "webhook"}:
            raise GoogleApiError.bad_request("Invalid channel type.", "invalid")
        address = body.get("address")
        if not isinstance(address, str) or not address.startswith(("http://", "https://")):
            raise GoogleApiError.bad_request("Invalid channel address.", "invalid")
        token = body.get("token")
        if token is not None and (not isinstance(token, str) or len(token) > 256):
            raise GoogleApiError.bad_request("Invalid channel token.", "invalid")
        channel = Channel(
            id=channel_id,
            resource_id=self._resource_id(calendar_id),
            resource_uri=resource_uri,
            calendar_id=calendar_id,
            address=address,
            token=token,
            expiration=self._expiration(body),
        )
        self.channels[channel_id] = channel
        self._enqueue(channel, "sync")
        return channel

    def stop(self, body: dict[str, Any]) -> None:
        channel = self.channels.get(str(body.get("id")))
        if channel is None or channel.resource_id != body.get("resourceId"):
            raise GoogleApiError(404, "notFound", f"Channel '{body.get('id')}' not found for project")
        self._close(channel)

    def notify(self, calendar_id: str) -> None:
        now = self.clock.now()
        for channel in list(self.channels.values()):
            if channel.calendar_id != calendar_id:
                continue
            if channel.expiration <= now:
                self._close(channel)
                continue
            self._enqueue(channel, "exists")

    async def close(self) -> None:
        for channel in list(self.channels.values()):
            self._close(channel)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def reset(self) -> None:
        for channel in list(self.channels.values()):
            self._close(channel)
        self.deliveries.clear()

    # -- delivery -------------------------------------------------------------------------------

    def _enqueue(self, channel: Channel, state: str) -> None:
        """Number the message and draw its faults now, so a rule applies to the changes made
        while it is set (not to whenever the deliverer gets to them)."""
        number = channel.next_number
        channel.next_number += self.world.rng.randint(1, 9)  # rising, never consecutive by promise
        plan = self.faults.notification_plan("google")
        copies = self.faults.notification_copies("google")
        if not copies:
            return
        delay = self.faults.rng.uniform(*plan.delay) if plan.delay[1] > 0 else 0.0
        for _ in range(copies):
            channel.queue.put_nowait(Pending(state, number, delay, plan.reorder))
        if channel.worker is None or channel.worker.done():
            channel.worker = asyncio.get_running_loop().create_task(self._deliver_from(channel))

    async def _deliver_from(self, channel: Channel) -> None:
        while True:
            batch = [await channel.queue.get()]
            while not channel.queue.empty():
                batch.append(channel.queue.get_nowait())
            if len(batch) > 1 and any(p.reorder for p in batch):
                self.faults.rng.shuffle(batch)
            for pending in batch:
                if pending.delay:
                    await asyncio.sleep(pending.delay)
                if channel.expiration <= self.clock.now():
                    return
                await self._deliver(channel, pending.state, pending.number)

    async def _deliver(self, channel: Channel, state: str, number: int) -> None:
        headers = {
            "X-Goog-Channel-ID": channel.id,
            "X-Goog-Channel-Expiration": format_datetime(channel.expiration, usegmt=True),
            "X-Goog-Message-Number": str(number),
            "X-Goog-Resource-ID": channel.resource_id,
            "X-Goog-Resource-State": state,
            "X-Goog-Resource-URI": channel.resource_uri,
            "User-Agent": "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)",
        }
        if channel.token is not None:
            headers["X-Goog-Channel-Token"] = channel.token
        for attempt in range(1, self.attempts + 1):
            status = await self._post(channel.address, headers)
            self.deliveries.append(Delivery(channel.id, number, state, status, attempt))
            self.counters.call("google.push.deliver", status or 0)
            if status is not None and status < 500:
                if status not in {102, 200, 201, 202, 204}:
                    log.info("push_message_failed", channel=channel.id, status=status)
                return
            await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
        log.info("push_message_abandoned", channel=channel.id, attempts=self.attempts)

    async def _post(self, address: str, headers: dict[str, str]) -> int | None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        try:
            async with self._session.post(
                address, headers=headers, data=b"", ssl=self.ssl_context or True
            ) as answer:
                return answer.status
        except (TimeoutError, aiohttp.ClientError):
            return None

    def _close(self, channel: Channel) -> None:
        self.channels.pop(channel.id, None)
        if channel.worker is not None:
            channel.worker.cancel()

    def _resource_id(self, calendar_id: str) -> str:
        """Opaque and stable per calendar, shaped like Google's (27 URL-safe base64 chars)."""
        digest = hashlib.sha1(f"{self.world.seed}:{calendar_id}".encode(), usedforsecurity=False).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def _expiration(self, body: dict[str, Any]) -> datetime:
        now = self.clock.now()
        ttl = DEFAULT_TTL
        params = body.get("params") or {}
        if "ttl" in params:
            try:
                ttl = timedelta(seconds=int(params["ttl"]))
            except (TypeError, ValueError) as exc:
                raise GoogleApiError.bad_request("Invalid ttl.", "invalid") from exc
        granted = now + min(ttl, MAX_TTL)
        if body.get("expiration"):
            try:
                requested = datetime.fromtimestamp(int(body["expiration"]) / 1000, tz=now.tzinfo)
            except (TypeError, ValueError) as exc:
                raise GoogleApiError.bad_request("Invalid expiration.", "invalid") from exc
            granted = min(granted, requested)
        return granted
