"""Closing an access checker closes every provider it opened, whichever way the adapter closes."""

from __future__ import annotations

from calbridge.connections import Connection
from calbridge.pairs.access import RegistryAccessChecker
from calbridge.providers.base import CalendarAddress
from calbridge.providers.closing import close_provider
from calbridge.providers.graph.connection import GraphConnection


class AsyncClosing:
    """Closes with an async `close()` (as an SDK client does)."""

    def __init__(self) -> None:
        self.closed = False

    async def check_access(self, calendar: CalendarAddress) -> None:
        return None

    async def close(self) -> None:
        self.closed = True


class SyncClosing(AsyncClosing):
    """Closes with a plain `close()` (thread pools, HTTP sessions of blocking SDKs)."""

    def close(self) -> None:  # type: ignore[override]
        self.closed = True


class AcloseClosing(AsyncClosing):
    """Closes with `aclose()` (the adapters' own spelling)."""

    async def aclose(self) -> None:
        self.closed = True

    async def close(self) -> None:
        raise AssertionError("aclose is preferred when an adapter has both")


def graph(name: str) -> GraphConnection:
    return GraphConnection(name=name, tenant_id="t", client_id="c", client_secret="s", id=name)


async def test_given_opened_providers_when_the_checker_closes_then_every_provider_is_closed() -> None:
    kinds = {"a": AsyncClosing(), "b": SyncClosing(), "c": AcloseClosing()}

    def open_provider(connection: Connection) -> AsyncClosing:
        return kinds[connection.name]

    checker = RegistryAccessChecker(open_provider)  # type: ignore[arg-type]
    for name in kinds:
        await checker(graph(name), CalendarAddress("ann@example.com", "primary"))
    await checker.aclose()
    assert {name: provider.closed for name, provider in kinds.items()} == {"a": True, "b": True, "c": True}


async def test_given_a_provider_without_any_close_when_closed_then_nothing_fails() -> None:
    await close_provider(object())
