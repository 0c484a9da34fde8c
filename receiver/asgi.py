"""The ASGI factory uvicorn imports in each worker process (`receiver.asgi:build_app`).

Each worker reads settings from the environment and opens its own bus connection; the command
`calbridge receiver` has already checked the configuration before starting uvicorn. With
CALBRIDGE_FREEBUSY_KEYS set, the worker also serves `POST /v1/freebusy`, its sources opened
from the store's connections when the worker starts.
"""

from __future__ import annotations

import gc
import inspect
from collections.abc import Callable

from starlette.applications import Starlette

from calbridge.bus.base import Bus
from calbridge.errors import ConfigurationError
from calbridge.freebusy.deploy import add_lifespan, deployed_lookup
from calbridge.logs import configure_logging
from calbridge.settings import Settings, load_settings
from receiver.app import create_app

__all__ = ["build_app", "find_open_bus"]


def find_open_bus() -> Callable[[Settings], Bus]:
    """Return `calbridge.bus.open_bus`, or raise ConfigurationError if this build has none."""
    import calbridge.bus as bus_package

    open_bus = getattr(bus_package, "open_bus", None)
    if open_bus is None:
        raise ConfigurationError(
            "this build has no event bus implementation (calbridge.bus.open_bus is missing); "
            "the receiver cannot publish anything"
        )
    return open_bus  # type: ignore[no-any-return]


# Young-generation threshold for a serving process. Each notification's objects stay alive until
# the broker confirms (tens of milliseconds under load, many requests at once), so at the default
# (700) nearly every young collection finds them alive, traverses them and promotes them, and the
# full collections they lead to traverse the whole heap.
_GC_YOUNG_THRESHOLD = 20_000


def tune_gc() -> None:
    """Collect less often while serving: freeze what start-up built, raise the young threshold."""
    gc.freeze()  # modules, settings, the app: never garbage, so out of every later collection
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(_GC_YOUNG_THRESHOLD, older, oldest)


def build_app() -> Starlette:
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    bus = find_open_bus()(settings)
    if inspect.isawaitable(bus):
        raise ConfigurationError("calbridge.bus.open_bus must return a Bus, not an awaitable")
    freebusy = deployed_lookup(settings)
    if freebusy is None:
        app = create_app(settings, bus)
    else:
        app = add_lifespan(
            create_app(settings, bus, freebusy=freebusy.lookup, meetings=freebusy.meetings), freebusy.running
        )
    tune_gc()
    return app
