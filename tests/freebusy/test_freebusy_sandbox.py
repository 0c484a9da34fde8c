"""Free/busy as deployed, against the sandbox: connections registered through the library (as
`calbridge connections add-sandbox` does), the receiver built by its own ASGI factory from the
environment, served by uvicorn on loopback, asked over HTTP; and the CLI answering in-process
from the same store.

Alice's calendar is asked through Google, Bob's through Graph, Carol's through EWS (the same
people exist on all three, as in a company that runs both; the store's calendars say which).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import uvicorn
from typer.testing import CliRunner

from calbridge.secretbox import SecretBox, generate_key, parse_secret_keys
from calbridge.store.connection_records import new_id, save_connection
from calbridge.store.engine import create_engine
from calbridge.store.migrate import upgrade
from calbridge.store.tables import calendars
from calbridge_app.cli import app as cli

# Reached through importorskip rather than import statements: whether `sandbox.server` exists
# must not change how the imports sort.
Sandbox = pytest.importorskip("sandbox.server").Sandbox
GraphControl = pytest.importorskip("sandbox.graph.client").GraphControl
EwsControlClient = pytest.importorskip("sandbox.ews.control").EwsControlClient
sandbox_connections = pytest.importorskip("calbridge_app.sandbox_connections").sandbox_connections

pytestmark = pytest.mark.integration
ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"
PEOPLE = [ALICE, BOB, CAROL]
HOMES = {ALICE: "sbx-google", BOB: "sbx-graph", CAROL: "sbx-ews"}
CALLS = {
    ALICE: "google.freebusy.query",
    BOB: "graph.calendar.getSchedule",
    CAROL: "ews.GetUserAvailability",
}
TOKEN = "t" * 40
DAY = {"start": "2026-11-23T08:00:00Z", "end": "2026-11-23T18:00:00Z", "timeZone": "UTC"}


@dataclass
class Store:
    env: dict[str, str]


@pytest.fixture
async def sb() -> AsyncIterator[Any]:
    async with Sandbox.start(seed=11) as sandbox:
        if not {"graph", "ews"} <= set(sandbox.info.https_endpoints):
            pytest.skip("the Microsoft emulators are not mounted in this sandbox")
        yield sandbox


@pytest.fixture
async def store(sb: Any, tmp_path: Path) -> Store:
    """A migrated store holding the sandbox's three connections (secrets sealed with a fresh
    key) and one calendar per person on their home connection, as `pairs add` would leave."""
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
            for person, home in HOMES.items():
                await conn.execute(
                    calendars.insert().values(
                        id=new_id(),
                        connection_id=saved[home].id,
                        provider=str(saved[home].provider),
                        owner=person,
                        calendar="primary",
                    )
                )
    finally:
        await engine.dispose()
    return Store(
        {
            "CALBRIDGE_DATABASE_URL": url,
            "CALBRIDGE_SECRET_KEY": key,
            "CALBRIDGE_FREEBUSY_KEYS": f"portal:{TOKEN}",
            "CALBRIDGE_SIGNING_KEYS": "k1:" + "s" * 40,
        }
    )


@pytest.fixture
async def busy_people(sb: Any) -> None:
    """Each person busy 09:00-10:00 UTC on their own platform; Bob also tentative 13:00-14:00."""
    async with sb.control() as control:
        await control.google.create_event(
            ALICE,
            {
                "summary": "1:1",
                "start": {"dateTime": "2026-11-23T09:00:00Z"},
                "end": {"dateTime": "2026-11-23T10:00:00Z"},
            },
        )
    async with graph_control(sb) as graph:
        for start, end, show_as in (("09:00", "10:00", "busy"), ("13:00", "14:00", "tentative")):
            await graph.create_event(
                BOB,
                {
                    "subject": "Review",
                    "start": {"dateTime": f"2026-11-23T{start}:00", "timeZone": "UTC"},
                    "end": {"dateTime": f"2026-11-23T{end}:00", "timeZone": "UTC"},
                    "showAs": show_as,
                },
            )
    await asyncio.to_thread(
        ews_control(sb).create_item,
        CAROL,
        subject="Standup",
        start="2026-11-23T09:00:00Z",
        end="2026-11-23T10:00:00Z",
        free_busy="Busy",
    )


def graph_control(sb: Any) -> Any:
    return GraphControl(sb.info.https_endpoints["graph"], ssl_context=_trust(sb))


def ews_control(sb: Any) -> Any:
    return EwsControlClient(sb.info.https_endpoints["ews"], ssl_context=_trust(sb))


def _trust(sb: Any) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(sb.ca_file))


@pytest.fixture
def cache_ttl() -> float:
    """Off unless a test says otherwise (`parametrize("cache_ttl", [...])`)."""
    return 0.0


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """`app` served by uvicorn on a loopback port the OS picks, lifespan included."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(20):
            while not server.started:  # uvicorn exposes a flag, not an event
                if task.done():
                    task.result()  # startup failed: say why
                await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)


@pytest.fixture
def deployment_env(store: Store, monkeypatch: pytest.MonkeyPatch, cache_ttl: float) -> None:
    monkeypatch.delenv("CALBRIDGE_AMQP_URL", raising=False)  # the memory bus: no RabbitMQ needed
    for name, value in store.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CALBRIDGE_FREEBUSY_CACHE_TTL", str(cache_ttl))


@pytest.fixture
async def receiver(deployment_env: None) -> AsyncIterator[str]:
    """The receiver as deployed (`receiver.asgi:build_app` reads the environment), on loopback."""
    from receiver.asgi import build_app

    async with serving(build_app()) as base:
        yield base


async def ask(base: str, body: dict[str, Any], token: str | None = TOKEN, **extra: Any) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers.update(extra.pop("headers", {}))
    async with aiohttp.ClientSession() as http:
        if "data" in extra:
            reply = await http.post(f"{base}/v1/freebusy", headers=headers, **extra)
        else:
            reply = await http.post(f"{base}/v1/freebusy", json=body, headers=headers)
        async with reply:
            return reply.status, await reply.json(content_type=None)


def hours(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    assert "busy" in result, result
    return [(b["start"][11:16], b["end"][11:16], b["status"]) for b in result["busy"]]


async def test_given_people_on_three_platforms_when_one_request_asks_then_all_are_answered(
    receiver: str, busy_people: None
) -> None:
    status, answer = await ask(receiver, {**DAY, "addresses": PEOPLE})
    assert status == 200
    results = answer["results"]
    assert hours(results[ALICE]) == [("09:00", "10:00", "busy")]
    assert hours(results[BOB]) == [("09:00", "10:00", "busy"), ("13:00", "14:00", "tentative")]
    assert hours(results[CAROL]) == [("09:00", "10:00", "busy")]


async def test_given_graph_failing_then_bob_gets_an_error_and_the_others_answer(
    sb: Any, receiver: str, busy_people: None
) -> None:
    async with sb.control() as control:
        await control.set_fault(CALLS[BOB], error_rate=1.0, error_status=500)
        status, answer = await ask(receiver, {**DAY, "addresses": PEOPLE})
    assert status == 200
    assert answer["results"][BOB]["error"]["code"] == "providerFailed"
    assert hours(answer["results"][ALICE]) == [("09:00", "10:00", "busy")]
    assert hours(answer["results"][CAROL]) == [("09:00", "10:00", "busy")]


@pytest.mark.parametrize("cache_ttl", [30.0])
async def test_given_repeated_requests_within_the_ttl_then_each_provider_is_called_once(
    sb: Any, receiver: str, busy_people: None
) -> None:
    for _ in range(4):
        status, answer = await ask(receiver, {**DAY, "addresses": PEOPLE})
        assert status == 200 and all("busy" in r for r in answer["results"].values())
    assert {person: sb.counters.calls_to(operation) for person, operation in CALLS.items()} == dict.fromkeys(
        PEOPLE, 1
    )


async def test_given_several_requests_then_exchange_is_asked_for_its_zone_definition_once(
    sb: Any, receiver: str, busy_people: None
) -> None:
    for _ in range(3):  # the cache is off: every request reaches every provider
        status, answer = await ask(receiver, {**DAY, "addresses": [CAROL]})
        assert status == 200 and hours(answer["results"][CAROL]) == [("09:00", "10:00", "busy")]
    assert sb.counters.calls_to("ews.GetUserAvailability") == 3
    assert sb.counters.calls_to("ews.GetServerTimeZones") == 1


async def test_given_overlapping_and_all_day_events_then_each_person_gets_merged_blocks(
    sb: Any, receiver: str
) -> None:
    async with sb.control() as control:  # Alice: 09:00-10:00 and 09:30-11:00 UTC overlap
        for start, end in (("09:00", "10:00"), ("09:30", "11:00")):
            await control.google.create_event(
                ALICE,
                {
                    "start": {"dateTime": f"2026-11-23T{start}:00Z"},
                    "end": {"dateTime": f"2026-11-23T{end}:00Z"},
                },
            )
    async with graph_control(sb) as graph:  # Bob: all day on the 24th, and a meeting within it
        await graph.create_event(
            BOB,
            {
                "subject": "Offsite",
                "isAllDay": True,
                "start": {"dateTime": "2026-11-24T00:00:00", "timeZone": "UTC"},
                "end": {"dateTime": "2026-11-25T00:00:00", "timeZone": "UTC"},
            },
        )
        await graph.create_event(
            BOB,
            {
                "subject": "Lunch",
                "start": {"dateTime": "2026-11-24T12:00:00", "timeZone": "UTC"},
                "end": {"dateTime": "2026-11-24T13:00:00", "timeZone": "UTC"},
            },
        )
    window = {"start": "2026-11-23T00:00:00Z", "end": "2026-11-26T00:00:00Z", "timeZone": "UTC"}
    status, answer = await ask(receiver, {**window, "addresses": [ALICE, BOB]})
    assert status == 200
    assert answer["results"][ALICE]["busy"] == [
        {"start": "2026-11-23T09:00:00Z", "end": "2026-11-23T11:00:00Z", "status": "busy"}
    ]
    assert answer["results"][BOB]["busy"] == [
        {"start": "2026-11-24T00:00:00Z", "end": "2026-11-25T00:00:00Z", "status": "busy"}
    ]


async def test_given_bad_requests_then_each_is_refused_with_a_status_and_a_reason(receiver: str) -> None:
    valid = {**DAY, "addresses": PEOPLE}
    refusals = {
        "no key": await ask(receiver, valid, token=None),
        "unknown key": await ask(receiver, valid, token="x" * 40),
        "not json": await ask(receiver, valid, data=b"{", headers={"Content-Type": "application/json"}),
        "backwards": await ask(receiver, {**valid, "start": DAY["end"], "end": DAY["start"]}),
        "no addresses": await ask(receiver, {**DAY, "addresses": []}),
        "not an address": await ask(receiver, {**DAY, "addresses": ["alice"]}),
    }
    statuses = {case: status for case, (status, _) in refusals.items()}
    assert statuses == {
        "no key": 401,
        "unknown key": 403,
        "not json": 400,
        "backwards": 422,
        "no addresses": 422,
        "not an address": 422,
    }
    assert all(problem.get("detail") for _, problem in refusals.values())


async def test_given_an_address_nobody_serves_then_only_it_is_unknown(
    receiver: str, busy_people: None
) -> None:
    status, answer = await ask(receiver, {**DAY, "addresses": [BOB, "ghost@elsewhere.org"]})
    assert status == 200
    assert hours(answer["results"][BOB])
    assert answer["results"]["ghost@elsewhere.org"]["error"]["code"] == "unknownAddress"


async def test_given_the_standalone_app_then_it_answers_from_the_store_and_describes_itself(
    deployment_env: None, busy_people: None
) -> None:
    from calbridge_app.freebusy_asgi import build_app

    async with serving(build_app()) as base:
        status, answer = await ask(base, {**DAY, "addresses": PEOPLE})
        async with aiohttp.ClientSession() as http, http.get(f"{base}/openapi.json") as described:
            assert described.status == 200 and "/v1/freebusy" in (await described.json())["paths"]
    assert status == 200
    assert [hours(answer["results"][person]) for person in (ALICE, CAROL)] == [
        [("09:00", "10:00", "busy")]
    ] * 2


async def test_given_the_store_when_the_cli_runs_without_url_then_it_draws_the_known_meeting(
    store: Store, busy_people: None
) -> None:
    args = ["freebusy", *PEOPLE, "--start", "2026-11-23T00:00", "--end", "2026-11-24T00:00", "--width", "100"]
    env = {**store.env, "CALBRIDGE_FREEBUSY_URL": "", "COLUMNS": "100", "NO_COLOR": "1"}
    # The command runs its own event loop, so it runs beside this test's.
    result = await asyncio.to_thread(CliRunner().invoke, cli, args, env=env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.rstrip("\n").split("\n")
    assert all(len(line) <= 100 for line in lines)
    rows = {line.split(" ", 1)[0]: line for line in lines if "@" in line.split(" ", 1)[0]}
    assert set(rows) == set(PEOPLE)
    header_width = len(ALICE) + 1  # names are padded to the longest, here all the same length
    cells = rows[ALICE][header_width:]
    busy = [i for i, cell in enumerate(cells) if cell == "█"]
    # 09:00-10:00 of a 24-hour day: every cell the hour touches, and no other
    assert busy == list(range(int(9 / 24 * len(cells)), int(10 / 24 * len(cells)) + 1))
    assert "Mon 23 " in lines[0] and "10:00" in lines[0]  # the header reads: labels never run together
    assert "▒" in rows[BOB]  # Bob's tentative afternoon
