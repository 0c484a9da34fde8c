"""The free/busy API on its own, for uvicorn: `uvicorn --factory calbridge_app.freebusy_asgi:build_app`.

Settings come from the environment (CALBRIDGE_DATABASE_URL, CALBRIDGE_SECRET_KEY,
CALBRIDGE_FREEBUSY_KEYS, ...); each worker opens its own sources from the store.
"""

from __future__ import annotations

from starlette.applications import Starlette

from calbridge.freebusy.deploy import create_deployed_app
from calbridge.logs import configure_logging
from calbridge.settings import load_settings

__all__ = ["build_app"]


def build_app() -> Starlette:
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    return create_deployed_app(settings)
