"""Notification mishaps: duplicates and drops from the fault plan, and an endpoint slower than
Graph's time limit, which counts as a failed delivery and is retried."""

# ruff: noqa: F811  (pytest fixtures imported from graph_harness are parameters here)

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from graph_harness import ALICE, GraphSandbox, Webhook, graph, wait_for, webhook  # noqa: F401
from msgraph.generated.models.subscription import Subscription

from sandbox.faults import NotificationFaults

pytestmark = pytest.mark.integration  # the emulator over HTTPS on loopback


async def subscribe(graph: GraphSandbox, hook: Webhook) -> None:
    # These tests count what the fault plan does: Exchange's own extra `updated` notifications
    # (on by default, see test_graph_realism) would blur the count, so they are switched off.
    graph.world.update_echoes = graph.world.create_echoes = (0, 0)
    await graph.client().subscriptions.post(
        Subscription(
            change_type="created,updated,deleted",
            notification_url=f"{hook.url}/notify",
            resource=f"/users/{ALICE}/events",
            client_state="state",
            expiration_date_time=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
        )
    )


def person_event(subject: str) -> dict[str, Any]:
    return {
        "subject": subject,
        "start": {"dateTime": "2026-11-23T09:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2026-11-23T10:00:00", "timeZone": "UTC"},
    }


async def test_duplicated_notifications_arrive_twice_and_dropped_ones_never(
    graph: GraphSandbox,
    webhook: Webhook,
) -> None:
    await subscribe(graph, webhook)
    graph.faults.notifications["graph"] = NotificationFaults(duplicate_rate=1.0)
    doubled = await graph.control.create_event(ALICE, person_event("Twice"))
    await wait_for(lambda: len(webhook.notifications) >= 2)

    graph.faults.notifications["graph"] = NotificationFaults(drop_rate=1.0)
    await graph.control.create_event(ALICE, person_event("Never"))
    graph.faults.notifications["graph"] = NotificationFaults()
    last = await graph.control.create_event(ALICE, person_event("Once"))
    await wait_for(lambda: len(webhook.notifications) >= 3)

    ids = [n["resourceData"]["id"] for n in webhook.notifications]
    assert ids == [doubled["restId"], doubled["restId"], last["restId"]]
    assert graph.faults.mishaps == {"graph.duplicated": 1, "graph.dropped": 1}  # what bench/chaos.py prints


async def test_an_endpoint_slower_than_the_limit_gets_the_notification_again(
    graph: GraphSandbox,
    webhook: Webhook,
) -> None:
    await subscribe(graph, webhook)
    graph.world.notification_timeout = 0.2
    webhook.delays = [0.6]  # the first delivery outlasts the limit

    await graph.control.create_event(ALICE, person_event("Slow"))

    await wait_for(lambda: webhook.posts >= 2 and webhook.notifications)
    assert webhook.notifications[-1]["changeType"] == "created"
