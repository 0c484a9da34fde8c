"""Out of office mirrored across suites, on the sandbox through the real SDKs: the renewer's
pass (`subscriptions.service.mirror_out_of_office`) over a store of pairs.

Alice mirrors between Google and Outlook (Graph), Dave between Google and Exchange (EWS), both
with `--mirror-oof`; Bob's pair (Google and Graph) does not mirror out of office.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.providers.google.connection import GoogleConnection
from calbridge.secretbox import SecretBox, generate_key, parse_secret_keys
from calbridge.settings import Settings, load_settings
from calbridge.store.connection_records import new_id, save_connection
from calbridge.store.engine import create_engine
from calbridge.store.migrate import upgrade
from calbridge.store.tables import calendars, pairs
from subscriptions.service import mirror_out_of_office

Sandbox = pytest.importorskip("sandbox.server").Sandbox
GraphControl = pytest.importorskip("sandbox.graph.client").GraphControl
EwsControlClient = pytest.importorskip("sandbox.ews.control").EwsControlClient
sandbox_connections = pytest.importorskip("calbridge_app.sandbox_connections").sandbox_connections

pytestmark = pytest.mark.integration
ALICE, BOB, DAVE = "alice@example.com", "bob@example.com", "dave@example.com"


@dataclass
class World:
    sb: Any
    settings: Settings
    engine: AsyncEngine

    def graph(self) -> Any:
        context = ssl.create_default_context(cafile=str(self.sb.ca_file))
        return GraphControl(self.sb.info.https_endpoints["graph"], ssl_context=context)

    def ews(self) -> Any:
        context = ssl.create_default_context(cafile=str(self.sb.ca_file))
        return EwsControlClient(self.sb.info.https_endpoints["ews"], ssl_context=context)

    async def google_absences(self, person: str) -> list[dict[str, Any]]:
        async with self.sb.control() as control:
            state = await control.google.calendar(person)
        return [
            e
            for e in state["events"]
            if e.get("eventType") == "outOfOffice" and e.get("status") != "cancelled"
        ]

    async def mirror(self) -> None:
        await mirror_out_of_office(self.settings, self.engine)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with Sandbox.start(seed=13) as sb:
        if not {"graph", "ews"} <= set(sb.info.https_endpoints):
            pytest.skip("the Microsoft emulators are not mounted in this sandbox")
        url = f"sqlite+aiosqlite:///{tmp_path / 'calbridge.db'}"
        await asyncio.to_thread(upgrade, url)
        key = generate_key()
        engine = create_engine(url)
        async with engine.begin() as conn:
            saved = {}
            box = SecretBox(parse_secret_keys(key))
            for connection in sandbox_connections(sb.info.as_json(), "sbx", tmp_path / "sbx-ca.pem"):
                if isinstance(connection, GoogleConnection):  # the admin delegated Gmail's settings too
                    connection = replace(connection, gmail_settings=True)
                record, _ = await save_connection(conn, box, connection)
                saved[record.name] = record
            for person, microsoft, mirror in (
                (ALICE, "sbx-graph", True),
                (BOB, "sbx-graph", False),
                (DAVE, "sbx-ews", True),
            ):
                ids = {}
                for name in ("sbx-google", microsoft):
                    ids[name] = new_id()
                    await conn.execute(
                        calendars.insert().values(
                            id=ids[name],
                            connection_id=saved[name].id,
                            provider=str(saved[name].provider),
                            owner=person,
                            calendar="primary",
                        )
                    )
                await conn.execute(
                    pairs.insert().values(
                        id=f"pair-{person[0]}",
                        google_calendar_id=ids["sbx-google"],
                        microsoft_calendar_id=ids[microsoft],
                        state="active",
                        mirror_oof=mirror,
                    )
                )
        async with sb.control() as control:
            await control.call("PUT", "/google/settings", {"gmailSettingsDelegated": True})
        settings = load_settings(database_url=url, secret_key=key)
        try:
            yield World(sb, settings, engine)
        finally:
            await engine.dispose()


def wall(moment: datetime) -> dict[str, str]:
    return {"dateTime": moment.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


async def test_given_an_outlook_automatic_reply_then_a_google_oof_event_once_and_only_for_the_opted_in_pair(
    world: World,
) -> None:
    start = (datetime.now(UTC) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    end = start + timedelta(days=4)
    reply = {"status": "scheduled", "scheduledStartDateTime": wall(start), "scheduledEndDateTime": wall(end)}
    async with world.graph() as graph:
        for person in (ALICE, BOB):
            await graph.set_automatic_replies(person, reply)
    await world.mirror()
    made = await world.google_absences(ALICE)
    spans = [
        (datetime.fromisoformat(e["start"]["dateTime"]), datetime.fromisoformat(e["end"]["dateTime"]))
        for e in made
    ]
    assert spans == [(start, end)]
    assert made[0]["extendedProperties"]["private"]["calbridgePair"] == "pair-a"
    vacation = world.sb.google.world.vacations[ALICE]  # and Gmail's responder, for the same span
    assert vacation["enableAutoReply"] is True and int(vacation["endTime"]) == int(end.timestamp() * 1000)
    assert BOB not in world.sb.google.world.vacations
    assert await world.google_absences(BOB) == []  # no --mirror-oof: nothing
    writes = world.sb.counters.calls_to("google.events.insert")
    await world.mirror()  # exactly once: the next pass writes nothing anywhere
    assert world.sb.counters.calls_to("google.events.insert") == writes
    assert len(await world.google_absences(ALICE)) == 1
    async with world.graph() as graph:  # and the reply did not come back changed
        assert (await graph.automatic_replies(ALICE))["status"] == "scheduled"
        await graph.set_automatic_replies(ALICE, {"status": "disabled"})
    await world.mirror()
    assert await world.google_absences(ALICE) == []
    assert world.sb.google.world.vacations[ALICE]["enableAutoReply"] is False
    assert world.sb.counters.invitations == []


async def test_given_a_google_oof_event_then_the_exchange_automatic_reply_turns_on_and_off_without_echo(
    world: World,
) -> None:
    start = (datetime.now(UTC) + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    end = start + timedelta(days=2)
    async with world.sb.control() as control:
        made = await control.google.create_event(
            DAVE,
            {
                "eventType": "outOfOffice",
                "summary": "Away",
                "start": {"dateTime": start.isoformat()},
                "end": {"dateTime": end.isoformat()},
            },
        )
    await world.mirror()
    oof = await asyncio.to_thread(world.ews().oof, DAVE)
    assert oof["state"] == "Scheduled"
    assert datetime.fromisoformat(oof["start"]) == start and datetime.fromisoformat(oof["end"]) == end
    await world.mirror()  # no echo: the reply calbridge wrote makes no Google event
    assert [e["id"] for e in await world.google_absences(DAVE)] == [made["id"]]
    assert world.sb.counters.calls_to("ews.SetUserOofSettings") == 1
    async with world.sb.control() as control:
        await control.google.delete_event(DAVE, made["id"])
    await world.mirror()
    assert (await asyncio.to_thread(world.ews().oof, DAVE))["state"] == "Disabled"


async def test_given_an_always_on_exchange_reply_then_the_google_event_covers_the_coming_week(
    world: World,
) -> None:
    await asyncio.to_thread(world.ews().set_oof, DAVE, state="Enabled")
    await world.mirror()
    (made,) = await world.google_absences(DAVE)
    length = datetime.fromisoformat(made["end"]["dateTime"]) - datetime.fromisoformat(
        made["start"]["dateTime"]
    )
    assert length == timedelta(days=7)


async def test_given_a_google_oof_event_then_the_graph_automatic_reply_is_scheduled_for_its_span(
    world: World,
) -> None:
    start = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    end = start + timedelta(days=1)
    async with world.sb.control() as control:
        await control.google.create_event(
            ALICE,
            {
                "eventType": "outOfOffice",
                "start": {"dateTime": start.isoformat()},
                "end": {"dateTime": end.isoformat()},
            },
        )
        await control.google.create_event(  # Bob's pair does not mirror: his reply stays off
            BOB,
            {
                "eventType": "outOfOffice",
                "start": {"dateTime": start.isoformat()},
                "end": {"dateTime": end.isoformat()},
            },
        )
    await world.mirror()
    async with world.graph() as graph:
        reply = await graph.automatic_replies(ALICE)
        assert (await graph.automatic_replies(BOB))["status"] == "disabled"
    assert reply["status"] == "scheduled"
    assert reply["scheduledStartDateTime"]["dateTime"].startswith(start.strftime("%Y-%m-%dT%H:%M:%S"))
    assert reply["scheduledEndDateTime"]["dateTime"].startswith(end.strftime("%Y-%m-%dT%H:%M:%S"))
    assert world.sb.counters.calls_to("graph.mailboxSettings.update") == 1
