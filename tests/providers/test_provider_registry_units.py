"""A process's registry: settings applied to the profiles, one shared mailbox cap, fakes plugged
in explicitly, and a provider it lacks refused with AdapterMissing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from calbridge.connections import describe
from calbridge.events import Provider
from calbridge.providers.ews.connection import EwsConnection
from calbridge.providers.graph.connection import GraphConnection
from calbridge.providers.limits import AdapterShares
from calbridge.providers.registry import PROFILES, AdapterMissing, Registry, profile_for
from calbridge.settings import Settings, load_settings
from calbridge.store.connection_records import connection_from_parts

GRAPH = GraphConnection(name="graph", tenant_id="t", client_id="c", client_secret="s", id="g1")
EWS = EwsConnection(name="ews", auth="ntlm", password="p", username="svc", url="https://ex/EWS/Exchange.asmx")


class Opened:
    """What a fake opener was called with."""

    def __init__(self, connection: Any, settings: Settings, shares: AdapterShares) -> None:
        self.connection = connection
        self.settings = settings
        self.limits = shares.limits


def with_fake_adapters(settings: Settings) -> Registry:
    return Registry(settings, [profile.but(open_adapter=Opened) for profile in PROFILES])


def test_given_settings_when_the_registry_is_built_then_they_override_the_profiles_facts() -> None:
    settings = load_settings(
        graph_mailbox_concurrency=2, graph_subscription_minutes=600, google_channel_ttl="2d"
    )
    registry = Registry(settings)
    assert registry.profile(Provider.GRAPH).mailbox_concurrency == 2
    assert registry.profile(Provider.GRAPH).subscription_lifetime == timedelta(minutes=600)
    assert registry.profile(Provider.GOOGLE).subscription_lifetime == timedelta(days=2)
    # the declared facts stay what the provider documents
    assert profile_for(Provider.GRAPH).mailbox_concurrency == 4
    assert profile_for(Provider.GOOGLE).subscription_lifetime == timedelta(days=7)


def test_given_one_registry_then_every_graph_adapter_shares_one_mailbox_cap_and_others_get_none() -> None:
    settings = load_settings(graph_mailbox_concurrency=3)
    registry = with_fake_adapters(settings)
    first, second, ews = registry.open(GRAPH), registry.open(GRAPH), registry.open(EWS)
    assert isinstance(first, Opened) and isinstance(second, Opened) and isinstance(ews, Opened)
    assert first.limits is second.limits and first.limits is not None
    assert first.limits.per_mailbox == 3
    assert ews.limits is None
    assert first.settings is settings  # openers are given the settings; nothing reads the environment
    # a second process (registry) has a cap of its own
    other = with_fake_adapters(settings).open(GRAPH)
    assert isinstance(other, Opened) and other.limits is not first.limits


def test_given_a_registry_without_a_provider_then_opening_its_connection_says_the_adapter_is_missing() -> (
    None
):
    registry = Registry(load_settings(), [profile_for(Provider.EWS)])
    with pytest.raises(AdapterMissing, match="no graph adapter is available"):
        registry.open(GRAPH)


def test_the_renewer_keeps_push_subscriptions_and_leaves_streaming_ones_to_the_listener() -> None:
    registry = Registry(load_settings())
    assert [p.provider for p in PROFILES if p.kept_by_renewer] == [Provider.GOOGLE, Provider.GRAPH]
    assert registry.open_subscriptions(EWS, clock=lambda: None) is None  # type: ignore[arg-type,return-value]


@pytest.mark.parametrize("connection", [GRAPH, EWS])
def test_a_stored_connection_comes_back_as_its_profiles_type(connection: Any) -> None:
    settings, secret = connection.parts()
    again = connection_from_parts(connection.id, connection.provider.value, connection.name, settings, secret)
    assert again == connection
    assert "client_secret" not in describe(again) and "password" not in describe(again)
