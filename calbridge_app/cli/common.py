"""What every command shares: one console, settings loaded with readable errors, exit codes."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console

from calbridge.errors import BusUnavailable, ConfigurationError
from calbridge.logs import configure_logging
from calbridge.settings import ENV_PREFIX, Settings, load_settings

__all__ = ["EXIT_CONFIG", "EXIT_UNAVAILABLE", "console", "err_console", "fail", "run", "settings_or_exit"]

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)

EXIT_CONFIG = 2
EXIT_UNAVAILABLE = 3  # a service it needs (the broker) could not be reached: try again later


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def settings_or_exit(**overrides: object) -> Settings:
    try:
        settings = load_settings(**overrides)
    except ConfigurationError as exc:
        fail(str(exc), EXIT_CONFIG)
    configure_logging(settings.log_format, settings.log_level)
    return settings


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; configuration errors found late, and a broker that cannot be
    reached, still exit with one line saying so (no traceback)."""
    try:
        return asyncio.run(coro)
    except ConfigurationError as exc:
        fail(str(exc), EXIT_CONFIG)
    except BusUnavailable as exc:
        fail(f"{exc}; is RabbitMQ up and {ENV_PREFIX}AMQP_URL right?", EXIT_UNAVAILABLE)
