"""Checks every connection type shares: its name, its URLs (the CA: `ca.py`).

Each provider's connection type (`calbridge/providers/<name>/connection.py`) checks its own
fields and calls these for the ones all of them have, so that the same mistake gets the same
message whatever the provider.
"""

from __future__ import annotations

from urllib.parse import urlparse

from calbridge.errors import ConnectionInvalid

__all__ = ["check_name", "check_url"]


def check_name(name: str) -> None:
    if not name or len(name) > 200 or not all(c.isalnum() or c in "-_." for c in name):
        raise ConnectionInvalid(f"connection name {name!r} must be 1-200 letters, digits, '-', '_' or '.'")


def check_url(value: str | None, what: str, *, https: bool = False) -> None:
    if value is None:
        return
    parsed = urlparse(value)
    schemes = ("https",) if https else ("http", "https")
    if parsed.scheme not in schemes or not parsed.netloc:
        raise ConnectionInvalid(f"{what} must be an {' or '.join(schemes)} URL, got {value!r}")
