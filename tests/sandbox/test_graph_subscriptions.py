"""Subscriptions through the real msgraph-sdk: validation handshake, limits, notifications after
a person's edit, lifecycle events, renewal, and expiry by the sandbox clock."""

# ruff: noqa: F811  (pytest fixtures imported from graph_harness are parameters here)

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from graph_harness import ALICE, GraphSandbox, Webhook, graph, wait_for, webhook  # noqa: F401
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.subscription import Subscription

pytestmark = pytest.mark.integration  # the emulator over HTTPS on loopback

SECRET_STATE = "s3cr3t-client-state"


def subscription(hook: Webhook, minutes: int = 60, **extra: Any) -> Subscription:
    return Subscription(
        change_type="created,updated,deleted",
        notification_url=f"{hook.url}/notify",
        resource=f"/users/{ALICE}/events",
        client_state=SECRET_STATE,
        expiration_date_time=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes),
        **extra,
    )


def person_event(subject: str) -> dict[str, Any]:
    return {
        "subject": subject,
        "start": {"dateTime": "2026-11-23T09:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-11-23T10:00:00", "timeZone": "UTC"},
    }


async def test_create_succeeds_only_when_the_endpoint_echoes_the_token(
    graph: GraphSandbox,
    webhook: Webhook,
) -> None:
    subscriptions = graph.client().subscriptions
    created = await subscriptions.post(subscription(webhook))
    assert created is not None and created.id and created.client_state == SECRET_STATE

    webhook.echo = False
    with pytest.raises(ODataError) as refused:
        await subscriptions.post(subscription(webhook))

    assert refused.value.response_status_code == 400
    assert refused.value.error is not None and refused.value.error.code == "ValidationError"
    assert [s["id"] for s in await graph.control.subscriptions()] == [created.id]


@pytest.mark.parametrize(
    "extra, minutes",
    [({}, 10081), ({"client_state": "x" * 129}, 60), ({"resource": "/users/nobody@contoso.test/events"}, 60)],
)
async def test_create_refuses_what_graph_refuses(
    graph: GraphSandbox,
    webhook: Webhook,
    extra: dict[str, Any],
    minutes: int,
) -> None:
    request = subscription(webhook, minutes=minutes)
    for name, value in extra.items():
        setattr(request, name, value)
    with pytest.raises(ODataError) as refused:
        await graph.client().subscriptions.post(request)
    assert refused.value.response_status_code in (400, 404)
    assert graph.world.subscriptions == {}


async def test_a_persons_edit_is_notified_in_graphs_shape(graph: GraphSandbox, webhook: Webhook) -> None:
    created = await graph.client().subscriptions.post(subscription(webhook))
    assert created is not None

    event = await graph.control.create_event(ALICE, person_event("Lunch"))
    await graph.control.update_event(ALICE, event["id"], {"subject": "Lunch (moved)"})

    def edit_seen() -> bool:
        first_etag = webhook.notifications[0]["resourceData"]["@odata.etag"]
        return any(n["resourceData"]["@odata.etag"] != first_etag for n in webhook.notifications)

    await wait_for(lambda: webhook.notifications and edit_seen())
    mailbox = graph.world.mailbox(ALICE)
    assert mailbox is not None
    first = webhook.notifications[0]
    second = next(
        n
        for n in webhook.notifications
        if n["resourceData"]["@odata.etag"] != first["resourceData"]["@odata.etag"]
    )
    resource = f"Users/{mailbox.id}/Events/{event['restId']}"
    assert first == {
        "subscriptionId": created.id,
        "subscriptionExpirationDateTime": first["subscriptionExpirationDateTime"],
        "changeType": "created",
        "resource": resource,
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.Event",
            "@odata.id": resource,
            "@odata.etag": first["resourceData"]["@odata.etag"],
            "id": event["restId"],
        },
        "clientState": SECRET_STATE,
        "tenantId": graph.world.tenant_id,
    }
    assert second["changeType"] == "updated"
    assert second["resourceData"]["@odata.etag"] != first["resourceData"]["@odata.etag"]


async def test_lifecycle_events_reach_the_lifecycle_url_and_renewal_extends_the_expiry(
    graph: GraphSandbox,
    webhook: Webhook,
) -> None:
    subscriptions = graph.client().subscriptions
    created = await subscriptions.post(
        subscription(webhook, lifecycle_notification_url=f"{webhook.url}/lifecycle")
    )
    assert created is not None and created.id and created.expiration_date_time

    await graph.control.fire_lifecycle(created.id, "reauthorizationRequired")
    await wait_for(lambda: webhook.lifecycle)
    renewed = await subscriptions.by_subscription_id(created.id).patch(
        Subscription(expiration_date_time=dt.datetime.now(dt.UTC) + dt.timedelta(days=6))
    )

    assert webhook.lifecycle[0]["lifecycleEvent"] == "reauthorizationRequired"
    assert webhook.lifecycle[0]["subscriptionId"] == created.id
    assert webhook.lifecycle[0]["clientState"] == SECRET_STATE
    assert renewed is not None and renewed.expiration_date_time
    assert renewed.expiration_date_time - created.expiration_date_time > dt.timedelta(days=5)
    fetched = await subscriptions.by_subscription_id(created.id).get()
    assert fetched is not None and fetched.expiration_date_time == renewed.expiration_date_time


async def test_a_failing_endpoint_is_retried_then_told_it_missed_notifications(
    graph: GraphSandbox,
    webhook: Webhook,
) -> None:
    graph.world.create_echoes = (0, 0)  # one notification to fail: no later echo may succeed
    await graph.client().subscriptions.post(
        subscription(webhook, lifecycle_notification_url=f"{webhook.url}/lifecycle")
    )
    webhook.status = 503

    await graph.control.create_event(ALICE, person_event("Dropped"))
    await wait_for(lambda: webhook.posts >= 3)  # the first try and the sandbox's two retries
    webhook.status = 202

    await wait_for(lambda: webhook.lifecycle)
    assert webhook.lifecycle[0]["lifecycleEvent"] == "missed"
    assert webhook.notifications == []


async def test_an_expired_subscription_is_gone_and_silent(graph: GraphSandbox, webhook: Webhook) -> None:
    subscriptions = graph.client().subscriptions
    created = await subscriptions.post(subscription(webhook, minutes=60))
    assert created is not None and created.id

    graph.clock.advance(dt.timedelta(hours=2))
    await graph.control.create_event(ALICE, person_event("Unseen"))

    with pytest.raises(ODataError) as gone:
        await subscriptions.by_subscription_id(created.id).get()
    assert gone.value.response_status_code == 404
    assert webhook.posts == 0


async def test_subscription_removed_is_announced_and_the_subscription_is_gone(
    graph: GraphSandbox,
    webhook: Webhook,
) -> None:
    subscriptions = graph.client().subscriptions
    created = await subscriptions.post(
        subscription(webhook, lifecycle_notification_url=f"{webhook.url}/lifecycle")
    )
    kept = await subscriptions.post(subscription(webhook))
    assert created is not None and created.id and kept is not None and kept.id

    await graph.control.fire_lifecycle(created.id, "subscriptionRemoved")
    await wait_for(lambda: webhook.lifecycle)
    await subscriptions.by_subscription_id(kept.id).delete()

    assert webhook.lifecycle[0]["lifecycleEvent"] == "subscriptionRemoved"
    assert await graph.control.subscriptions() == []


async def test_a_subscription_made_with_immutable_ids_is_notified_with_them(
    graph: GraphSandbox,
    webhook: Webhook,
) -> None:
    config: RequestConfiguration[object] = RequestConfiguration()
    config.headers.add("Prefer", 'IdType="ImmutableId"')
    await graph.client().subscriptions.post(subscription(webhook), config)

    event = await graph.control.create_event(ALICE, person_event("Stable"))

    await wait_for(lambda: webhook.notifications)
    assert webhook.notifications[0]["resourceData"]["id"] == event["id"] != event["restId"]
