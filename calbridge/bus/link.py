"""One connection to RabbitMQ that comes back after every loss, and what lives on it.

Why not aio-pika's robust connection: it restores by itself, after a reconnect (and after a
broker's basic.cancel), every channel, queue and consumer it has seen. Whoever also repairs
consumers then races it. The processor does repair (it re-creates the consumers of the shards it
owns), and after a connection drop each shard queue had two consumers of one process: the
restored one, belonging to a consumer already stopped, was the queue's single active consumer
and never acknowledged anything. So connections here are plain ones, and this module alone
makes them again:

- `BrokerLink` holds at most one open connection. When it is lost the link reconnects, waiting
  `reconnect_delay` between attempts (doubling, capped, with jitter), for as long as it runs.
- Whatever lives on a connection (the publishing channel, each consumer, the membership
  heartbeat) is an `Attachment`. On every new connection the link runs `prepare` (the topology
  declaration), then attaches each attachment; when the connection drops it detaches them all
  before reconnecting. An attachment whose channel closes under a live connection calls
  `repair()`, and the link attaches it again; an attach that fails is retried after a back-off,
  without giving up the connection.
- `connect()` fails at once when the first attempt does (commands, services that should not
  start without a broker); `start()` never fails and keeps trying in the background (the
  receiver, the EWS listener). Either way, later losses are repaired in the background.

Nothing else opens channels on these connections, so a consumer exists once, on the current
connection, or not at all; `ready` says which.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import aio_pika
from aio_pika.abc import AbstractConnection
from prometheus_client import Counter, Gauge
from yarl import URL

from calbridge.errors import ConfigurationError
from calbridge.logs import get_logger
from calbridge.metrics import REGISTRY

__all__ = ["Attachment", "Backoff", "BrokerLink", "reconnect_delay"]

log = get_logger(__name__)

CONNECTED = Gauge(
    "calbridge_bus_connected",
    "1 while the link has an open broker connection with everything attached, else 0; by role.",
    ["role"],
    registry=REGISTRY,
)
RECONNECTS = Counter(
    "calbridge_bus_reconnects_total",
    "Broker connections made again after a loss, by role.",
    ["role"],
    registry=REGISTRY,
)

# Seconds between AMQP heartbeats unless the URL sets `heartbeat`: a peer that vanished without
# closing the TCP connection is noticed after about two of them, by the broker (which then hands
# the shard to the next consumer) and by us (which reconnect), instead of after minutes.
HEARTBEAT = 15
# Bound on one connection attempt, and on attaching one thing on it, so that a broker that
# accepts TCP but does not answer counts as a failed attempt instead of a hang.
STEP_TIMEOUT = 15.0
# Bound on `prepare`: the topology declaration may first wait for other processes' (see
# topology.LOCK_PATIENCE).
PREPARE_TIMEOUT = 60.0

Prepare = Callable[[AbstractConnection], Awaitable[None]]


class Attachment(Protocol):
    """Something that lives on the link's connection and must be set up again on each new one."""

    @property
    def attached(self) -> bool:
        """Set up on the current connection and working."""

    async def attach(self, connection: AbstractConnection) -> None:
        """Set up on `connection` (open a channel, consume...); raise if it could not be."""

    def detach(self) -> None:
        """The connection is gone: forget its channels (no I/O, they are gone with it)."""


@dataclass(frozen=True, slots=True)
class Backoff:
    # Short, because work waits on it: a broker back after a restart is found within `longest`
    # seconds. Cheap for the broker too: an attempt while it is down is one refused TCP connect.
    first: float = 0.5
    longest: float = 5.0


def reconnect_delay(failures: int, backoff: Backoff, draw: float) -> float:
    """Seconds to wait after `failures` (>= 1) attempts in a row failed: doubling from `first`,
    at most `longest`, and drawn between half and all of that (`draw` in [0, 1)), so that the
    processes that lost the broker together do not all come back in the same instant."""
    step: float = min(backoff.longest, backoff.first * 2.0 ** min(max(failures - 1, 0), 30))
    return step * (0.5 + draw / 2)


class BrokerLink:
    def __init__(
        self,
        url: str,
        *,
        role: str,
        name: str,
        prepare: Prepare | None = None,
        backoff: Backoff = Backoff(),
        rng: random.Random | None = None,
    ) -> None:
        self._url = _with_heartbeat(url)
        self.role = role
        self._name = name
        self._prepare = prepare
        self._backoff = backoff
        self._rng = rng or random.Random()
        self._attachments: dict[Attachment, None] = {}  # an ordered set
        self._connection: AbstractConnection | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._attaching = asyncio.Lock()
        self._closing = False
        self._ever_connected = False

    # --- state

    @property
    def connected(self) -> bool:
        connection = self._connection
        return connection is not None and not connection.is_closed and connection.connected.is_set()

    @property
    def ready(self) -> bool:
        """Connected, and everything attached."""
        return self.connected and all(attachment.attached for attachment in self._attachments)

    @property
    def running(self) -> bool:
        return self._supervisor is not None and not self._closing

    # --- lifecycle

    async def connect(self) -> None:
        """Connect now, raising what the first attempt raised; from then on, keep connected in the
        background. For commands and services that should fail at once without a broker."""
        if self._supervisor is not None:
            return
        await self._open()
        try:
            async with self._attaching:
                for attachment in list(self._attachments):
                    async with asyncio.timeout(STEP_TIMEOUT):
                        await attachment.attach(self._require_connection())
        except BaseException:
            await self._drop()
            raise
        self._supervisor = asyncio.create_task(self._supervise(), name=f"broker-link-{self.role}")

    async def start(self) -> None:
        """Try to connect now and, if that fails, keep trying in the background; never raises (a
        service that serves "not ready" until the broker is there). With the broker up, the link
        is ready when this returns."""
        if self._supervisor is not None:
            return
        failures = 0
        try:
            await self._open()
        except Exception as exc:
            failures = 1
            self._report_failure(exc, reconnect_delay(failures, self._backoff, self._rng.random()))
        else:
            await self._attach_missing()  # what fails here, the supervisor retries
        self._supervisor = asyncio.create_task(self._supervise(failures), name=f"broker-link-{self.role}")

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        await self._drop()
        CONNECTED.labels(self.role).set(0)

    # --- attachments

    async def add(self, attachment: Attachment) -> None:
        """Keep `attachment` on this link; attach it now if connected (else on connecting). A
        failure to attach is logged and retried by the link, not raised."""
        self._attachments[attachment] = None
        if not self.connected:
            return
        async with self._attaching:
            connection = self._connection
            if connection is None or attachment.attached or attachment not in self._attachments:
                return
            try:
                async with asyncio.timeout(STEP_TIMEOUT):
                    await attachment.attach(connection)
            except Exception as exc:
                log.warning(
                    "bus_attach_failed",
                    role=self.role,
                    what=type(attachment).__name__,
                    error=type(exc).__name__,
                )
                self.repair()

    def remove(self, attachment: Attachment) -> None:
        """Stop keeping `attachment` (it is stopping); the link never attaches it again."""
        self._attachments.pop(attachment, None)

    def repair(self) -> None:
        """Something detached under a live connection: look again (attachments call this)."""
        self._wake.set()

    # --- the loop

    async def _supervise(self, failures: int = 0) -> None:
        """`failures`: connection attempts in a row that failed so far."""
        broken = 0  # attach rounds in a row that left something unattached
        if failures:
            await asyncio.sleep(reconnect_delay(failures, self._backoff, self._rng.random()))
        while not self._closing:
            if not self.connected:
                await self._drop()
                try:
                    await self._open()
                except Exception as exc:
                    failures += 1
                    delay = reconnect_delay(failures, self._backoff, self._rng.random())
                    self._report_failure(exc, delay)
                    await asyncio.sleep(delay)
                    continue
                failures = broken = 0
            # Cleared before looking, so a loss or a repair request from here on wakes the wait.
            self._wake.clear()
            if not self.connected:
                continue
            if await self._attach_missing():
                broken = 0
                await self._wake.wait()
            else:
                broken += 1
                await asyncio.sleep(reconnect_delay(broken, self._backoff, self._rng.random()))

    async def _open(self) -> None:
        """One attempt: connect and prepare (raising on failure, nothing left open). Attaching is
        left to the caller: a queue not available yet must not cost the whole connection."""
        # What aio_pika.connect does, keeping hold of the connection so that a failed attempt is
        # closed here rather than by its finaliser, after the event loop may be gone.
        connection = aio_pika.Connection(URL(self._url), client_properties={"connection_name": self._name})
        try:
            async with asyncio.timeout(STEP_TIMEOUT):
                await connection.connect(timeout=STEP_TIMEOUT)
            if self._prepare is not None:
                async with asyncio.timeout(PREPARE_TIMEOUT):
                    await self._prepare(connection)
        except BaseException:
            with contextlib.suppress(Exception):
                await connection.close()
            raise
        connection.close_callbacks.add(self._on_connection_closed)
        self._connection = connection
        if self._ever_connected:
            RECONNECTS.labels(self.role).inc()
            log.info("bus_reconnected", role=self.role)
        self._ever_connected = True

    def _require_connection(self) -> AbstractConnection:
        if self._connection is None:
            raise ConnectionError("the broker connection was lost")
        return self._connection

    async def _attach_missing(self) -> bool:
        """Attach what is not attached; True if everything is."""
        async with self._attaching:
            connection = self._connection
            if connection is None:
                return False
            whole = True
            for attachment in list(self._attachments):
                if attachment.attached:
                    continue
                try:
                    async with asyncio.timeout(STEP_TIMEOUT):
                        await attachment.attach(connection)
                except Exception as exc:
                    whole = False
                    log.warning(
                        "bus_attach_failed",
                        role=self.role,
                        what=type(attachment).__name__,
                        error=type(exc).__name__,
                    )
        CONNECTED.labels(self.role).set(1 if whole and self.connected else 0)
        return whole

    def _on_connection_closed(self, *_: object) -> None:
        if not self._closing:
            log.warning("bus_connection_lost", role=self.role)
        CONNECTED.labels(self.role).set(0)
        self._wake.set()

    async def _drop(self) -> None:
        """Forget the current connection and tell every attachment it is gone."""
        connection, self._connection = self._connection, None
        for attachment in list(self._attachments):
            attachment.detach()
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close_callbacks.discard(self._on_connection_closed)
            with contextlib.suppress(Exception):
                await connection.close()

    def _report_failure(self, exc: Exception, delay: float) -> None:
        if isinstance(exc, ConfigurationError):  # e.g. TopologyMismatch: a person must act
            log.error("bus_configuration_refused", role=self.role, reason=str(exc), retry_in=round(delay, 2))
        else:
            log.warning(
                "bus_connect_failed", role=self.role, error=type(exc).__name__, retry_in=round(delay, 2)
            )


def _with_heartbeat(url: str) -> str:
    parsed = URL(url)
    if "heartbeat" in parsed.query:
        return url
    return str(parsed.update_query(heartbeat=HEARTBEAT))
