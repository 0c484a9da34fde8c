"""Probes, metrics, unknown routes, trace ids, and the app's lifespan."""

from __future__ import annotations

import httpx
import pytest
from receiver_fixtures import RecordingBus, fixed_clock, make_settings
from starlette.testclient import TestClient

from calbridge.errors import ConfigurationError
from receiver import create_app
from receiver.trace import choose_trace_id


async def test_given_the_process_is_up_then_healthz_is_200_even_if_the_bus_is_not_ready(
    client: httpx.AsyncClient, bus: RecordingBus
) -> None:
    bus.is_ready = False
    assert (await client.get("/healthz")).status_code == 200


async def test_given_the_bus_is_ready_or_not_then_readyz_follows(
    client: httpx.AsyncClient, bus: RecordingBus
) -> None:
    assert (await client.get("/readyz")).status_code == 200
    bus.is_ready = False
    assert (await client.get("/readyz")).status_code == 503


async def test_given_a_readiness_check_that_raises_then_503(
    client: httpx.AsyncClient, bus: RecordingBus
) -> None:
    async def broken() -> bool:
        raise OSError("connection refused")

    bus.ready = broken  # type: ignore[method-assign]
    assert (await client.get("/readyz")).status_code == 503


async def test_given_traffic_then_metrics_expose_the_receiver_series(client: httpx.AsyncClient) -> None:
    await client.get("/healthz")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    for name in (
        "calbridge_notifications_total",
        "calbridge_receiver_request_seconds_bucket",
        "calbridge_receiver_publish_seconds",
        "calbridge_receiver_publishes_in_flight",
        "calbridge_receiver_auth_failures_total",
    ):
        assert name in response.text


async def test_given_an_unknown_route_then_404_and_a_bounded_metric_label(client: httpx.AsyncClient) -> None:
    assert (await client.post("/notifications/yahoo")).status_code == 404
    metrics = (await client.get("/metrics")).text
    assert 'route="unmatched"' in metrics
    assert "yahoo" not in metrics


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/notifications/graph/", "POST"),
        ("/notifications/graph/lifecycle/", "POST"),
        ("/notifications/google/", "POST"),
        ("/healthz/", "GET"),
        ("/metrics/", "GET"),
    ],
)
async def test_given_a_known_path_with_a_trailing_slash_then_404_not_a_redirect(
    client: httpx.AsyncClient, bus: RecordingBus, path: str, method: str
) -> None:
    response = await client.request(method, path, content=b'{"value": []}')
    assert response.status_code == 404
    assert "location" not in response.headers
    assert bus.attempts == 0


@pytest.mark.parametrize(
    ("path", "method"), [("/healthz", "POST"), ("/metrics", "DELETE"), ("/notifications/google", "PUT")]
)
async def test_given_a_wrong_method_then_405(client: httpx.AsyncClient, path: str, method: str) -> None:
    assert (await client.request(method, path)).status_code == 405


async def test_given_a_traceparent_then_its_trace_id_is_used(client: httpx.AsyncClient) -> None:
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    response = await client.get("/healthz", headers={"traceparent": parent})
    assert response.headers["X-Request-ID"] == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_trace_id_choice() -> None:
    assert choose_trace_id(None, "req-42") == "req-42"
    assert choose_trace_id("00-" + "0" * 32 + "-00f067aa0ba902b7-01", "req-42") == "req-42"
    assert choose_trace_id("garbage", "bad id with spaces") != "bad id with spaces"
    assert len(choose_trace_id(None, "x" * 65)) == 32  # too long: a fresh uuid4 hex instead
    assert choose_trace_id(None, None) != choose_trace_id(None, None)


def test_given_the_app_starts_and_stops_then_the_bus_is_connected_and_closed() -> None:
    bus = RecordingBus()
    with TestClient(create_app(make_settings(), bus, clock=fixed_clock)) as client:
        assert bus.connects == 1
        assert client.get("/readyz").status_code == 200
    assert bus.closes == 1


def test_given_no_signing_keys_then_the_app_cannot_be_built() -> None:
    with pytest.raises(ConfigurationError, match="CALBRIDGE_SIGNING_KEYS"):
        create_app(make_settings(signing_keys=None), RecordingBus())
