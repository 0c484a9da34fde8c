"""`calbridge demo`: the whole system against the sandbox, in one process."""

from __future__ import annotations

import os

import typer

from calbridge.settings import ENV_PREFIX
from calbridge_app.cli.common import EXIT_CONFIG, console, fail, run

__all__ = ["demo"]

_STORE = f"{ENV_PREFIX}DATABASE_URL"
_BROKER = f"{ENV_PREFIX}AMQP_URL"


def demo(
    keep_running: bool = typer.Option(
        False, "--keep-running", help="Stay up after the scenario, for you to explore (Ctrl-C stops it)."
    ),
    step_timeout: float = typer.Option(
        20.0, "--step-timeout", min=1, help="Seconds a change may take to show on the other side."
    ),
    database_url: str | None = typer.Option(
        None, "--database-url", help="Run on this database instead of a throwaway SQLite file."
    ),
    amqp_url: str | None = typer.Option(
        None, "--amqp-url", help="Run on this RabbitMQ instead of the in-process bus."
    ),
) -> None:
    """Run the scripted demo: sandbox, receiver, processor and renewer in one process.

    People on both sides create, rename, move and delete events; each change is shown as it
    arrives on the other side, with its latency. Exit status 0 only if every change arrived,
    with no duplicate and no invitation mailed. Uses SQLite in a temporary folder and an
    in-process bus, or the PostgreSQL / RabbitMQ named with --database-url / --amqp-url. It
    never uses CALBRIDGE_DATABASE_URL or CALBRIDGE_AMQP_URL from the environment: those name
    an operator's real store and broker, which the demo's throwaway connections would spoil."""
    from calbridge_app.demo.session import DemoOptions, run_demo
    from calbridge_app.demo.stack import StackOptions

    exported = [name for name in (_STORE, _BROKER) if os.environ.get(name)]
    chosen = {_STORE: database_url, _BROKER: amqp_url}
    unasked = [name for name in exported if chosen[name] is None]
    if unasked:
        flags = " and ".join("--database-url" if name == _STORE else "--amqp-url" for name in unasked)
        fail(
            f"{' and '.join(unasked)} set in this shell: the demo will not write into a store or broker "
            f"it did not create; pass {flags} to use it on purpose, or unset it",
            EXIT_CONFIG,
        )
    environ = {key: value for key, value in os.environ.items() if key not in chosen}
    environ.update({name: value for name, value in chosen.items() if value is not None})
    options = DemoOptions(
        keep_running=keep_running, step_timeout=step_timeout, stack=StackOptions(environ=environ)
    )
    code = run(run_demo(console, options))
    raise typer.Exit(code)
