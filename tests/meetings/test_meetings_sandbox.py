"""The meeting list and out-of-office state as deployed, against the sandbox: connections and
pairs in a store, the receiver built by its own ASGI factory, asked over HTTP through the real
SDKs (google-api-python-client, msgraph-sdk, exchangelib).

Alice (`ADA`) has a pair between her Google calendar and her Outlook (Graph) calendar; her meeting on
Google has a mirror on Outlook carrying calbridge's stamp, and a Meet link. Carol is in no pair:
she is read on Exchange (EWS) alone, through the directory.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from calbridge.providers.base import MirrorStamp
from calbridge.secretbox import SecretBox, generate_key, parse_secret_keys
from calbridge.store.connection_records import new_id, save_connection
from calbridge.store.engine import create_engine
from calbridge.store.migrate import upgrade
from calbridge.store.tables import calendars, pairs
from calbridge.translate import stamps

Sandbox = pytest.importorskip("sandbox.server").Sandbox
GraphControl = pytest.importorskip("sandbox.graph.client").GraphControl
EwsControlClient = pytest.importorskip("sandbox.ews.control").EwsControlClient
sandbox_connections = pytest.importorskip("calbridge_app.sandbox_connections").sandbox_connections
serving = pytest.importorskip("tests.freebusy.test_freebusy_sandbox").serving

pytestmark = pytest.mark.integration
ADA, CAROL = "alice@example.com", "carol@example.com"  # Ada: Alice of the sandbox's people
TOKEN = "t" * 40
MEET = "https://meet.google.com/abc-defg-hij"
DAY = {"start": "2026-11-23T00:00:00Z", "end": "2026-11-24T00:00:00Z"}


@pytest.fixture
async def sb() -> AsyncIterator[Any]:
    async with Sandbox.start(seed=12) as sandbox:
        if not {"graph", "ews"} <= set(sandbox.info.https_endpoints):
            pytest.skip("the Microsoft emulators are not mounted in this sandbox")
        yield sandbox


def graph_control(sb: Any) -> Any:
    import ssl

    return GraphControl(
        sb.info.https_endpoints["graph"], ssl_context=ssl.create_default_context(cafile=str(sb.ca_file))
    )


def ews_control(sb: Any) -> Any:
    import ssl

    return EwsControlClient(
        sb.info.https_endpoints["ews"], ssl_context=ssl.create_default_context(cafile=str(sb.ca_file))
    )


@pytest.fixture
async def env(sb: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A store with the three sandbox connections, Ada's pair (Google <-> Graph) and Carol's
    Exchange calendar; the deployment's environment."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'calbridge.db'}"
    await asyncio.to_thread(upgrade, url)
    key = generate_key()
    box = SecretBox(parse_secret_keys(key))
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            saved = {}
            for connection in sandbox_connections(sb.info.as_json(), "sbx", tmp_path / "sbx-ca.pem"):
                record, _ = await save_connection(conn, box, connection)
                saved[record.name] = record
            ids = {}
            for name, owner in (("sbx-google", ADA), ("sbx-graph", ADA), ("sbx-ews", CAROL)):
                ids[name] = new_id()
                await conn.execute(
                    calendars.insert().values(
                        id=ids[name],
                        connection_id=saved[name].id,
                        provider=str(saved[name].provider),
                        owner=owner,
                        calendar="primary",
                    )
                )
            await conn.execute(
                pairs.insert().values(
                    id="pair-ada",
                    google_calendar_id=ids["sbx-google"],
                    microsoft_calendar_id=ids["sbx-graph"],
                    state="active",
                )
            )
    finally:
        await engine.dispose()
    values = {
        "CALBRIDGE_DATABASE_URL": url,
        "CALBRIDGE_SECRET_KEY": key,
        "CALBRIDGE_FREEBUSY_KEYS": f"portal:{TOKEN}",
        "CALBRIDGE_SIGNING_KEYS": "k1:" + "s" * 40,
        "CALBRIDGE_FREEBUSY_CACHE_TTL": "0",
    }
    monkeypatch.delenv("CALBRIDGE_AMQP_URL", raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
async def receiver(env: dict[str, str]) -> AsyncIterator[str]:
    from receiver.asgi import build_app

    async with serving(build_app()) as base:
        yield base


async def meetings(base: str, token: str | None = TOKEN, **query: str) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{base}/v1/meetings", params=query, headers=headers) as r,
    ):
        return r.status, await r.json(content_type=None)


async def ada_meets_on_google_with_a_mirror_on_outlook(sb: Any) -> None:
    async with sb.control() as control:
        original = await control.google.create_event(
            ADA,
            {
                "summary": "Design review",
                "location": f"Room 4 / {MEET}",
                "start": {"dateTime": "2026-11-23T09:00:00Z"},
                "end": {"dateTime": "2026-11-23T10:00:00Z"},
            },
        )
        await control.google.create_event(
            ADA,
            {
                "summary": "Lunch",
                "start": {"dateTime": "2026-11-23T12:00:00Z"},
                "end": {"dateTime": "2026-11-23T13:00:00Z"},
            },
        )
    stamp = MirrorStamp("pair-ada", original["id"])
    async with graph_control(sb) as graph:  # the mirror as calbridge writes it: its stamp
        await graph.create_event(
            ADA,
            {
                "subject": "Design review",
                "body": {"contentType": "text", "content": f"Join: {MEET}"},
                "start": {"dateTime": "2026-11-23T09:00:00", "timeZone": "UTC"},
                "end": {"dateTime": "2026-11-23T10:00:00", "timeZone": "UTC"},
                "singleValueExtendedProperties": stamps.graph_properties(stamp, None),
            },
        )
        await graph.create_event(  # made in Outlook, not mirrored (yet)
            ADA,
            {
                "subject": "1:1",
                "start": {"dateTime": "2026-11-23T15:00:00", "timeZone": "UTC"},
                "end": {"dateTime": "2026-11-23T15:30:00", "timeZone": "UTC"},
            },
        )


async def test_given_an_event_on_google_and_its_mirror_on_outlook_then_one_meeting_with_its_join_url(
    sb: Any, receiver: str
) -> None:
    await ada_meets_on_google_with_a_mirror_on_outlook(sb)
    status, answer = await meetings(receiver, address=ADA, **DAY)
    assert status == 200, answer
    listed = [(m["title"], m["start"][11:16], m["provider"], m.get("joinUrl")) for m in answer["meetings"]]
    assert listed == [
        ("Design review", "09:00", "google", MEET),
        ("Lunch", "12:00", "google", None),
        ("1:1", "15:00", "graph", None),
    ]
    assert answer["meetings"][0]["alsoOn"] == ["graph"]
    assert answer["oof"] == {"active": False}
    assert sb.counters.calls_to("google.events.list") >= 1
    assert sb.counters.calls_to("graph.calendarView.list") >= 1


async def test_given_an_outlook_automatic_reply_then_the_list_and_free_busy_say_out_of_office(
    sb: Any, receiver: str
) -> None:
    now = datetime.now(UTC)
    until = (now + timedelta(days=2)).replace(microsecond=0)
    async with graph_control(sb) as graph:
        await graph.set_automatic_replies(
            ADA,
            {
                "status": "scheduled",
                "scheduledStartDateTime": {
                    "dateTime": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"),
                    "timeZone": "UTC",
                },
                "scheduledEndDateTime": {"dateTime": until.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            },
        )
    status, answer = await meetings(receiver, address=ADA, **DAY)
    assert status == 200
    assert answer["oof"] == {"active": True, "until": until.strftime("%Y-%m-%dT%H:%M:%SZ")}
    async with aiohttp.ClientSession() as http:
        body = {**DAY, "addresses": [ADA]}
        async with http.post(
            f"{receiver}/v1/freebusy", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as r:
            freebusy = await r.json()
    assert freebusy["results"][ADA]["oof"]["active"] is True
    assert sb.counters.calls_to("graph.mailboxSettings.get") == 1  # kept a minute: free/busy reused it


async def test_given_an_exchange_person_in_no_pair_then_read_through_ews_with_the_oof_state(
    sb: Any, receiver: str
) -> None:
    ews = ews_control(sb)
    standup = await asyncio.to_thread(
        ews.create_item, CAROL, subject="Standup", start="2026-11-23T09:00:00Z", end="2026-11-23T09:15:00Z"
    )
    await asyncio.to_thread(ews.set_oof, CAROL, state="Enabled")
    status, answer = await meetings(receiver, address=CAROL, **DAY)
    assert status == 200, answer
    assert [(m["title"], m["provider"]) for m in answer["meetings"]] == [("Standup", "ews")]
    assert answer["oof"] == {"active": True}
    assert sb.counters.calls_to("ews.GetUserOofSettings") == 1

    # When she asks again with nothing changed, the item is not read again (its ChangeKey is the same)
    reads = sb.counters.calls_to("ews.GetItem")
    status, again = await meetings(receiver, address=CAROL, **DAY)
    assert again["meetings"] == answer["meetings"]
    assert sb.counters.calls_to("ews.GetItem") == reads
    # and when Carol renames it, the next list reads the new version
    await asyncio.to_thread(ews.edit_item, CAROL, standup["id"], subject="Standup (moved online)")
    status, edited = await meetings(receiver, address=CAROL, **DAY)
    assert [m["title"] for m in edited["meetings"]] == ["Standup (moved online)"]
    assert sb.counters.calls_to("ews.GetItem") == reads + 1


async def test_given_bad_meeting_queries_then_each_is_refused_like_free_busy(receiver: str) -> None:
    refusals = {
        "no key": await meetings(receiver, token=None, address=ADA),
        "unknown key": await meetings(receiver, token="x" * 40, address=ADA),
        "no address": await meetings(receiver, **DAY),
        "not an address": await meetings(receiver, address="ada", **DAY),
        "backwards": await meetings(receiver, address=ADA, start=DAY["end"], end=DAY["start"]),
        "too long": await meetings(receiver, address=ADA, start=DAY["start"], end="2027-06-01T00:00:00Z"),
    }
    assert {case: status for case, (status, _) in refusals.items()} == {
        "no key": 401,
        "unknown key": 403,
        "no address": 422,
        "not an address": 422,
        "backwards": 422,
        "too long": 422,
    }
    assert all(problem.get("detail") for _, problem in refusals.values())


async def test_given_an_address_nobody_serves_then_its_error_is_in_the_answer(receiver: str) -> None:
    status, answer = await meetings(receiver, address="ghost@elsewhere.org", **DAY)
    assert status == 200
    assert answer["error"]["code"] == "unknownAddress" and answer["meetings"] == []


async def test_the_openapi_document_describes_the_meeting_list(receiver: str) -> None:
    async with aiohttp.ClientSession() as http, http.get(f"{receiver}/openapi.json") as described:
        document = await described.json()
    assert "get" in document["paths"]["/v1/meetings"]
    assert "oof" in document["components"]["schemas"]["AddressBusy"]["properties"]


def test_given_the_cli_then_it_lists_the_meeting_once_with_its_link_as_a_table_and_as_json(
    sb: Any, env: dict[str, str]
) -> None:
    from typer.testing import CliRunner

    from calbridge_app.cli import app as cli

    asyncio.run(ada_meets_on_google_with_a_mirror_on_outlook(sb))
    window = ["--start", DAY["start"], "--end", DAY["end"]]
    table = CliRunner().invoke(cli, ["meetings", ADA, *window], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert table.output.count("Design review") == 1 and MEET in table.output
    as_json = CliRunner().invoke(cli, ["meetings", ADA, *window, "--json"])
    assert as_json.exit_code == 0, as_json.output
    listed = json.loads(as_json.output)["meetings"]
    assert [m["title"] for m in listed] == ["Design review", "Lunch", "1:1"]
    bad = CliRunner().invoke(cli, ["meetings", ADA, "--start", "tomorrow"])
    assert bad.exit_code == 2 and "not an ISO date" in bad.output  # a usage error, as `calbridge freebusy`
