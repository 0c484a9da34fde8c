"""The renewer process's edges: what stops it from starting, its probes and its metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from pydantic import SecretStr

from calbridge.bus import MemoryBus
from calbridge.events import Provider
from calbridge.settings import load_settings
from calbridge_app.cli.renewer import startup_problems
from subscriptions.metrics import observe_rows
from subscriptions.probes import Health, create_probe_app
from subscriptions.renewer import Endpoints, policy_from
from subscriptions.schedule import RowState, SubscriptionRow

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_given_no_keys_url_secret_or_broker_then_the_renewer_names_each_variable() -> None:
    problems = " ".join(startup_problems(load_settings()))
    for variable in ("SIGNING_KEYS", "PUBLIC_URL", "SECRET_KEY", "AMQP_URL"):
        assert f"CALBRIDGE_{variable}" in problems


def test_settings_become_the_renewal_policy() -> None:
    settings = load_settings(renew_margin="12h", google_channel_ttl="3d", graph_subscription_minutes=4230)
    policy = policy_from(settings)
    assert policy.margin == timedelta(hours=12)
    assert policy.lifetime(Provider.GOOGLE) == timedelta(days=3)
    assert policy.lifetime(Provider.GRAPH) == timedelta(minutes=4230)


def test_endpoints_are_the_receivers_routes() -> None:
    endpoints = Endpoints.under("https://hooks.example.com/")
    assert endpoints.for_provider(Provider.GOOGLE) == ("https://hooks.example.com/notifications/google", None)
    assert endpoints.for_provider(Provider.GRAPH) == (
        "https://hooks.example.com/notifications/graph",
        "https://hooks.example.com/notifications/graph/lifecycle",
    )


async def test_probes_report_ready_only_after_a_successful_pass_and_expose_the_expiry_gauge() -> None:
    bus = MemoryBus(load_settings(amqp_url=None, signing_keys=SecretStr("k1:" + "a" * 32)))
    await bus.connect()
    clock = [100.0]
    health = Health(interval=60, monotonic=lambda: clock[0])
    transport = httpx.ASGITransport(app=create_probe_app(health, bus))
    async with httpx.AsyncClient(transport=transport, base_url="http://renewer") as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 503  # no pass yet

        health.record(True)
        assert (await client.get("/readyz")).status_code == 200

        clock[0] += 3 * 60 + 6  # three intervals without a good pass
        assert (await client.get("/readyz")).status_code == 503

        row = SubscriptionRow(
            "s1", "cal", Provider.GRAPH, RowState.ACTIVE, "x", NOW + timedelta(hours=5), key_id="k2"
        )
        observe_rows([row], NOW)
        metrics = (await client.get("/metrics")).text
    assert 'calbridge_subscription_expiry_seconds{provider="graph"} 18000.0' in metrics
    assert 'calbridge_subscriptions{provider="graph",state="active"} 1.0' in metrics
    assert 'calbridge_subscriptions_by_key{key_id="k2"} 1.0' in metrics
    await bus.close()
