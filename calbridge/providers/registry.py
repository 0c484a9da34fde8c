"""Which adapter opens a connection: a small registry the provider adapters fill.

An adapter module registers an opener for its provider (`register(Provider.GOOGLE, open_google)`)
when imported; `open_provider(connection)` returns a `CalendarProvider` for a stored connection.
Until an adapter is registered, opening a connection of that provider raises a ProviderError that
says so. Tests register a fake of the Protocol.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from calbridge.connections import Connection
from calbridge.errors import ProviderError
from calbridge.events import Provider
from calbridge.providers.base import CalendarProvider

__all__ = ["AdapterMissing", "ProviderOpener", "open_provider", "register", "registered"]

ProviderOpener = Callable[[Connection], CalendarProvider]

# Adapter modules imported on first use, so registering needs no import from the caller.
ADAPTER_MODULES: dict[Provider, str] = {
    Provider.GOOGLE: "calbridge.providers.google.adapter",
    Provider.GRAPH: "calbridge.providers.graph.adapter",
    Provider.EWS: "calbridge.providers.ews.adapter",
}

_openers: dict[Provider, ProviderOpener] = {}


class AdapterMissing(ProviderError):
    """No adapter is registered for this provider in this build."""


def register(provider: Provider, opener: ProviderOpener) -> None:
    _openers[provider] = opener


@contextmanager
def registered(provider: Provider, opener: ProviderOpener) -> Iterator[None]:
    """Register an opener for the duration of a block (tests), restoring what was there."""
    before = _openers.get(provider)
    _openers[provider] = opener
    try:
        yield
    finally:
        if before is None:
            _openers.pop(provider, None)
        else:
            _openers[provider] = before


def _load_adapter(provider: Provider) -> None:
    try:
        importlib.import_module(ADAPTER_MODULES[provider])
    except ModuleNotFoundError as exc:
        if exc.name != ADAPTER_MODULES[provider]:
            raise  # the adapter exists but one of its own imports is missing: say that


def open_provider(connection: Connection) -> CalendarProvider:
    """A CalendarProvider for this connection; AdapterMissing if none is registered."""
    provider = Provider(connection.provider)
    if provider not in _openers:
        _load_adapter(provider)
    opener = _openers.get(provider)
    if opener is None:
        raise AdapterMissing(f"no {provider} adapter is available in this build of calbridge")
    return opener(connection)
