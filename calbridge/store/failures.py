"""What went wrong reaching the database, said in one line that names the fix.

SQLAlchemy and the drivers raise a dozen shapes (a DBAPIError wrapping asyncpg's error with its
SQLSTATE, a bare ConnectionRefusedError, sqlite3's OperationalError). `explain_database_error`
turns them into calbridge's own: `ConfigurationError` where the URL or the server's setup is wrong
(an unknown role, a wrong password, a missing database, a file that cannot be opened, a schema
that was never migrated) and `DatabaseUnavailable` where the server could not be reached.
Messages show the URL without its password.
"""

from __future__ import annotations

import socket

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from calbridge.errors import CalbridgeError, ConfigurationError

__all__ = ["DatabaseUnavailable", "explain_database_error"]

_AUTH_STATES = {"28000", "28P01"}  # invalid_authorization_specification, invalid_password
_NO_DATABASE = "3D000"  # invalid_catalog_name
_NO_TABLE = "42P01"  # undefined_table


class DatabaseUnavailable(CalbridgeError):
    """The database server could not be reached; the message says where."""


def explain_database_error(exc: BaseException, url: str) -> CalbridgeError | None:
    """calbridge's error for a failure reaching or using the database at `url`, or None when
    `exc` is not about the database."""
    where = _where(url)
    text = _first_line(exc)
    state = _sqlstate(exc)
    if state in _AUTH_STATES:
        return ConfigurationError(
            f"the database at {where} refused the login ({text}): "
            "check the user and password in CALBRIDGE_DATABASE_URL"
        )
    if state == _NO_DATABASE:
        name = make_url(url).database
        return ConfigurationError(
            f"the database server at {where} has no database {name!r}: "
            f"create it (createdb {name}) or fix CALBRIDGE_DATABASE_URL"
        )
    if state == _NO_TABLE or "no such table" in text:
        return ConfigurationError(
            f"the database at {where} has no calbridge tables yet: run `calbridge db upgrade`"
        )
    if "unable to open database file" in text:
        return ConfigurationError(
            f"cannot open the SQLite file of {where}: does its folder exist and is it writable?"
        )
    if isinstance(exc, socket.gaierror):
        return DatabaseUnavailable(f"cannot reach the database at {where}: the host name is unknown")
    lost = isinstance(exc, DBAPIError) and exc.connection_invalidated
    if isinstance(exc, OSError | TimeoutError) or lost:
        return DatabaseUnavailable(f"cannot reach the database at {where}: {text}")
    if isinstance(exc, DBAPIError):
        return DatabaseUnavailable(f"the database at {where} failed: {text}")
    return None


def _where(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparsable URL)"


def _sqlstate(exc: BaseException) -> str | None:
    seen: BaseException | None = exc
    for _ in range(5):  # the driver's own error sits a few causes deep
        if seen is None:
            return None
        state = getattr(seen, "sqlstate", None) or getattr(seen, "pgcode", None)
        if isinstance(state, str):
            return state
        seen = getattr(seen, "orig", None) or seen.__cause__
    return None


def _first_line(exc: BaseException) -> str:
    inner = getattr(exc, "orig", None) or exc
    text = str(inner).strip() or type(inner).__name__
    # SQLAlchemy prefixes "(driver.Error) "; the driver's sentence is what a person can act on.
    if text.startswith("(") and ") " in text:
        text = text.split(") ", 1)[1]
    return text.splitlines()[0]
