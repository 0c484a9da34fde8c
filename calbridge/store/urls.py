"""Database URLs as people write them, turned into the async drivers calbridge runs on.

`sqlite:///calbridge.db`, `postgres://...` and `postgresql://...` are what an operator copies from
a provider's console or another tool; SQLAlchemy reads them as the synchronous drivers
(`pysqlite`, `psycopg2`), which calbridge does not use. They are accepted and mapped to
`sqlite+aiosqlite` and `postgresql+asyncpg`; any other scheme, or text that is no URL at all, is
a configuration error that says what is accepted. Passwords never appear in what this module says.
"""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

__all__ = ["ACCEPTED", "masked", "normalize_database_url"]

ACCEPTED = "sqlite:///FILE or postgresql://USER:PASSWORD@HOST:PORT/DATABASE"

# Driver names that mean "this database, through the driver calbridge ships".
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def normalize_database_url(raw: str) -> str:
    """The async URL calbridge connects with; ValueError (without the password) if it is none."""
    text = raw.strip()
    scheme = text.partition("://")[0].lower()
    if scheme not in _ASYNC_DRIVERS:
        shown = scheme if "://" in text else "no scheme"
        raise ValueError(f"{shown!r} is not a database calbridge supports: use {ACCEPTED}")
    rest = text.partition("://")[2]
    try:
        url = make_url(f"{_ASYNC_DRIVERS[scheme]}://{rest}")
    except ArgumentError:
        raise ValueError(f"not a database URL: use {ACCEPTED}") from None
    if url.get_backend_name() == "postgresql" and not url.database:
        raise ValueError("the URL names no database: end it with /DATABASE")
    return url.render_as_string(hide_password=False)


def masked(raw: str) -> str:
    """The URL with its password replaced by ***, for messages and `config show`."""
    try:
        url: URL = make_url(raw)
    except ArgumentError:
        return "(unparsable URL)"
    return url.render_as_string(hide_password=True)
