"""`ProviderCache`: one provider per connection, reopened when the stored connection changes,
the old one closed only once no pass holds it (fast: a fake opener, fake versions, a fake clock)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from calbridge.events import Provider
from calbridge.providers.base import CalendarProvider
from processor.providers import ProviderCache


@dataclass
class Opened:
    """What the opener handed out: the credentials it was opened with, and whether it was closed."""

    credentials: str
    provider: Provider = Provider.GRAPH
    closed: bool = False

    async def aclose(self) -> None:
        self.closed = True


@dataclass
class Store:
    """The stored connections' credentials; their version is what the cache compares."""

    credentials: dict[str, str] = field(default_factory=lambda: {"graph": "secret-1"})
    opened: list[Opened] = field(default_factory=list)
    version_reads: int = 0

    async def open(self, connection_id: str) -> CalendarProvider:
        opened = Opened(self.credentials[connection_id])
        self.opened.append(opened)
        return opened  # type: ignore[return-value]  # only what the cache touches

    async def versions(self, connection_ids: Collection[str]) -> Mapping[str, str]:
        self.version_reads += 1
        return {c: self.credentials[c] for c in connection_ids if c in self.credentials}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def cache(store: Store, clock: Clock, recheck: float = 30.0) -> ProviderCache:
    return ProviderCache(store.open, versions=store, recheck=recheck, clock=clock)


def credentials_of(provider: CalendarProvider) -> str:
    return provider.inner.credentials  # type: ignore[attr-defined, no-any-return]


async def test_given_a_replaced_connection_when_the_recheck_is_due_then_new_passes_use_new_credentials() -> (
    None
):
    store, clock = Store(), Clock()
    providers = cache(store, clock)
    async with providers.lease("graph") as first:
        assert credentials_of(first) == "secret-1"
    store.credentials["graph"] = "secret-2"  # `calbridge connections add graph --replace`

    clock.now = 10.0  # within the recheck interval: the store is not asked again
    async with providers.lease("graph") as same:
        assert credentials_of(same) == "secret-1"
    clock.now = 31.0
    async with providers.lease("graph") as fresh:
        assert credentials_of(fresh) == "secret-2"
    assert store.opened[0].closed and not store.opened[1].closed


async def test_the_old_provider_is_closed_only_after_the_pass_holding_it_has_finished() -> None:
    store, clock = Store(), Clock()
    providers = cache(store, clock, recheck=1.0)
    async with providers.lease("graph") as running:
        store.credentials["graph"] = "secret-2"
        clock.now = 2.0
        async with providers.lease("graph") as fresh:
            assert credentials_of(fresh) == "secret-2"
            assert not store.opened[0].closed  # the running pass still uses it
        assert credentials_of(running) == "secret-1"
    assert store.opened[0].closed


async def test_a_failed_pass_checks_at_once_whether_its_connection_was_replaced() -> None:
    store, clock = Store(), Clock()
    providers = cache(store, clock)
    async with providers.lease("graph"):
        pass
    assert not await providers.replaced(["graph"])
    store.credentials["graph"] = "secret-2"
    assert await providers.replaced(["graph"])  # no waiting for the recheck interval
    async with providers.lease("graph") as fresh:
        assert credentials_of(fresh) == "secret-2"


async def test_without_versions_a_provider_is_opened_once_and_never_rechecked() -> None:
    store, clock = Store(), Clock()
    providers = ProviderCache(store.open, clock=clock)
    for moment in (0.0, 100.0, 1000.0):
        clock.now = moment
        async with providers.lease("graph"):
            pass
    assert len(store.opened) == 1 and store.version_reads == 0
    assert not await providers.replaced(["graph"])
    await providers.close()
    assert store.opened[0].closed
