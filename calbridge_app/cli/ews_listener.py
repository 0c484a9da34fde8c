"""`calbridge ews-listener`: hold GetStreamingEvents for every active EWS pair (receiver deployment)."""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING

from calbridge.settings import ENV_PREFIX, Settings
from calbridge_app.cli.common import EXIT_CONFIG, console, fail, run, settings_or_exit

if TYPE_CHECKING:
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
    await bus.connect()
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
            await listener.run(stop)
    finally:
        folders.close()
        await bus.close()


def ews_listener() -> None:
    """Stream EWS changes of every active EWS pair to the bus (run beside the receiver).

    Replicas share the work through leases in the store: each subscription is streamed by one."""
    settings = settings_or_exit()
    if settings.amqp_url is None:
        fail(
            f"{ENV_PREFIX}AMQP_URL is not set: the listener publishes change events to RabbitMQ", EXIT_CONFIG
        )
    if settings.ews_listener_metrics_port:
        from prometheus_client import start_http_server

        from calbridge.metrics import REGISTRY

        start_http_server(settings.ews_listener_metrics_port, registry=REGISTRY)
    run(_listen(settings))
