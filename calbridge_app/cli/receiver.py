"""`calbridge receiver`: serve the notification receiver with uvicorn (uvloop + httptools)."""

from __future__ import annotations

from typing import Any

import typer

from calbridge.settings import ENV_PREFIX, Settings
from calbridge_app.cli.common import EXIT_CONFIG, check_broker, ensure_port_free, fail, run, settings_or_exit

__all__ = ["receiver", "server_config", "startup_problems"]

# Seconds beyond the ack budget that shutdown waits for in-flight requests: each of them ends
# within the budget (confirmed, or 503), so none is cut off half-acknowledged.
_SHUTDOWN_MARGIN = 1.0


def startup_problems(settings: Settings) -> list[str]:
    """What in the configuration stops the receiver from doing its job, naming the variables."""
    problems = []
    if settings.signing_keys is None:
        problems.append(
            f"{ENV_PREFIX}SIGNING_KEYS is not set: without keys no notification can be authenticated "
            "(KID:SECRET[,KID:SECRET...], the same keys the renewer signs subscriptions with)"
        )
    if settings.amqp_url is None:
        problems.append(
            f"{ENV_PREFIX}AMQP_URL is not set: a receiver on the in-process memory bus would "
            "acknowledge notifications that no processor can ever see"
        )
    if settings.freebusy_keys is not None and settings.secret_key is None:
        problems.append(
            f"{ENV_PREFIX}FREEBUSY_KEYS is set but {ENV_PREFIX}SECRET_KEY is not: free/busy asks the "
            "providers through the stored connections, whose secrets it must decrypt"
        )
    return problems


def server_config(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run`."""
    return {
        "app": "receiver.asgi:build_app",
        "factory": True,
        "host": settings.receiver_host,
        "port": settings.receiver_port,
        "workers": settings.receiver_workers,
        "loop": "uvloop",
        "http": "httptools",
        "access_log": False,  # halves throughput (measured); structured logs cover refusals
        "log_config": None,  # uvicorn's own lines go through calbridge's logging, as JSON
        "lifespan": "on",
        "proxy_headers": True,
        "server_header": False,
        "timeout_graceful_shutdown": int(settings.ack_budget + _SHUTDOWN_MARGIN + 0.999),
    }


def receiver(
    host: str | None = typer.Option(None, help=f"Address to bind (default {ENV_PREFIX}RECEIVER_HOST)."),
    port: int | None = typer.Option(None, help=f"Port to bind (default {ENV_PREFIX}RECEIVER_PORT)."),
    workers: int | None = typer.Option(
        None, help=f"Worker processes (default {ENV_PREFIX}RECEIVER_WORKERS)."
    ),
) -> None:
    """Serve the notification receiver (Google push, Graph webhooks, probes, metrics)."""
    overrides = {"receiver_host": host, "receiver_port": port, "receiver_workers": workers}
    settings = settings_or_exit(
        service=True, **{name: value for name, value in overrides.items() if value is not None}
    )
    ensure_port_free(settings.receiver_host, settings.receiver_port, "RECEIVER_PORT")
    problems = startup_problems(settings)
    if problems:
        fail("the receiver cannot start:\n  " + "\n  ".join(problems), EXIT_CONFIG)

    from calbridge.errors import ConfigurationError
    from receiver.asgi import find_open_bus

    try:
        find_open_bus()
    except ConfigurationError as exc:
        fail(str(exc), EXIT_CONFIG)
    run(check_broker(settings))  # a refused login or vhost is the operator's to fix: say it now

    import uvicorn

    uvicorn.run(**server_config(settings))
