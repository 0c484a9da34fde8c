"""The SDK-backed sources against the provider emulators (real google-api-python-client,
msgraph-sdk and exchangelib over loopback). Skipped until the emulators are in this build.

Everything that depends on how the emulators are started and seeded sits in the `Emulators`
adapter below, so that joining them to this suite touches one place.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

pytest.importorskip("sandbox.google")
pytest.importorskip("sandbox.graph")
pytest.importorskip("sandbox.ews")

from freebusy_doubles import make_lookup

from calbridge.freebusy.types import AddressError, BusyResult, ErrorCode, Window

pytestmark = pytest.mark.integration
UTC = ZoneInfo("UTC")
WINDOW = Window(datetime(2026, 11, 23, 8, tzinfo=UTC), datetime(2026, 11, 23, 18, tzinfo=UTC))
PEOPLE = {
    "google-main": "ada@example.com",
    "graph-main": "grace@contoso.com",
    "ews-main": "linus@fabrikam.com",
}


class Emulators:
    """Starts the three emulators and builds a source on each (the adapter to the sandbox)."""

    def __init__(self, running: dict[str, Any]) -> None:
        self.running = running

    @classmethod
    @asynccontextmanager
    async def start(cls) -> AsyncIterator[Emulators]:
        async with (
            importlib.import_module("sandbox.google").serve() as google,
            importlib.import_module("sandbox.graph").serve() as graph,
            importlib.import_module("sandbox.ews").serve() as ews,
        ):
            yield cls({"google-main": google, "graph-main": graph, "ews-main": ews})

    def add_busy(self, connection: str, address: str, start: datetime, end: datetime) -> None:
        self.running[connection].add_event(address, start=start, end=end, show_as="busy")

    def fail(self, connection: str, status: int) -> None:
        self.running[connection].faults.fail(f"{connection.split('-')[0]}.freebusy", status=status, rate=1.0)

    def freebusy_calls(self, connection: str) -> int:
        return int(self.running[connection].counters.calls_to(connection.split("-")[0] + ".freebusy"))

    def sources(self) -> dict[str, Any]:
        return {name: emulator.freebusy_source() for name, emulator in self.running.items()}


@pytest.fixture
async def emulators() -> AsyncIterator[Emulators]:
    async with Emulators.start() as running:
        for connection, address in PEOPLE.items():
            running.add_busy(
                connection,
                address,
                datetime(2026, 11, 23, 9, tzinfo=UTC),
                datetime(2026, 11, 23, 10, tzinfo=UTC),
            )
        yield running


async def test_given_people_on_three_platforms_then_one_lookup_answers_all(emulators: Emulators) -> None:
    answer = await make_lookup(emulators.sources()).answer(list(PEOPLE.values()), WINDOW)
    for address in PEOPLE.values():
        outcome = answer[address]
        assert isinstance(outcome, BusyResult), (address, outcome)
        assert [(b.start.astimezone(UTC).hour, b.end.astimezone(UTC).hour) for b in outcome.busy] == [(9, 10)]


async def test_given_graph_failing_then_its_people_get_errors_and_the_others_answer(
    emulators: Emulators,
) -> None:
    emulators.fail("graph-main", 503)
    answer = await make_lookup(emulators.sources()).answer(list(PEOPLE.values()), WINDOW)
    failure = answer["grace@contoso.com"]
    assert isinstance(failure, AddressError) and failure.code is ErrorCode.PROVIDER_FAILED
    assert isinstance(answer["ada@example.com"], BusyResult)
    assert isinstance(answer["linus@fabrikam.com"], BusyResult)


async def test_given_repeated_lookups_within_the_ttl_then_each_provider_is_called_once(
    emulators: Emulators,
) -> None:
    lookup = make_lookup(emulators.sources(), ttl=30)
    for _ in range(5):
        await lookup.answer(list(PEOPLE.values()), WINDOW)
    assert {name: emulators.freebusy_calls(name) for name in PEOPLE} == dict.fromkeys(PEOPLE, 1)
