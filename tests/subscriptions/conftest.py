"""Fixtures of the pairs tests: fake adapters registered, a recording bus, a seeded store."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import structlog
from cryptography.fernet import Fernet
from pair_fakes import Access, RecordingBus, seed_connections, service_account
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.connections import Connection
from calbridge.secretbox import SecretBox, parse_secret_keys
from calbridge.store.engine import create_engine
from calbridge_app.cli import context as cli_context


@pytest.fixture
def access(monkeypatch: pytest.MonkeyPatch) -> Access:
    """Scripted access answers: `RegistryAccessChecker(access.open)` checks through fake Google and
    Graph adapters, and so do the `calbridge` commands (their registry's Google and Graph openers
    are the fake's; EWS stays real)."""
    scripted = Access()
    monkeypatch.setattr(cli_context, "provider_registry", scripted.registry)
    return scripted


@pytest.fixture
def secret_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def box(secret_key: str) -> SecretBox:
    return SecretBox(parse_secret_keys(secret_key))


@pytest.fixture
def bus() -> RecordingBus:
    return RecordingBus()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connections(engine: AsyncEngine, box: SecretBox) -> list[Connection]:
    return await seed_connections(engine, box)


@pytest.fixture
def service_account_file(tmp_path: Path) -> Path:
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps(service_account()))
    return path


@pytest.fixture(autouse=True)
def _logging_back_to_defaults() -> Iterator[None]:
    """CLI tests configure logging to CliRunner's stderr, which is closed after the command; later
    tests must not log into it."""
    yield
    structlog.reset_defaults()
