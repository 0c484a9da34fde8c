"""`calbridge demo`: the whole system against the sandbox, in one process."""

from __future__ import annotations

import typer

from calbridge_app.cli.common import console, run

__all__ = ["demo"]


def demo(
    keep_running: bool = typer.Option(
        False, "--keep-running", help="Stay up after the scenario, for you to explore (Ctrl-C stops it)."
    ),
    step_timeout: float = typer.Option(
        20.0, "--step-timeout", min=1, help="Seconds a change may take to show on the other side."
    ),
) -> None:
    """Run the scripted demo: sandbox, receiver, processor and renewer in one process.

    People on both sides create, rename, move and delete events; each change is shown as it
    arrives on the other side, with its latency. Exit status 0 only if every change arrived,
    with no duplicate and no invitation mailed. Uses SQLite in a temporary folder and an
    in-process bus, or RabbitMQ / PostgreSQL when CALBRIDGE_AMQP_URL / CALBRIDGE_DATABASE_URL
    are set."""
    from calbridge_app.demo.session import DemoOptions, run_demo

    code = run(run_demo(console, DemoOptions(keep_running=keep_running, step_timeout=step_timeout)))
    raise typer.Exit(code)
