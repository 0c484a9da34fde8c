"""Arbitrary requests at every route: never a 5xx, never a publish without a valid token."""

from __future__ import annotations

import json
import logging
import string
from typing import Any

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from receiver_fixtures import RecordingBus, fixed_clock, flip_last, google_token, graph_state, make_settings
from starlette.testclient import TestClient

from calbridge.events import ChangeEvent, LifecycleEvent
from receiver import create_app
from receiver.app import ROUTES

PATHS = [*ROUTES, "/", "/notifications", "/notifications/graph/", "/notifications/google/x", "/metrics/x"]
METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]) | st.text(
    alphabet=string.ascii_uppercase, min_size=1, max_size=8
)
PRINTABLE = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=300)
HEADER_NAMES = st.sampled_from(
    [
        "Content-Type",
        "X-Goog-Channel-ID",
        "X-Goog-Channel-Token",
        "X-Goog-Resource-State",
        "X-Goog-Resource-ID",
        "X-Goog-Message-Number",
        "X-Goog-Channel-Expiration",
        "traceparent",
        "X-Request-ID",
        "Accept",
        "Transfer-Encoding-Hint",
    ]
) | st.text(alphabet=string.ascii_letters + string.digits + "-", min_size=1, max_size=20)
HEADER_VALUES = PRINTABLE | st.sampled_from(
    [
        "application/json",
        "text/plain",
        "exists",
        "sync",
        "not_exists",
        "1",
        "chan-1",
        flip_last(google_token()),
        graph_state(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ]
)
FORGED_STATES = (
    st.sampled_from([flip_last(graph_state()), google_token(), "", "secret", "1m.cal.k2.abc." + "A" * 43])
    | PRINTABLE
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | PRINTABLE,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(PRINTABLE, children, max_size=4),
    max_leaves=12,
)


def graph_items(states: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"clientState": states},
        optional={
            "changeType": st.sampled_from(["created", "updated", "deleted"]) | JSON_VALUES,
            "lifecycleEvent": st.sampled_from(["missed", "subscriptionRemoved", "reauthorizationRequired"])
            | JSON_VALUES,
            "subscriptionId": PRINTABLE | JSON_VALUES,
            "resourceData": st.fixed_dictionaries(
                {}, optional={"id": PRINTABLE | JSON_VALUES, "@odata.etag": PRINTABLE | JSON_VALUES}
            )
            | JSON_VALUES,
        },
    )


@pytest.fixture(autouse=True)
def _quiet_logs() -> None:
    """Thousands of refusals are logged here; drop them (conftest restores the configuration)."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))


def dump(value: object) -> bytes:
    # The standard library writes what orjson refuses (integers beyond 64 bits, Infinity): good fuzz.
    return json.dumps(value).encode()


BODIES = (
    st.binary(max_size=600)
    | JSON_VALUES.map(dump)
    | st.lists(graph_items(FORGED_STATES) | JSON_VALUES, max_size=5).map(lambda v: dump({"value": v}))
)


REQUESTS = st.fixed_dictionaries(
    {
        "method": METHODS,
        "url": st.sampled_from(PATHS),
        "params": st.dictionaries(
            st.sampled_from(["validationToken", "x", "value"]) | PRINTABLE, PRINTABLE, max_size=3
        ),
        "headers": st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=8),
        "content": BODIES,
    }
)
EXAMPLES = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_property_no_request_causes_a_server_error_or_a_publish() -> None:
    bus = RecordingBus()
    # One client (and one event loop thread) for all examples; it raises any exception the app lets out.
    with TestClient(create_app(make_settings(), bus, clock=fixed_clock)) as client:

        @settings(EXAMPLES, max_examples=500)
        @given(request=REQUESTS)
        def check(request: dict[str, Any]) -> None:
            response = client.request(**request)
            assert response.status_code < 500, (request["method"], request["url"], response.status_code)
            assert bus.attempts == 0

        check()


def test_property_authentic_items_of_any_shape_publish_only_their_own_calendar() -> None:
    bus = RecordingBus()
    app = create_app(make_settings(max_body_bytes=65536), bus, clock=fixed_clock)
    items = st.lists(graph_items(st.just(graph_state("cal_ok"))) | JSON_VALUES, min_size=1, max_size=6)
    with TestClient(app) as client:

        @settings(EXAMPLES, max_examples=300)
        @given(items=items)
        def check(items: list[Any]) -> None:
            published_before = len(bus.published)
            response = client.post(
                "/notifications/graph",
                content=dump({"value": items}),
                headers={"Content-Type": "application/json"},
            )
            assert response.status_code in (202, 400, 403, 413)
            new = bus.published[published_before:]
            assert all(isinstance(m, ChangeEvent | LifecycleEvent) and m.calendar == "cal_ok" for m in new)
            if response.status_code != 202:
                assert new == []

        check()
