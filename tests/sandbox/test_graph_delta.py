"""`calendarView/delta` through the real msgraph-sdk: paging with next and delta links,
`@removed` entries, links on the request's own https origin, and 410 for an expired link."""

# ruff: noqa: F811  (pytest fixtures imported from graph_harness are parameters here)

from __future__ import annotations

from typing import Any

import httpx
import pytest
from graph_harness import ALICE, SCOPES, GraphSandbox, graph  # noqa: F401
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.item.calendar_view.delta.delta_request_builder import DeltaRequestBuilder

pytestmark = pytest.mark.integration  # the emulator over HTTPS on loopback


def person_event(subject: str, day: int) -> dict[str, Any]:
    return {
        "subject": subject,
        "start": {"dateTime": f"2026-11-{day:02d}T09:00:00", "timeZone": "UTC"},
        "end": {"dateTime": f"2026-11-{day:02d}T10:00:00", "timeZone": "UTC"},
    }


def first_round(
    page_size: int,
) -> RequestConfiguration[DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters]:
    config = RequestConfiguration(
        query_parameters=DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
            start_date_time="2026-11-01T00:00:00Z", end_date_time="2026-12-01T00:00:00Z"
        )
    )
    config.headers.add("Prefer", f"odata.maxpagesize={page_size}")
    return config


async def test_delta_pages_then_reports_changes_and_removals_then_expires(graph: GraphSandbox) -> None:
    for subject, day in (("One", 10), ("Two", 11), ("Three", 12)):
        await graph.control.create_event(ALICE, person_event(subject, day))
    outside = person_event("Outside", 1)
    outside["start"]["dateTime"], outside["end"]["dateTime"] = "2027-03-01T09:00:00", "2027-03-01T10:00:00"
    await graph.control.create_event(ALICE, outside)
    delta = graph.client().users.by_user_id(ALICE).calendar_view.delta

    # Given a first round in pages of two
    page = await delta.get(first_round(2))
    assert page is not None and page.odata_next_link and page.odata_delta_link is None
    assert page.odata_next_link.startswith(graph.origin + "/v1.0/users/")
    seen = [e.subject for e in page.value or []]
    page = await delta.with_url(page.odata_next_link).get()
    assert page is not None and page.odata_delta_link and page.odata_next_link is None
    seen += [e.subject for e in page.value or []]
    assert seen == ["One", "Two", "Three"]
    delta_link = page.odata_delta_link
    assert delta_link.startswith("https://")
    by_subject = {e["subject"]: e["restId"] for e in (await graph.control.calendar_state(ALICE))["events"]}

    # When a person edits one event, deletes another and adds one far outside the window
    await graph.control.update_event(ALICE, by_subject["One"], {"subject": "One (edited)"})
    await graph.control.delete_event(ALICE, by_subject["Two"])
    far = person_event("Far away", 1)
    far["start"]["dateTime"], far["end"]["dateTime"] = "2027-06-01T09:00:00", "2027-06-01T10:00:00"
    far_id = (await graph.control.create_event(ALICE, far))["restId"]

    # Then the next round has exactly the edit and the removal -- plus, as Graph does, an
    # @removed for the change outside the window, which clients must ignore
    changes = await delta.with_url(delta_link).get()
    assert changes is not None and changes.odata_delta_link
    edited = [e.subject for e in changes.value or [] if "@removed" not in e.additional_data]
    removed = [
        (e.id, e.additional_data["@removed"]) for e in changes.value or [] if "@removed" in e.additional_data
    ]
    assert edited == ["One (edited)"]
    assert removed == [(by_subject["Two"], {"reason": "deleted"}), (far_id, {"reason": "deleted"})]

    # And once the sandbox forgets the link, using it answers 410
    await graph.control.expire_delta(ALICE)
    with pytest.raises(ODataError) as gone:
        await delta.with_url(changes.odata_delta_link).get()
    assert gone.value.response_status_code == 410
    assert gone.value.error is not None and gone.value.error.code == "SyncStateNotFound"


async def test_delta_without_parentheses_is_the_same_function(graph: GraphSandbox) -> None:
    await graph.control.create_event(ALICE, person_event("Plain", 10))
    token = (await graph.credential().get_token(*SCOPES)).token

    async with httpx.AsyncClient(verify=graph.client_ssl) as http:
        answer = await http.get(
            f"{graph.origin}/v1.0/users/{ALICE}/calendarView/delta",
            params={"startDateTime": "2026-11-01T00:00:00Z", "endDateTime": "2026-12-01T00:00:00Z"},
            headers={"Authorization": f"Bearer {token}"},
        )

    assert answer.status_code == 200
    assert [e["subject"] for e in answer.json()["value"]] == ["Plain"]
    assert answer.json()["@odata.deltaLink"].startswith(
        f"{graph.origin}/v1.0/users/{ALICE}/calendarView/delta?"
    )
