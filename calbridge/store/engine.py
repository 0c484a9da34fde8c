"""The async engine, set up the same way for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

__all__ = ["create_engine", "is_sqlite", "pool_kwargs", "upsert"]


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """The engine for `url`; `kwargs` go to SQLAlchemy (a service passes its pool size:
    `pool_kwargs`)."""
    if is_sqlite(url):
        # SQLite lets one connection write at a time; with several pooled connections, concurrent
        # writers wait in SQLite's busy handler, which sleeps (1, 2, 5 ... 100 ms) and left a
        # processor's core idle while it waited. One connection queues them in the pool instead,
        # without sleeping (bench/README.md, "Processor").
        kwargs = {k: v for k, v in kwargs.items() if k not in ("pool_size", "max_overflow")}  # always one
        pool = {"pool_size": 1, "max_overflow": 0} if ":memory:" not in url else {}
        engine = create_async_engine(url, connect_args={"timeout": 30}, **{**pool, **kwargs})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the one writer
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    pool = {"pool_size": 10, "max_overflow": 10, **kwargs}  # per process: see docs/scale.md
    return create_async_engine(url, pool_pre_ping=True, **pool)


async def upsert(
    conn: AsyncConnection,
    table: sa.Table,
    values: Mapping[str, Any],
    key: Sequence[str],
    update: Sequence[str] | None = None,
) -> None:
    """INSERT ... ON CONFLICT (key) DO UPDATE, on either engine."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**values)
    columns = update if update is not None else [c for c in values if c not in key]
    if columns:
        stmt = stmt.on_conflict_do_update(
            index_elements=list(key), set_={c: stmt.excluded[c] for c in columns}
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(key))
    await conn.execute(stmt)


def pool_kwargs(pool_size: int) -> dict[str, int]:
    """A PostgreSQL pool of `pool_size` connections, and as many again in a burst."""
    return {"pool_size": pool_size, "max_overflow": pool_size}
