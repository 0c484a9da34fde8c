"""Arbitrary requests at every route: never a 5xx, never a publish without a valid token."""

from __future__ import annotations

import json
import string
from typing import Any

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


def dump(value: object) -> bytes:
    # The standard library writes what orjson refuses (integers beyond 64 bits, Infinity): good fuzz.
    return json.dumps(value).encode()


BODIES = (
    st.binary(max_size=600)
    | JSON_VALUES.map(dump)
    | st.lists(graph_items(FORGED_STATES) | JSON_VALUES, max_size=5).map(lambda v: dump({"value": v}))
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=METHODS,
    path=st.sampled_from(PATHS),
    query=st.dictionaries(
        st.sampled_from(["validationToken", "x", "value"]) | PRINTABLE, PRINTABLE, max_size=3
    ),
    headers=st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=8),
    body=BODIES,
)
def test_property_no_request_causes_a_server_error_or_a_publish(
    method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
) -> None:
    response = CLIENT.request(method, path, params=query, headers=headers, content=body)
    assert response.status_code < 500, (method, path, response.status_code)
    assert FUZZ_BUS.attempts == 0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(graph_items(st.just(graph_state("cal_ok"))) | JSON_VALUES, min_size=1, max_size=6))
def test_property_authentic_items_of_any_shape_publish_only_their_own_calendar(items: list[Any]) -> None:
    published_before = len(AUTHENTIC_BUS.published)
    response = AUTHENTIC_CLIENT.post(
        "/notifications/graph", content=dump({"value": items}), headers={"Content-Type": "application/json"}
    )
    assert response.status_code in (202, 400, 403, 413)
    new = AUTHENTIC_BUS.published[published_before:]
    assert all(isinstance(m, ChangeEvent | LifecycleEvent) and m.calendar == "cal_ok" for m in new)
    if response.status_code != 202:
        assert new == []


FUZZ_BUS = RecordingBus()
CLIENT = TestClient(create_app(make_settings(), FUZZ_BUS, clock=fixed_clock), raise_server_exceptions=True)
AUTHENTIC_BUS = RecordingBus()
AUTHENTIC_CLIENT = TestClient(
    create_app(make_settings(max_body_bytes=65536), AUTHENTIC_BUS, clock=fixed_clock),
    raise_server_exceptions=True,
)
