"""What every command shares: one console, settings loaded with readable errors, exit codes."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console

from calbridge.errors import ConfigurationError
from calbridge.logs import configure_logging
from calbridge.settings import Settings, load_settings

__all__ = [
    "LOG_CHOICE",
    "LogChoice",
    "console",
    "err_console",
    "fail",
    "log_choice",
    "run",
    "settings_or_exit",
]

T = TypeVar("T")

console = Console(soft_wrap=True)  # piped output keeps whole lines: scripts read them
err_console = Console(stderr=True, soft_wrap=True)

EXIT_CONFIG = 2


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


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; configuration errors found late still exit with a message."""
    try:
        return asyncio.run(coro)
    except ConfigurationError as exc:
        fail(str(exc), EXIT_CONFIG)
