"""Batch requests through the real client's BatchHttpRequest."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest
from sandbox_support import ALICE, call, timed

from sandbox.server import Sandbox

pytestmark = pytest.mark.integration


async def test_given_a_batch_of_inserts_with_one_duplicate_when_executed_then_each_answer_comes_back(
    sb: Sandbox, alice_events: Any
) -> None:
    answers: dict[str, Any] = {}

    def collect(request_id: str, response: Any, exception: HttpError | None) -> None:
        answers[request_id] = exception.status_code if exception else response["id"]

    batch = BatchHttpRequest(callback=collect, batch_uri=sb.info.google_batch_uri)
    for n, event_id in enumerate(["batch00001", "batch00002", "batch00001"]):
        body = {"id": event_id, **timed("2026-12-01", f"0{n + 1}:00", f"0{n + 1}:30")}
        batch.add(alice_events.insert(calendarId="primary", body=body, sendUpdates="none"), request_id=str(n))

    await asyncio.to_thread(batch.execute)

    assert answers == {"0": "batch00001", "1": "batch00002", "2": 409}
    listed = await call(alice_events.list(calendarId="primary"))
    assert sorted(i["id"] for i in listed["items"]) == ["batch00001", "batch00002"]
    assert sb.counters.calls[("google.events.insert", 200)] == 2
    assert sb.counters.calls[("google.batch", 200)] == 1
    assert ALICE in {i["organizer"]["email"] for i in listed["items"]}
