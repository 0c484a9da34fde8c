"""The store: SQLAlchemy Core tables, an async engine and Alembic migrations."""

from calbridge.store.engine import create_engine, upsert
from calbridge.store.tables import metadata

__all__ = ["create_engine", "metadata", "upsert"]
