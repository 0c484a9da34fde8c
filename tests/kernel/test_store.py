"""The store migrates from empty on both engines, twice, and round-trips aware datetimes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime

import sqlalchemy as sa

from calbridge.store import create_engine, upsert
from calbridge.store.migrate import current_revision, head_revision, upgrade
from calbridge.store.tables import calendars, connections


async def test_given_empty_sqlite_when_upgraded_twice_then_at_head(sqlite_url: str) -> None:
    await asyncio.to_thread(upgrade, sqlite_url)
    await asyncio.to_thread(upgrade, sqlite_url)
    assert await current_revision(sqlite_url) == head_revision()


async def test_given_empty_postgres_when_upgraded_twice_then_at_head(postgres_url: str) -> None:
    await asyncio.to_thread(upgrade, postgres_url)
    await asyncio.to_thread(upgrade, postgres_url)
    assert await current_revision(postgres_url) == head_revision()


def test_cli_db_upgrade_is_idempotent(sqlite_url: str) -> None:
    env = {**os.environ, "CALBRIDGE_DATABASE_URL": sqlite_url}
    cli = [sys.executable, "-m", "calbridge_app", "db", "upgrade"]
    first = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=60)
    second = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert "migrated from empty" in first.stdout
    assert second.returncode == 0, second.stderr
    assert "already at revision" in second.stdout


def test_cli_db_upgrade_names_an_unreachable_database_without_its_password() -> None:
    env = {**os.environ, "CALBRIDGE_DATABASE_URL": "postgresql+asyncpg://u:hunter2-secret@127.0.0.1:9/x"}
    result = subprocess.run(
        [sys.executable, "-m", "calbridge_app", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "cannot reach the database" in result.stderr
    assert "hunter2-secret" not in result.stderr + result.stdout


async def test_upsert_and_aware_datetimes_on_both_engines(database_url: str) -> None:
    engine = create_engine(database_url)
    created = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    try:
        async with engine.begin() as conn:
            row = {
                "id": "k1",
                "provider": "google",
                "name": "acme",
                "settings": {"a": 1},
                "created_at": created,
            }
            await upsert(conn, connections, row, key=["id"])
            await upsert(conn, connections, {**row, "settings": {"a": 2}}, key=["id"])
            await upsert(
                conn,
                calendars,
                {
                    "id": "c1",
                    "connection_id": "k1",
                    "provider": "google",
                    "owner": "a@x.test",
                    "calendar": "primary",
                },
                key=["id"],
            )
        async with engine.connect() as conn:
            stored = (await conn.execute(sa.select(connections))).one()
        assert stored.settings == {"a": 2}
        assert stored.created_at == created and stored.created_at.tzinfo is not None
    finally:
        await engine.dispose()


async def _schema_differences(url: str) -> list[object]:
    """What alembic's autogenerate sees between the migrated database and `tables.metadata`."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from calbridge.store.tables import metadata

    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: list(compare_metadata(MigrationContext.configure(sync), metadata))
            )
    finally:
        await engine.dispose()


async def test_given_the_migrations_then_the_database_is_the_tables_module_on_both_engines(
    sqlite_url: str, postgres_url: str
) -> None:
    """A column added to `tables.py` without its migration (or the reverse) shows here."""
    assert await _schema_differences(sqlite_url) == []
    assert await _schema_differences(postgres_url) == []
