"""Where free/busy sources come from in a running deployment: one per stored connection.

Sources are built from the connections store (Google service account, Graph app registration,
EWS account). Until this build carries that store, asking for in-process sources is a
configuration error that says what to do instead.
"""

from __future__ import annotations

from calbridge.errors import ConfigurationError
from calbridge.freebusy.sources.base import FreeBusySource
from calbridge.settings import Settings

__all__ = ["open_sources"]


async def open_sources(settings: Settings) -> dict[str, FreeBusySource]:
    """Connection name -> source, for every connection in the store."""
    try:
        import calbridge.connections  # noqa: F401
    except ImportError:
        raise ConfigurationError(
            "this build has no connections store (calbridge.connections), so free/busy cannot reach "
            "providers in-process; query a running free/busy API with --url instead"
        ) from None
    raise ConfigurationError(
        "building free/busy sources from stored connections is not wired yet; "
        "query a running free/busy API with --url instead"
    )
