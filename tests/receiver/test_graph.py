"""POST /notifications/graph and /notifications/graph/lifecycle: handshake, batches, refusals."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
from receiver_fixtures import NOW, RecordingBus, flip_last, graph_state

from calbridge.events import ChangeEvent, ChangeKind, LifecycleEvent, LifecycleKind, Provider
from calbridge.metrics import REGISTRY

GRAPH = "/notifications/graph"
LIFECYCLE = "/notifications/graph/lifecycle"
JSON = {"Content-Type": "application/json; charset=utf-8"}


def change(
    ref: str = "cal_2", change_type: str = "updated", event_id: str = "AAMkAD-1", *, state: str | None = None
) -> dict[str, Any]:
    return {
        "subscriptionId": "sub-1",
        "subscriptionExpirationDateTime": "2026-06-05T11:00:00.0000000Z",
        "changeType": change_type,
        "resource": f"Users/u-1/Events/{event_id}",
        "tenantId": "t-1",
        "clientState": state if state is not None else graph_state(ref),
        "resourceData": {
            "@odata.type": "#Microsoft.Graph.Event",
            "@odata.id": f"Users/u-1/Events/{event_id}",
            "@odata.etag": 'W/"DwAAABYAAAB1"',
            "id": event_id,
        },
    }


def lifecycle(event: str = "missed", ref: str = "cal_2", *, state: str | None = None) -> dict[str, Any]:
    return {
        "subscriptionId": "sub-9",
        "subscriptionExpirationDateTime": "2026-06-05T11:00:00.0000000Z",
        "tenantId": "t-1",
        "clientState": state if state is not None else graph_state(ref),
        "lifecycleEvent": event,
    }


def batch(*items: object) -> bytes:
    return orjson.dumps({"value": list(items)})


def count(outcome: str) -> float:
    return (
        REGISTRY.get_sample_value("calbridge_notifications_total", {"provider": "graph", "outcome": outcome})
        or 0.0
    )


# --- validation handshake


@pytest.mark.parametrize("url", [GRAPH, LIFECYCLE])
async def test_given_a_validation_request_then_the_decoded_token_is_echoed_as_plain_text(
    client: httpx.AsyncClient, bus: RecordingBus, url: str
) -> None:
    token = "Validation: Testing client application reachability for subscription Request-Id: 7f1c <b>&"
    response = await client.post(
        url, params={"validationToken": token}, headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.text == token
    assert bus.attempts == 0


async def test_given_a_percent_encoded_token_then_the_echo_is_decoded(client: httpx.AsyncClient) -> None:
    response = await client.post(GRAPH + "?validationToken=a%2Bb%20c%3D%3D")
    assert response.text == "a+b c=="


@pytest.mark.parametrize("query", ["validationToken=", "validationToken", "validationToken=&x=1"])
@pytest.mark.parametrize("url", [GRAPH, LIFECYCLE])
async def test_given_an_empty_validation_token_then_it_is_refused_and_nothing_is_echoed(
    client: httpx.AsyncClient, bus: RecordingBus, url: str, query: str
) -> None:
    validations_before = count("validation")
    response = await client.post(f"{url}?{query}")
    assert response.status_code == 400
    assert "validationToken" in response.text
    assert count("validation") == validations_before  # not counted as a handshake
    assert bus.attempts == 0


# --- change notifications


async def test_given_a_batch_of_valid_changes_then_each_becomes_a_confirmed_event_before_202(
    client: httpx.AsyncClient, bus: RecordingBus
) -> None:
    body = batch(
        change("cal_2", "created", "e1"), change("cal_3", "deleted", "e2"), change("cal_2", "weird", "e3")
    )
    response = await client.post(GRAPH, content=body, headers=JSON)
    assert response.status_code == 202
    events = [e for e in bus.published if isinstance(e, ChangeEvent)]
    assert [(e.calendar, e.kind, e.resource) for e in events] == [
        ("cal_2", ChangeKind.CREATED, "e1"),
        ("cal_3", ChangeKind.DELETED, "e2"),
        ("cal_2", ChangeKind.CHANGED, "e3"),  # an unknown change type still means "look"
    ]
    assert all(e.provider is Provider.GRAPH and e.version == 'W/"DwAAABYAAAB1"' for e in events)
    assert {e.trace_id for e in events} == {response.headers["X-Request-ID"]}


async def test_given_one_forged_item_among_valid_ones_then_202_and_only_the_valid_are_published(
    client: httpx.AsyncClient, bus: RecordingBus
) -> None:
    forged_before = count("forged")
    forged = change("cal_evil", state=flip_last(graph_state("cal_evil")))
    response = await client.post(GRAPH, content=batch(change("cal_2"), forged, change("cal_3")), headers=JSON)
    assert response.status_code == 202
    assert sorted(e.calendar for e in bus.published) == ["cal_2", "cal_3"]
    assert count("forged") == forged_before + 1


@pytest.mark.parametrize(
    "state",
    [
        flip_last(graph_state()),
        graph_state(keys={"k9": b"q" * 32}),
        "secretClientStateValue",
        "",
        graph_state(expires=NOW - timedelta(seconds=1)),
        "x" * 200,
    ],
    ids=["tampered", "unknown-kid", "plain-secret", "empty", "expired", "too-long"],
)
async def test_given_only_unauthenticated_items_then_403_and_nothing_published(
    client: httpx.AsyncClient, bus: RecordingBus, state: str
) -> None:
    response = await client.post(GRAPH, content=batch(change(state=state), change(state=state)), headers=JSON)
    assert response.status_code == 403
    assert bus.attempts == 0


async def test_given_an_item_without_client_state_then_it_is_dropped(
    client: httpx.AsyncClient, bus: RecordingBus
) -> None:
    item = change()
    del item["clientState"]
    response = await client.post(GRAPH, content=batch(item), headers=JSON)
    assert response.status_code == 403
    assert bus.attempts == 0


async def test_given_a_client_state_of_the_google_kind_then_refused(
    client: httpx.AsyncClient, bus: RecordingBus
) -> None:
    from receiver_fixtures import google_token

    response = await client.post(GRAPH, content=batch(change(state=google_token())), headers=JSON)
    assert response.status_code == 403
    assert bus.attempts == 0


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"value": 3}',
        b'{"value": []}',
        b'{"values": [{}]}',
        b'"\xff\xfe"',
        b"",
        b'{"value": [1, "a", null]}',
    ],
)
async def test_given_a_malformed_body_then_400_and_nothing_published(
    client: httpx.AsyncClient, bus: RecordingBus, body: bytes
) -> None:
    response = await client.post(GRAPH, content=body, headers=JSON)
    assert response.status_code == 400
    assert bus.attempts == 0


async def test_given_an_authentic_item_without_change_type_then_it_is_malformed_and_dropped(
    client: httpx.AsyncClient, bus: RecordingBus
) -> None:
    item = change()
    del item["changeType"]
    response = await client.post(GRAPH, content=batch(item, change("cal_5")), headers=JSON)
    assert response.status_code == 202
    assert [e.calendar for e in bus.published] == ["cal_5"]


async def test_given_oversized_hints_then_the_event_is_kept_without_them(
    client: httpx.AsyncClient, bus: RecordingBus
) -> None:
    small = change()
    small["resourceData"] = {"id": "e" * 1500, "@odata.etag": 42}
    response = await client.post(GRAPH, content=batch(small), headers=JSON)
    assert response.status_code == 202
    assert [(e.calendar, e.resource, e.version) for e in bus.published if isinstance(e, ChangeEvent)] == [
        ("cal_2", None, None)
    ]


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded", "json"])
async def test_given_a_wrong_content_type_then_415(
    client: httpx.AsyncClient, bus: RecordingBus, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = await client.post(GRAPH, content=batch(change()), headers=headers)
    assert response.status_code == 415
    assert bus.attempts == 0


async def test_given_a_body_over_the_limit_then_413_before_reading_it_all(
    client: httpx.AsyncClient, bus: RecordingBus
) -> None:
    read = 0

    async def endless() -> Any:
        nonlocal read
        for _ in range(10_000):  # 10 MB if it were all read
            read += 1
            yield b"x" * 1024

    response = await client.post(GRAPH, content=endless(), headers=JSON)
    assert response.status_code == 413
    assert read < 100  # stopped near the 4 KiB limit, not after 10 MB
    assert bus.attempts == 0


async def test_given_a_declared_length_over_the_limit_then_413(
    client: httpx.AsyncClient, bus: RecordingBus
) -> None:
    response = await client.post(GRAPH, content=b"{" + b" " * 5000 + b"}", headers=JSON)
    assert response.status_code == 413


# --- lifecycle notifications


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        ("reauthorizationRequired", LifecycleKind.REAUTHORIZATION_REQUIRED),
        ("subscriptionRemoved", LifecycleKind.SUBSCRIPTION_REMOVED),
        ("missed", LifecycleKind.MISSED),
    ],
)
async def test_given_a_lifecycle_notification_then_a_lifecycle_event_is_confirmed_before_202(
    client: httpx.AsyncClient, bus: RecordingBus, event: str, kind: LifecycleKind
) -> None:
    response = await client.post(LIFECYCLE, content=batch(lifecycle(event, "cal_7")), headers=JSON)
    assert response.status_code == 202
    assert len(bus.published) == 1
    published = bus.published[0]
    assert isinstance(published, LifecycleEvent)
    assert (published.calendar, published.kind, published.subscription) == ("cal_7", kind, "sub-9")


async def test_given_a_lifecycle_item_on_the_change_url_then_it_is_still_a_lifecycle_event(
    client: httpx.AsyncClient, bus: RecordingBus
) -> None:
    response = await client.post(GRAPH, content=batch(lifecycle("missed"), change()), headers=JSON)
    assert response.status_code == 202
    assert sorted(type(m).__name__ for m in bus.published) == ["ChangeEvent", "LifecycleEvent"]


async def test_given_a_forged_lifecycle_notification_then_403_and_nothing_published(
    client: httpx.AsyncClient, bus: RecordingBus
) -> None:
    forged = lifecycle("subscriptionRemoved", state=flip_last(graph_state()))
    response = await client.post(LIFECYCLE, content=batch(forged), headers=JSON)
    assert response.status_code == 403
    assert bus.attempts == 0


async def test_given_an_unknown_lifecycle_event_then_202_and_nothing_published(
    client: httpx.AsyncClient, bus: RecordingBus
) -> None:
    response = await client.post(LIFECYCLE, content=batch(lifecycle("somethingNew")), headers=JSON)
    assert response.status_code == 202
    assert bus.attempts == 0


async def test_given_a_lifecycle_item_without_subscription_id_then_400(
    client: httpx.AsyncClient, bus: RecordingBus
) -> None:
    item = lifecycle()
    del item["subscriptionId"]
    response = await client.post(LIFECYCLE, content=batch(item), headers=JSON)
    assert response.status_code == 400
    assert bus.attempts == 0


@pytest.mark.parametrize("url", [GRAPH, LIFECYCLE])
async def test_given_a_get_then_405(client: httpx.AsyncClient, url: str) -> None:
    assert (await client.get(url)).status_code == 405


async def test_given_the_client_disconnects_mid_body_then_nothing_is_published_and_no_error(
    app: Any, bus: RecordingBus
) -> None:
    body = batch(change())
    incoming = [
        {"type": "http.request", "body": body[:20], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": GRAPH,
        "raw_path": GRAPH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8080),
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 400
    assert bus.attempts == 0
