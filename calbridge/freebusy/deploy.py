"""Free/busy in a deployed process: the `Lookup` (and the meeting list's `MeetingLookup`) from
settings, and the lifespan that opens their sources from the store at start and closes them at
shutdown.

Routes are built before any event loop runs (uvicorn's app factory is synchronous), so the
`Lookup` holds a mapping that the lifespan fills; the directory re-reads calendar owners from
the store every minute (`configure.StoreDirectory`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette

from calbridge.freebusy.configure import build_lookup, keys_from, limits_from
from calbridge.freebusy.orchestrate import Lookup
from calbridge.freebusy.source import FreeBusySource
from calbridge.freebusy.wiring import open_meeting_sources, serving_sources
from calbridge.meetings.configure import build_meeting_lookup
from calbridge.meetings.lookup import MeetingLookup
from calbridge.meetings.source import MeetingSource
from calbridge.settings import Settings

__all__ = ["DeployedLookup", "add_lifespan", "create_deployed_app", "deployed_lookup"]


@dataclass
class DeployedLookup:
    lookup: Lookup
    running: Callable[[], AbstractAsyncContextManager[None]]  # opens sources; closes them and the engine
    meetings: MeetingLookup | None = None


def deployed_lookup(settings: Settings) -> DeployedLookup | None:
    """The lookup for these settings; None when CALBRIDGE_FREEBUSY_KEYS is unset (not served)."""
    if not keys_from(settings):
        return None
    from calbridge.store.engine import create_engine

    engine = create_engine(settings.database_url.get_secret_value())  # connects on first use
    sources: dict[str, FreeBusySource] = {}
    meeting_sources: dict[str, MeetingSource] = {}
    lookup = build_lookup(settings, sources, engine=engine)
    meetings = build_meeting_lookup(settings, meeting_sources, engine=engine)

    @asynccontextmanager
    async def running() -> AsyncIterator[None]:
        try:
            async with (
                serving_sources(settings, sources),
                serving_sources(settings, meeting_sources, open_meeting_sources),
            ):
                yield
        finally:
            await engine.dispose()

    return DeployedLookup(lookup, running, meetings)


def add_lifespan(app: Starlette, outer: Callable[[], AbstractAsyncContextManager[None]]) -> Starlette:
    """Run `outer` around the app's own lifespan (sources open before the app starts serving)."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(target: Any) -> AsyncIterator[Any]:
        async with outer(), inner(target) as state:
            yield state

    app.router.lifespan_context = lifespan
    return app


def create_deployed_app(settings: Settings) -> Starlette:
    """The free/busy API alone (POST /v1/freebusy, GET /v1/meetings, GET /openapi.json, GET /healthz)."""
    from calbridge.errors import ConfigurationError
    from calbridge.freebusy.app import create_freebusy_app

    deployed = deployed_lookup(settings)
    if deployed is None:
        raise ConfigurationError("CALBRIDGE_FREEBUSY_KEYS is not set; the free/busy API needs bearer keys")
    app = create_freebusy_app(
        deployed.lookup, keys=keys_from(settings), limits=limits_from(settings), meetings=deployed.meetings
    )
    return add_lifespan(app, deployed.running)
