"""The subscription providers through the real SDKs against the sandbox: what they grant, and
provider failures as calbridge errors."""

# ruff: noqa: F811  (fixtures imported from renewer_harness are parameters here)

from __future__ import annotations

from datetime import timedelta

import pytest
from renewer_harness import ALICE, KEYS, World, world  # noqa: F401

from calbridge.errors import AccessDenied, NotFound, Throttled, TransientProviderError
from calbridge.events import Provider
from calbridge.providers.base import CalendarAddress
from calbridge.providers.graph.subscriptions import MAX_LIFETIME, SAFETY, resource_of
from calbridge.providers.subscriptions import CannotRenew, SubscriptionHandle
from calbridge.tokens import sign_token
from sandbox.faults import OperationFaults
from subscriptions.renewer import Endpoints

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq]

PRIMARY = CalendarAddress(ALICE)


def endpoints(world: World) -> Endpoints:
    return Endpoints.under(world.receiver_url)


async def test_google_grants_what_was_asked_and_a_channel_is_never_renewed(world: World) -> None:
    expiry = world.now() + timedelta(days=3)
    token = sign_token(Provider.GOOGLE, "g_alice", expiry + timedelta(hours=6), KEYS, channel_id="chan-1")

    address, _ = endpoints(world).for_provider(Provider.GOOGLE)
    granted = await world.google.create(PRIMARY, "chan-1", token, address, None, expiry)

    assert abs(granted.expires_at - expiry) < timedelta(seconds=2)
    [channel] = world.live_channels()
    assert channel.resource_id == granted.provider_id
    handle = SubscriptionHandle("chan-1", granted.provider_id, PRIMARY)
    with pytest.raises(CannotRenew):
        await world.google.renew(handle, expiry + timedelta(days=1))
    await world.google.stop(handle)
    assert world.live_channels() == []
    with pytest.raises(NotFound):
        await world.google.stop(handle)


async def test_graph_never_asks_past_its_lifetime_limit_and_a_deleted_subscription_is_not_found(
    world: World,
) -> None:
    graph_address, lifecycle_address = endpoints(world).for_provider(Provider.GRAPH)
    token = sign_token(Provider.GRAPH, "m_alice", world.now() + timedelta(days=30), KEYS)

    granted = await world.graph.create(
        PRIMARY, "ignored", token, graph_address, lifecycle_address, world.now() + timedelta(days=30)
    )

    assert granted.expires_at <= world.now() + MAX_LIFETIME - SAFETY + timedelta(seconds=5)
    [subscription] = world.live_graph_subscriptions()
    assert subscription.resource == "/users/alice@example.com/events" and subscription.immutable_ids
    handle = SubscriptionHandle("row", granted.provider_id, PRIMARY)
    await world.graph.stop(handle)
    with pytest.raises(NotFound):
        await world.graph.renew(handle, world.now() + timedelta(days=1))


@pytest.mark.parametrize(
    "status, retry_after, error",
    [(503, None, TransientProviderError), (429, 7.0, Throttled), (403, None, AccessDenied)],
    ids=["unavailable", "throttled", "forbidden"],
)
async def test_provider_failures_become_calbridge_errors(
    world: World, status: int, retry_after: float | None, error: type[Exception]
) -> None:
    for operation in ("google.events.watch", "graph.subscriptions.create"):
        rule = OperationFaults(
            error_rate=1.0,
            error_status=status,
            retry_after=retry_after,
            reason="forbidden" if status == 403 else None,
        )
        world.sb.faults.operations[operation] = rule
    hooks = endpoints(world)
    google_address, _ = hooks.for_provider(Provider.GOOGLE)
    graph_address, lifecycle_address = hooks.for_provider(Provider.GRAPH)
    expiry = world.now() + timedelta(days=1)
    google_token = sign_token(Provider.GOOGLE, "g_alice", expiry, KEYS, channel_id="chan-2")
    graph_token = sign_token(Provider.GRAPH, "m_alice", expiry, KEYS)

    with pytest.raises(error):
        await world.google.create(PRIMARY, "chan-2", google_token, google_address, None, expiry)
    with pytest.raises(error):
        await world.graph.create(PRIMARY, "x", graph_token, graph_address, lifecycle_address, expiry)


def test_a_named_graph_calendar_is_subscribed_by_its_own_events() -> None:
    assert (
        resource_of(CalendarAddress("bob@example.com", "AAMk="))
        == "/users/bob@example.com/calendars/AAMk=/events"
    )
    assert resource_of(CalendarAddress("bob@example.com")) == "/users/bob@example.com/events"
