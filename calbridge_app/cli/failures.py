"""Every command's last line of defence: a failure becomes one line that names the fix.

Commands raise calbridge's own errors where they can say more; what escapes them (a database
driver's error, an aio-pika exception, a port already taken) is explained here, once for every
command, so a new command needs no handling of its own. Exit codes: 2 for usage and configuration
(the operator must change something), 1 for runtime failures (try again when the service is back).
A failure this module does not recognise keeps its traceback: it is a bug to report.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperGroup

from calbridge.errors import BusUnavailable, CalbridgeError, ConfigurationError

__all__ = ["EXIT_CONFIG", "EXIT_RUNTIME", "Explained", "ExplainingGroup", "explain"]

EXIT_CONFIG = 2
EXIT_RUNTIME = 1


@dataclass(frozen=True, slots=True)
class Explained:
    message: str
    code: int


def explain(exc: BaseException) -> Explained | None:
    """The line and exit code for `exc`, or None when it is not an operator's problem."""
    for error in _chain(exc):
        found = _explain_one(error)
        if found is not None:
            return found
    return None


def _explain_one(exc: BaseException) -> Explained | None:
    if isinstance(exc, ConfigurationError):
        return Explained(str(exc), EXIT_CONFIG)
    if isinstance(exc, BusUnavailable):
        return Explained(str(exc), EXIT_RUNTIME)
    database = _database_error(exc)
    if database is not None:
        return _as_explained(database)
    broker = _broker_error(exc)
    if broker is not None:
        return _as_explained(broker)
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return Explained(
            f"the port is already in use ({exc.strerror}): stop what listens there or choose "
            "another port (--port)",
            EXIT_CONFIG,
        )
    if isinstance(exc, CalbridgeError):
        return Explained(" ".join(str(exc).split()) or type(exc).__name__, EXIT_RUNTIME)
    return None


def _as_explained(error: CalbridgeError) -> Explained:
    code = EXIT_CONFIG if isinstance(error, ConfigurationError) else EXIT_RUNTIME
    return Explained(str(error), code)


def _database_error(exc: BaseException) -> CalbridgeError | None:
    module = type(exc).__module__
    raised_by_driver = module.startswith(("sqlalchemy", "asyncpg", "sqlite3")) or (
        isinstance(exc, OSError) and _from_driver(exc)
    )
    if not raised_by_driver:
        return None
    from calbridge.store.failures import explain_database_error

    return explain_database_error(exc, _setting("CALBRIDGE_DATABASE_URL", "database_url") or "")


def _broker_error(exc: BaseException) -> CalbridgeError | None:
    if not type(exc).__module__.startswith(("aiormq", "aio_pika", "pamqp")):
        return None
    from calbridge.bus.failures import explain_broker_error

    return explain_broker_error(exc, _setting("CALBRIDGE_AMQP_URL", "amqp_url") or "amqp://?/")


def _from_driver(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if f"{os.sep}asyncpg{os.sep}" in name or f"{os.sep}aiosqlite{os.sep}" in name:
            return True
        tb = tb.tb_next
    return False


def _setting(variable: str, field: str) -> str | None:
    """The configured URL, normalised as the settings read it (the raw environment if invalid)."""
    from calbridge.settings import load_settings

    try:
        value = getattr(load_settings(), field)
    except ConfigurationError:
        return os.environ.get(variable)
    return None if value is None else str(value.get_secret_value())


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if isinstance(current, BaseExceptionGroup):
            for inner in current.exceptions:
                yield from _chain(inner)
        current = current.__cause__ or current.__context__


class ExplainingGroup(TyperGroup):
    """The root command group: what a command lets escape is explained in one line, or, when it
    is not an operator's problem, left to print its traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except typer.Exit:
            raise
        except Exception as exc:
            explained = explain(exc)
            if explained is None:
                raise
            from calbridge_app.cli.common import err_console

            err_console.print(f"[bold red]error:[/] {explained.message}", highlight=False, markup=True)
            raise typer.Exit(explained.code) from None
