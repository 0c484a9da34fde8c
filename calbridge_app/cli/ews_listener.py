"""`calbridge ews-listener`: hold GetStreamingEvents for every active EWS pair (receiver deployment)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING

from calbridge.settings import ENV_PREFIX, Settings
from calbridge_app.cli.common import (
    EXIT_CONFIG,
    check_broker,
    check_store,
    console,
    ensure_port_free,
    fail,
    run,
    settings_or_exit,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from calbridge.probes import Check
    from ews_listener.stream import ListenerTuning

__all__ = ["ews_listener", "listener_tuning"]


def listener_tuning(settings: Settings) -> ListenerTuning:
    from ews_listener.stream import ListenerTuning
    from ews_listener.worker import StreamTuning

    return ListenerTuning(
        refresh=settings.ews_listener_refresh,
        lease_seconds=settings.ews_lease_seconds,
        max_subscriptions=settings.ews_listener_subscriptions,
        max_streams=settings.ews_listener_streams,
        resync_every=settings.resync_interval.total_seconds(),
        stream=StreamTuning(
            connection_minutes=settings.ews_stream_minutes, backoff_max=settings.ews_stream_backoff_max
        ),
    )


async def _listen(settings: Settings) -> None:
    from calbridge.bus import open_bus
    from calbridge_app.cli.context import open_engine, secretbox
    from ews_listener.accounts import ListenerFolders
    from ews_listener.stream import EwsListener

    box = secretbox(settings)
    folders = ListenerFolders(
        [], streams=settings.ews_listener_streams, autodiscover_refresh=settings.ews_autodiscover_refresh
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    bus = open_bus(settings)
    # In the background: until the broker is there, batches wait as catch-up hints (stream.py).
    await bus.start()
    try:
        async with open_engine(settings) as engine:

            async def learn_connections() -> None:
                await folders.refresh(engine, box, listener.restart_streams)

            listener = EwsListener(
                engine,
                bus,
                folders,
                listener_tuning(settings),
                before_round=learn_connections,
            )
            console.print(f"ews-listener {listener.holder}: streaming; Ctrl-C to stop", highlight=False)

            async def readiness() -> dict[str, bool]:
                return {"bus": await bus.ready(), "store": await _store_answers(engine)}

            async with _probes(settings.ews_listener_metrics_port, readiness):
                await listener.run(stop)
    finally:
        folders.close()
        await bus.close()


async def _store_answers(engine: AsyncEngine) -> bool:
    import sqlalchemy as sa

    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
    except Exception:  # any failure means "not ready"; the reason is in the store's own logs
        return False
    return True


@asynccontextmanager
async def _probes(port: int, readiness: Check) -> AsyncIterator[None]:
    """/healthz, /readyz (bus and store) and /metrics on `port` while the listener runs."""
    if not port:
        yield
        return
    import uvicorn

    from calbridge.probes import bind_probe_port, build_probe_app

    sock = bind_probe_port("0.0.0.0", port, "EWS_LISTENER_METRICS_PORT")
    config = uvicorn.Config(
        build_probe_app(readiness),
        host="0.0.0.0",
        port=port,
        access_log=False,
        log_config=None,
        lifespan="off",
    )

    class _ProbeServer(uvicorn.Server):
        """uvicorn for the probes only: SIGTERM belongs to the listener, which stops its streams."""

        @contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    server = _ProbeServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield
    finally:
        server.should_exit = True
        await task


def ews_listener() -> None:
    """Stream EWS changes of every active EWS pair to the bus (run beside the receiver).

    Replicas share the work through leases in the store: each subscription is streamed by one."""
    settings = settings_or_exit(service=True)
    if settings.amqp_url is None:
        fail(
            f"{ENV_PREFIX}AMQP_URL is not set: the listener publishes change events to RabbitMQ", EXIT_CONFIG
        )
    if settings.ews_listener_metrics_port:
        ensure_port_free("0.0.0.0", settings.ews_listener_metrics_port, "EWS_LISTENER_METRICS_PORT")
    run(check_store(settings))
    run(check_broker(settings))
    run(_listen(settings))
