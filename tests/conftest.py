"""Fixtures shared by the whole suite: a throwaway RabbitMQ vhost and throwaway databases.

Integration tests get real RabbitMQ and PostgreSQL on loopback (scripts/services starts them).
Each test session works in its own vhost and its own databases, so runs never see each other.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from broker import RABBIT_HOST, drop_vhost, make_vhost
from hypothesis import settings
from loopback import loopback_only

from calbridge.store.migrate import upgrade

# CI explores the same examples on every run, so a red build is always reproducible; locally,
# Hypothesis keeps drawing new ones (and remembers failures in .hypothesis/).
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

PG_ADMIN_DSN = os.environ.get("CALBRIDGE_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def amqp_url() -> Iterator[str]:
    """A fresh, empty vhost on the real broker for one test."""
    vhost = make_vhost()
    yield f"amqp://guest:guest@{RABBIT_HOST}:5672/{vhost}"
    drop_vhost(vhost)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'calbridge.db'}"


async def create_pg_database() -> str:
    """Create an empty PostgreSQL database and return its SQLAlchemy URL."""
    name = f"calbridge_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN, timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    server = PG_ADMIN_DSN.split("://", 1)[1].rsplit("/", 1)[0]
    return f"postgresql+asyncpg://{server}/{name}"


async def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(PG_ADMIN_DSN, timeout=10)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    url = await create_pg_database()
    yield url
    await drop_pg_database(url)


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A migrated, empty store, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'calbridge.db'}"
        await asyncio.to_thread(upgrade, url)  # Alembic runs its own event loop
        yield url
        return
    url = await create_pg_database()
    await asyncio.to_thread(upgrade, url)
    yield url
    await drop_pg_database(url)


@pytest.fixture(autouse=True)
def _isolated_logging() -> Iterator[None]:
    """Commands run in-process configure structlog globally; give each test the config it found."""
    import structlog

    previous = structlog.get_config()
    yield
    structlog.configure(**previous)


@pytest.fixture(autouse=True, scope="session")
def _loopback_only() -> Iterator[None]:
    """Refuse any connection or name lookup outside loopback for the whole test session."""
    with loopback_only():
        yield
