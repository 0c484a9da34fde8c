"""getSchedule, $batch and per-mailbox throttling through the real msgraph-sdk."""

# ruff: noqa: F811  (pytest fixtures imported from graph_harness are parameters here)

from __future__ import annotations

import asyncio

import httpx
import pytest
from graph_harness import ALICE, BOB, SCOPES, GraphSandbox, at, graph  # noqa: F401
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_http.middleware.options.retry_handler_option import RetryHandlerOption
from msgraph.generated.models.event import Event
from msgraph.generated.models.free_busy_status import FreeBusyStatus
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.item.calendar.get_schedule.get_schedule_post_request_body import (
    GetSchedulePostRequestBody,
)
from msgraph_core.requests.batch_request_content import BatchRequestContent
from msgraph_core.requests.batch_request_item import BatchRequestItem

from sandbox.faults import OperationFaults

pytestmark = pytest.mark.integration  # the emulator over HTTPS on loopback


async def test_get_schedule_reports_busy_tentative_and_unknown_mailboxes(graph: GraphSandbox) -> None:
    client = graph.client()
    bob = client.users.by_user_id(BOB).events
    await bob.post(Event(subject="Busy", start=at("2026-11-23T09:00:00"), end=at("2026-11-23T10:00:00")))
    await bob.post(
        Event(
            subject="Maybe",
            show_as=FreeBusyStatus.Tentative,
            start=at("2026-11-23T10:00:00"),
            end=at("2026-11-23T10:30:00"),
        )
    )

    answer = await client.users.by_user_id(ALICE).calendar.get_schedule.post(
        GetSchedulePostRequestBody(
            schedules=[BOB, "nobody@contoso.test"],
            start_time=at("2026-11-23T09:00:00"),
            end_time=at("2026-11-23T12:00:00"),
            availability_view_interval=60,
        )
    )

    assert answer is not None and answer.value is not None
    known, unknown = answer.value
    assert known.schedule_id == BOB and known.availability_view == "210"
    assert [(i.status.value if i.status else None, i.subject) for i in known.schedule_items or []] == [
        ("busy", "Busy"),
        ("tentative", "Maybe"),
    ]
    assert unknown.error is not None and unknown.error.response_code == "ErrorMailRecipientNotFound"


async def test_batch_runs_each_request_and_answers_per_request(graph: GraphSandbox) -> None:
    client = graph.client()
    events = client.users.by_user_id(ALICE).events
    made = await events.post(
        Event(subject="Batched", start=at("2026-11-23T09:00:00"), end=at("2026-11-23T10:00:00"))
    )
    assert made is not None and made.id
    content = BatchRequestContent()
    requests = {
        "get": events.by_event_id(made.id).to_get_request_information(),
        "missing": events.by_event_id("AAkALgnothere").to_get_request_information(),
        "list": client.users.by_user_id(BOB).events.to_get_request_information(),
    }
    for request_id, info in requests.items():
        content.add_request(request_id, BatchRequestItem(info, id=request_id))

    answer = await client.batch.post(content)

    assert answer.get_response_status_codes() == {"get": 200, "missing": 404, "list": 200}
    assert graph.counters.calls[("graph.events.get", 404)] == 1


async def test_the_fifth_concurrent_request_to_a_mailbox_is_throttled_with_retry_after(
    graph: GraphSandbox,
) -> None:
    events = graph.client().users.by_user_id(ALICE).events
    await events.get()  # fetch the token first
    graph.faults.operations["graph.events.list"] = OperationFaults(latency=(0.5, 0.5))

    def no_retry() -> RequestConfiguration[object]:
        return RequestConfiguration(options=[RetryHandlerOption(max_retries=0, should_retry=False)])

    outcomes = await asyncio.gather(*(events.get(no_retry()) for _ in range(5)), return_exceptions=True)

    refused = [o for o in outcomes if isinstance(o, ODataError)]
    assert len(refused) == 1
    assert refused[0].response_status_code == 429
    assert refused[0].error is not None and refused[0].error.code == "ApplicationThrottled"
    assert refused[0].response_headers is not None and refused[0].response_headers.get("retry-after") == "1"
    # the four admitted requests (and the first, token-fetching one) all succeeded
    assert graph.counters.calls[("graph.events.list", 200)] == 5


@pytest.mark.parametrize("status", [503, 429])
async def test_injected_faults_answer_in_graphs_error_shape(graph: GraphSandbox, status: int) -> None:
    events = graph.client().users.by_user_id(ALICE).events
    await events.get()
    graph.faults.operations["graph.events.create"] = OperationFaults(
        error_rate=1.0, error_status=status, retry_after=0
    )
    config: RequestConfiguration[object] = RequestConfiguration(
        options=[RetryHandlerOption(max_retries=0, should_retry=False)]
    )

    with pytest.raises(ODataError) as failed:
        await events.post(
            Event(subject="x", start=at("2026-11-23T09:00:00"), end=at("2026-11-23T10:00:00")), config
        )

    assert failed.value.response_status_code == status
    assert graph.world.mailbox(ALICE).default_calendar.events == {}  # type: ignore[union-attr]


async def test_oversized_batches_and_schedule_windows_are_refused(graph: GraphSandbox) -> None:
    token = (await graph.credential().get_token(*SCOPES)).token
    headers = {"Authorization": f"Bearer {token}"}
    requests = [{"id": str(n), "method": "GET", "url": f"/users/{ALICE}/events"} for n in range(21)]
    long_window = {
        "schedules": [BOB],
        "startTime": {"dateTime": "2026-11-01T00:00:00", "timeZone": "UTC"},
        "endTime": {"dateTime": "2027-01-15T00:00:00", "timeZone": "UTC"},
    }

    async with httpx.AsyncClient(verify=graph.client_ssl, headers=headers) as http:
        batch = await http.post(f"{graph.origin}/v1.0/$batch", json={"requests": requests})
        schedule = await http.post(
            f"{graph.origin}/v1.0/users/{ALICE}/calendar/getSchedule", json=long_window
        )

    assert batch.status_code == 400 and batch.json()["error"]["code"] == "BadRequest"
    assert schedule.status_code == 400 and schedule.json()["error"]["code"] == "ErrorInvalidTimeInterval"
