"""A create whose answer is lost (the client gives up while the provider still writes) is
adopted by the retry instead of duplicated.

Graph only: the Google emulator reads a request's body after its injected latency, so a client
that gives up there also cancels the write; the Google adapter's adopt path is covered by
creating twice (`test_providers_google_writes.py`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
from providers_support import ALICE, meeting, stamp

from calbridge.errors import TransientProviderError
from calbridge.providers.base import CalendarAddress
from calbridge.providers.graph.adapter import GraphCalendar
from sandbox.client import SandboxControl
from sandbox.graph import GraphControl
from sandbox.server import Sandbox

pytestmark = pytest.mark.integration

HERE = CalendarAddress(ALICE)


async def wait_for(condition: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_given_a_graph_post_answered_too_late_when_retried_then_one_event_exists(
    sandbox: Sandbox, control: SandboxControl, graph_control: GraphControl
) -> None:
    ms = sandbox.info.microsoft
    impatient = GraphCalendar.connect(
        ms["tenant_id"],
        ms["client_id"],
        ms["client_secret"],
        authority=ms["graph_authority"],
        graph_url=ms["graph_url"],
        ca_file=str(sandbox.ca_file),
        timeout=0.5,
    )
    try:
        await impatient.check_access(HERE)
        await control.set_fault("graph.events.create", latency=(1.0, 1.0))
        with pytest.raises(TransientProviderError):
            await impatient.create(HERE, meeting("Planning"), stamp())

        async def written() -> bool:
            return bool((await graph_control.calendar_state(ALICE))["events"])

        await wait_for(written)
        await control.clear_fault("graph.events.create")
        adopted = await impatient.create(HERE, meeting("Planning"), stamp())
        events = (await graph_control.calendar_state(ALICE))["events"]
        assert [e["id"] for e in events] == [adopted.event.id]
    finally:
        await impatient.aclose()
