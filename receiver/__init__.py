"""The receiver: authenticates provider push notifications and publishes change events."""

from __future__ import annotations

from receiver.app import create_app

__all__ = ["create_app"]
