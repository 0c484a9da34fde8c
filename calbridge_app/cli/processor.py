"""`calbridge processor`: consume change events and sync pairs; probes and metrics over HTTP."""

from __future__ import annotations

import typer

from calbridge.settings import ENV_PREFIX, Settings
from calbridge_app.cli.common import EXIT_CONFIG, check_store, ensure_port_free, fail, run, settings_or_exit

__all__ = ["parse_shards", "processor", "startup_problems"]


def startup_problems(settings: Settings) -> list[str]:
    """What in the configuration stops the processor from doing its job, naming the variables."""
    problems = []
    if settings.amqp_url is None:
        problems.append(
            f"{ENV_PREFIX}AMQP_URL is not set: a processor on the in-process memory bus would never see "
            "the receiver's change events (the demo runs everything in one process instead)"
        )
    if settings.secret_key is None:
        problems.append(
            f"{ENV_PREFIX}SECRET_KEY is not set: the processor cannot decrypt the connections' credentials"
        )
    return problems


def parse_shards(text: str | None, shard_count: int) -> list[int] | None:
    """`--shards 0,1,4-6` -> [0, 1, 4, 5, 6]; None means "spread with the other replicas"."""
    if text is None or not text.strip():
        return None
    chosen: set[int] = set()
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        try:
            low, high = int(first), int(last or first)
        except ValueError:
            raise typer.BadParameter(f"{part.strip()!r} is not a shard number or range") from None
        if not 0 <= low <= high < shard_count:
            raise typer.BadParameter(f"shards must be within 0..{shard_count - 1}")
        chosen.update(range(low, high + 1))
    return sorted(chosen)


def processor(
    shards: str | None = typer.Option(
        None,
        help="Consume only these shards (e.g. 0,1,4-6). Default: spread all shards over the replicas.",
    ),
    concurrency: int | None = typer.Option(
        None, min=1, help=f"Change events in flight per shard queue (default {ENV_PREFIX}PREFETCH)."
    ),
    port: int | None = typer.Option(
        None, help=f"Port of /healthz, /readyz, /metrics (default {ENV_PREFIX}PROCESSOR_HTTP_PORT)."
    ),
) -> None:
    """Run the processor: pull each hinted calendar's changes and write them to the other side."""
    overrides: dict[str, object] = {"prefetch": concurrency, "processor_http_port": port}
    settings = settings_or_exit(
        service=True, **{name: value for name, value in overrides.items() if value is not None}
    )
    ensure_port_free(settings.processor_http_host, settings.processor_http_port, "PROCESSOR_HTTP_PORT")
    problems = startup_problems(settings)
    if problems:
        fail("the processor cannot start:\n  " + "\n  ".join(problems), EXIT_CONFIG)
    run(check_store(settings))
    run(_serve(settings, parse_shards(shards, settings.shard_count)))


async def _serve(settings: Settings, shards: list[int] | None) -> None:
    import asyncio
    import contextlib
    import signal
    from collections.abc import Iterator

    import uvicorn

    class _ProbeServer(uvicorn.Server):
        """uvicorn for the probes only: SIGTERM belongs to the processor, which drains first."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    from calbridge.bus import open_bus
    from calbridge.probes import bind_probe_port, build_probe_app
    from calbridge.providers.registry import Registry
    from calbridge.store import create_engine
    from calbridge.store.engine import pool_kwargs
    from calbridge.store.quota_windows import open_quota_book
    from processor.opening import store_opener
    from processor.service import Processor

    # The port first: taken, it stops the processor before anything else is opened.
    sock = bind_probe_port(settings.processor_http_host, settings.processor_http_port, "PROCESSOR_HTTP_PORT")
    engine = create_engine(
        settings.database_url.get_secret_value(), **pool_kwargs(settings.database_pool_size)
    )
    opener = store_opener(engine, settings, Registry(settings, quota=open_quota_book(engine, settings)))
    bus = open_bus(settings)
    await bus.connect()
    worker = Processor(settings, bus, engine, opener, shards=shards)
    server = _ProbeServer(
        uvicorn.Config(
            build_probe_app(worker.readiness),
            host=settings.processor_http_host,
            port=settings.processor_http_port,
            access_log=False,
            log_config=None,
            lifespan="off",
        )
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    http = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await worker.start()
        await stopping.wait()
    finally:
        # Drain running passes (bounded by CALBRIDGE_DRAIN_TIMEOUT), then let go of everything.
        await worker.stop()
        await bus.close()
        server.should_exit = True
        await http
        await engine.dispose()
