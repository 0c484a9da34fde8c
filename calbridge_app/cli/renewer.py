"""`calbridge renewer`: keep every watched calendar subscribed (Google channels, Graph
subscriptions), handle Graph lifecycle events, publish reconciliation hints; serve probes."""

from __future__ import annotations

import typer

from calbridge.settings import ENV_PREFIX, Settings
from calbridge_app.cli.common import EXIT_CONFIG, check_store, ensure_port_free, fail, run, settings_or_exit

__all__ = ["renewer", "startup_problems"]


def startup_problems(settings: Settings) -> list[str]:
    """What in the configuration stops the renewer from doing its job, naming the variables."""
    problems = []
    if settings.signing_keys is None:
        problems.append(
            f"{ENV_PREFIX}SIGNING_KEYS is not set: subscriptions need signed tokens "
            "(the same keys the receiver verifies with)"
        )
    if settings.public_url is None:
        problems.append(f"{ENV_PREFIX}PUBLIC_URL is not set: providers need the receiver's address")
    if settings.secret_key is None:
        problems.append(
            f"{ENV_PREFIX}SECRET_KEY is not set: the stored connections' credentials cannot be opened"
        )
    if settings.amqp_url is None:
        problems.append(
            f"{ENV_PREFIX}AMQP_URL is not set: lifecycle events and resync hints travel on RabbitMQ"
        )
    return problems


def renewer(
    once: bool = typer.Option(False, "--once", help="Run one pass and exit (a cron job, a check)."),
    port: int | None = typer.Option(
        None, help=f"Port of /healthz, /readyz, /metrics (default {ENV_PREFIX}RENEWER_HTTP_PORT)."
    ),
) -> None:
    """Keep subscriptions alive: create, renew ahead of expiry, recreate what was lost, stop
    what no pair needs; resync calendars on a schedule and after any loss."""
    settings = settings_or_exit(service=True, **({"renewer_http_port": port} if port is not None else {}))
    ensure_port_free(settings.renewer_http_host, settings.renewer_http_port, "RENEWER_HTTP_PORT")
    problems = startup_problems(settings)
    if problems:
        fail("the renewer cannot start:\n  " + "\n  ".join(problems), EXIT_CONFIG)
    from subscriptions.service import serve_renewer

    run(check_store(settings))
    run(serve_renewer(settings, once=once))
