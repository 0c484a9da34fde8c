"""What every command shares: one console, settings loaded with readable errors, exit codes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console

from calbridge.errors import BusUnavailable, ConfigurationError
from calbridge.logs import configure_logging
from calbridge.settings import ENV_PREFIX, Settings, load_settings

__all__ = [
    "EXIT_CONFIG",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "LOG_CHOICE",
    "LogChoice",
    "check_broker",
    "check_store",
    "confirm_or_exit",
    "console",
    "ensure_port_free",
    "err_console",
    "fail",
    "log_choice",
    "progress_bar",
    "run",
    "settings_or_exit",
]

T = TypeVar("T")

console = Console(soft_wrap=True)  # piped output keeps whole lines: scripts read them
err_console = Console(stderr=True, soft_wrap=True)

EXIT_CONFIG = 2
EXIT_USAGE = 2  # as click's own usage errors: the command line asks for something impossible
EXIT_UNAVAILABLE = 1  # a runtime failure: a service it needs (the broker) could not be reached; try again


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@dataclass(frozen=True, slots=True)
class LogChoice:
    """What the person asked of the command's own log lines (`-v`, `--log-format`)."""

    verbosity: int = 0
    format: str | None = None


def settings_or_exit(*, service: bool = False, **overrides: object) -> Settings:
    """Settings, or exit 2 with the variable that is wrong. Services log as configured (JSON by
    default); every other command talks to a person: readable lines, warnings and errors only,
    unless `-v` (info; `-vv` debug) or `--log-format json` asks for more."""
    try:
        settings = load_settings(**overrides)
    except ConfigurationError as exc:
        fail(str(exc), EXIT_CONFIG)
    if service:
        configure_logging(settings.log_format, settings.log_level)
    else:
        choice = log_choice()
        level = {0: "warning", 1: "info"}.get(choice.verbosity, "debug")
        if choice.format == "json" and choice.verbosity == 0:
            level = settings.log_level
        configure_logging(choice.format or "console", level)
    return settings


# Set once per invocation by the root callback (`calbridge -v ...`); read by settings_or_exit.
LOG_CHOICE: ContextVar[LogChoice | None] = ContextVar("calbridge_log_choice", default=None)


def log_choice() -> LogChoice:
    return LOG_CHOICE.get() or LogChoice()


@contextmanager
def progress_bar(total: int, label: str) -> Iterator[Callable[[], None]]:
    """A progress bar on the terminal for a long task; yields the function that advances it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    with progress:
        task = progress.add_task(label, total=total)
        yield lambda: progress.advance(task)


def confirm_or_exit(question: str) -> None:
    """Ask before a destructive step; without a terminal to ask on, refuse and say how to agree
    (`--yes`), so a script never hangs on a prompt nor destroys without being told to."""
    import sys

    if not sys.stdin.isatty():
        fail(f"{question} Not asked without a terminal: add --yes to go ahead", EXIT_CONFIG)
    if not typer.confirm(question, default=False):
        fail("nothing was changed", 1)


def ensure_port_free(host: str, port: int, variable: str | None = None) -> None:
    """Exit 2 naming the port when something already listens there, before a service starts
    (the servers themselves would log a bind error and exit 3 with no hint of the setting)."""
    if port == 0:
        return
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            fail(
                f"port {port} on {host} is already in use ({exc.strerror}): stop what listens there "
                f"or choose another port ({f'{ENV_PREFIX}{variable} or ' if variable else ''}--port)",
                EXIT_CONFIG,
            )


async def check_store(settings: Settings) -> None:
    """Read the store once before a service starts: a URL, role, database or schema that is wrong
    is the operator's to fix, and says so in one line instead of a retry loop."""
    import sqlalchemy as sa

    from calbridge.store.engine import create_engine
    from calbridge.store.failures import explain_database_error

    url = settings.database_url.get_secret_value()
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1 FROM pairs LIMIT 1"))
    except Exception as exc:
        explained = explain_database_error(exc, url)
        if explained is None:
            raise
        raise explained from exc
    finally:
        await engine.dispose()


async def check_broker(settings: Settings) -> None:
    """Connect once before a service that waits for the broker starts: a broker that refuses the
    login or the virtual host, or lacks the consistent-hash plugin, is the operator's to fix and
    stops it with one line (exit 2). A broker that is only unreachable does not: the service
    starts and waits for it (the receiver answers 503 meanwhile)."""
    if settings.amqp_url is None:
        return
    import aio_pika

    from calbridge.bus.failures import explain_broker_error

    url = settings.amqp_url.get_secret_value()
    try:
        connection = await asyncio.wait_for(aio_pika.connect(url, timeout=5), 10)
    except Exception as exc:
        explained = explain_broker_error(exc, url)
        if isinstance(explained, ConfigurationError):
            raise explained from None
        return
    await connection.close()


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; configuration errors found late, and a broker that cannot be
    reached, still exit with one line saying so (no traceback)."""
    try:
        return asyncio.run(coro)
    except ConfigurationError as exc:
        fail(str(exc), EXIT_CONFIG)
    except BusUnavailable as exc:
        fail(str(exc), EXIT_UNAVAILABLE)
