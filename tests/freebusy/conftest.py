"""Shared by the free/busy tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Commands under test configure structlog globally; put it back after each test."""
    previous = structlog.get_config()
    yield
    structlog.configure(**previous)
