"""The renewer process: the loop, the lifecycle consumer and the probe server, together.

`serve_renewer(settings)` runs until SIGTERM/SIGINT: every `renewer_interval` seconds a pass
(`Renewer.tick`, then the pairs in error checked again and the pair gauges set:
`pair_health.PairHealth`), Graph lifecycle events as they arrive, and `/healthz`, `/readyz`,
`/metrics` on `renewer_http_port`. `once=True` runs one pass and returns (a check, or a cron job).

Each pass first reads the connections (`wiring`) and isolates the ones it cannot open
(`isolation`): their pairs go to `error`, everyone else's subscriptions are kept as usual. A
renewer whose key decrypts no connection at all fails its passes (`SecretKeyMismatch`, so
`/readyz` turns 503) and blames no pair.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.bus import Consumer, open_bus
from calbridge.connections import Connection
from calbridge.errors import CalbridgeError, SecretKeyMismatch
from calbridge.logs import get_logger
from calbridge.pairs.access import RegistryAccessChecker
from calbridge.providers.registry import Registry
from calbridge.secretbox import SecretBox, open_secretbox
from calbridge.settings import Settings
from calbridge.store.connection_records import get_connection
from calbridge.store.engine import create_engine, pool_kwargs
from calbridge.store.quota_windows import open_quota_book
from subscriptions.isolation import isolate_connection_faults
from subscriptions.pair_health import PairHealth
from subscriptions.probes import Health, create_probe_app
from subscriptions.renewer import Endpoints, Renewer, policy_from, run_loop
from subscriptions.wiring import ConnectionProviders

__all__ = ["serve_renewer"]

log = get_logger("calbridge.renewer")

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _now() -> datetime:
    return datetime.now(UTC)


async def serve_renewer(settings: Settings, *, once: bool = False, stop: asyncio.Event | None = None) -> None:
    """Run the renewer until SIGTERM/SIGINT (or `stop` is set); `once`: one pass, then return."""
    assert settings.public_url is not None  # checked by the command before starting
    engine = create_engine(
        settings.database_url.get_secret_value(), **pool_kwargs(settings.database_pool_size)
    )
    bus = open_bus(settings)
    box = open_secretbox(settings)
    registry = Registry(settings, quota=open_quota_book(engine, settings))
    providers = ConnectionProviders(engine, box, _now, registry)
    checker = RegistryAccessChecker(registry.open)
    pair_health = PairHealth(
        engine,
        bus,
        lambda ids: load_connections(engine, box, ids),
        checker,
        interval=settings.pair_recheck_interval,
        clock=_now,
    )
    renewer = Renewer(
        engine,
        bus,
        providers,
        keys=settings.signing_key_map(),
        endpoints=Endpoints.under(str(settings.public_url)),
        policy=policy_from(settings),
        clock=_now,
        rng=random.Random(),
        lease=settings.renewer_lease,
        batch=settings.renewer_batch,
        open_calendar=providers.open_calendar,
    )

    async def tick() -> None:
        try:
            await providers.refresh()
        except SecretKeyMismatch as exc:
            log.error("renewer_secret_key_mismatch", reason=str(exc))
            raise
        await isolate_connection_faults(engine, bus, providers.unusable, providers.usable)
        report = await renewer.tick()
        if report.outcomes:
            log.info("renewer_pass", **report.outcomes)
        try:  # pairs in error are checked again; a failure here must not stop the renewals
            checked = await pair_health.tick()
        except Exception as exc:
            log.error("pair_recheck_failed", error=type(exc).__name__)
        else:
            if checked.checked:
                log.info("pairs_rechecked", checked=checked.checked, restored=len(checked.restored))
        try:  # out of office has no notifications: it is polled here, once per pass
            await mirror_out_of_office(settings, engine)
        except Exception as exc:
            log.error("oof_mirror_pass_failed", error=type(exc).__name__)

    await bus.connect()
    try:
        if once:
            await tick()
            return
        await _serve(settings, renewer, tick, stop or asyncio.Event())
    finally:
        await checker.aclose()
        await providers.close()
        await bus.close()
        await engine.dispose()


async def mirror_out_of_office(settings: Settings, engine: AsyncEngine) -> None:
    """One pass of `calbridge.meetings.oof_mirror` over the pairs that mirror out of office,
    through the providers' meeting sources (opened for the pass, only if such a pair exists)."""
    from calbridge.freebusy.wiring import close_sources, open_meeting_sources
    from calbridge.meetings.oof_mirror import OofMirror, any_mirrored

    if not await any_mirrored(engine):
        return
    sources = await open_meeting_sources(settings)
    try:
        counts = await OofMirror(engine, sources, clock=_now).run()
    finally:
        await close_sources(sources)
    if counts["written"] or counts["failed"]:
        log.info("oof_mirror_pass", **counts)


async def load_connections(
    engine: AsyncEngine, box: SecretBox, ids: Collection[str]
) -> dict[str, Connection]:
    """The connections with these ids that can be opened (a secret that does not decrypt is
    left out, so its pairs are left as they are)."""
    opened: dict[str, Connection] = {}
    async with engine.connect() as conn:
        for connection_id in ids:
            try:
                opened[connection_id] = await get_connection(conn, box, connection_id)
            except CalbridgeError as exc:
                log.warning("connection_not_opened", connection=connection_id, error=type(exc).__name__)
    return opened


async def _serve(
    settings: Settings, renewer: Renewer, tick: Callable[[], Awaitable[None]], stop: asyncio.Event
) -> None:
    import uvicorn

    from calbridge.probes import bind_probe_port

    sock = bind_probe_port(settings.renewer_http_host, settings.renewer_http_port, "RENEWER_HTTP_PORT")
    loop = asyncio.get_running_loop()
    for sig in _SIGNALS:
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    health = Health(interval=settings.renewer_interval)
    consumers: list[Consumer] = []  # the lifecycle consumer, once started (after the probes)
    config = uvicorn.Config(
        create_probe_app(health, renewer.bus, lambda: bool(consumers) and consumers[0].consuming),
        host=settings.renewer_http_host,
        port=settings.renewer_http_port,
        access_log=False,
        log_config=None,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    # uvicorn takes SIGTERM/SIGINT while it serves and raises them again once it has stopped,
    # which reaches the handlers above: the probes stop first, then the loop finishes its pass.
    probes = asyncio.create_task(server.serve(sockets=[sock]))
    probes.add_done_callback(lambda _: stop.set())
    try:  # from here on, whatever fails stops the probes too: no task is left pending
        consumers.append(await renewer.bus.consume_lifecycle(renewer.handle_lifecycle))
        log.info("renewer_started", port=settings.renewer_http_port, interval=settings.renewer_interval)
        await run_loop(tick, stop, settings.renewer_interval, health.record)
    finally:
        for consumer in consumers:
            await consumer.stop()
        server.should_exit = True
        await probes
        for sig in _SIGNALS:
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(sig)
        log.info("renewer_stopped")
