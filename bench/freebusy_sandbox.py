"""p50/p99 of a 20-address mixed free/busy query, deployed as it would be, against the sandbox.

The sandbox's connections are stored (secrets sealed) as `calbridge connections add-sandbox`
does, and the app is `calbridge.freebusy.deploy.create_deployed_app`: sources opened from the
store over the adapters' clients (google-api-python-client, msgraph-sdk, exchangelib), the
directory read from the store's calendars. Seven addresses are asked through Google, seven
through Graph, six through EWS, each emulator answering after `--latency` seconds (the
sandbox's fault latency). The API is served by uvicorn on loopback; one client sends one
request at a time; the cache is off (TTL 0), so each request makes three provider calls. Every
address has a mailbox (added through the sandbox's control routes) with one busy hour.

    .venv/bin/python bench/freebusy_sandbox.py --requests 200 --latency 0.1
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import ssl
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import structlog
import uvicorn

from calbridge.freebusy.deploy import create_deployed_app
from calbridge.secretbox import SecretBox, generate_key, parse_secret_keys
from calbridge.settings import load_settings
from calbridge.store.connection_records import new_id, save_connection
from calbridge.store.engine import create_engine
from calbridge.store.migrate import upgrade
from calbridge.store.tables import calendars
from calbridge_app.sandbox_connections import sandbox_connections

# Imported by name: whether the sandbox is in this build must not change how imports sort.
Sandbox = importlib.import_module("sandbox.server").Sandbox
GraphControl = importlib.import_module("sandbox.graph.client").GraphControl
EwsControlClient = importlib.import_module("sandbox.ews.control").EwsControlClient
KEY = "b" * 40
ALICE = "alice@example.com"
DAY = "2026-11-23"
# Every call a free/busy request may make, delayed alike (GetServerTimeZones: exchangelib asks it
# before GetUserAvailability unless the zone's definition is cached).
OPERATIONS = (
    "google.freebusy.query",
    "graph.calendar.getSchedule",
    "ews.GetUserAvailability",
    "ews.GetServerTimeZones",
)


def addresses() -> dict[str, str]:
    """20 addresses -> connection: 7 Google, 7 Graph, 6 EWS."""
    groups = (("sbx-google", "alice", "g", 7), ("sbx-graph", "bob", "m", 7), ("sbx-ews", "carol", "x", 6))
    known: dict[str, str] = {}
    for connection, person, tag, count in groups:
        known[f"{person}@example.com"] = connection
        known.update({f"{tag}{i}@example.com": connection for i in range(1, count)})
    return known


async def add_people(sb: Any, known: dict[str, str]) -> None:
    """Mailboxes and calendars for the extra addresses, each busy 09:00-10:00."""
    client_ssl = ssl.create_default_context(cafile=str(sb.ca_file))
    ews = EwsControlClient(sb.info.https_endpoints["ews"], ssl_context=client_ssl)
    async with GraphControl(sb.info.https_endpoints["graph"], ssl_context=client_ssl) as graph:
        for address, connection in known.items():
            if connection == "sbx-google" and address not in sb.google.world.calendars:
                sb.google.world.add_calendar(
                    address, address, "UTC", {address: "owner", ALICE: "freeBusyReader"}
                )
            elif connection == "sbx-graph" and not address.startswith("bob@"):
                await graph.add_mailbox(address)
            elif connection == "sbx-ews" and not address.startswith("carol@"):
                await asyncio.to_thread(ews.add_mailbox, address)
    async with sb.control() as control:
        for address, connection in known.items():
            if connection == "sbx-google":
                await control.google.create_event(
                    address,
                    {"start": {"dateTime": f"{DAY}T09:00:00Z"}, "end": {"dateTime": f"{DAY}T10:00:00Z"}},
                )
    async with GraphControl(sb.info.https_endpoints["graph"], ssl_context=client_ssl) as graph:
        for address, connection in known.items():
            if connection == "sbx-graph":
                await graph.create_event(
                    address,
                    {
                        "subject": "x",
                        "start": {"dateTime": f"{DAY}T09:00:00", "timeZone": "UTC"},
                        "end": {"dateTime": f"{DAY}T10:00:00", "timeZone": "UTC"},
                    },
                )
    for address, connection in known.items():
        if connection == "sbx-ews":
            await asyncio.to_thread(
                ews.create_item,
                address,
                subject="x",
                start=f"{DAY}T09:00:00Z",
                end=f"{DAY}T10:00:00Z",
                free_busy="Busy",
            )


async def store_connections(sb: Any, folder: Path, known: dict[str, str]) -> dict[str, str]:
    """A migrated SQLite store with the sandbox's connections and a calendar per address; the
    environment a deployment would have."""
    url = f"sqlite+aiosqlite:///{folder / 'calbridge.db'}"
    await asyncio.to_thread(upgrade, url)
    key = generate_key()
    box = SecretBox(parse_secret_keys(key))
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            ids = {}
            for connection in sandbox_connections(sb.info.as_json(), "sbx", folder / "sbx-ca.pem"):
                record, _ = await save_connection(conn, box, connection)
                ids[record.name] = (record.id, str(record.provider))
            for address, name in known.items():
                connection_id, provider = ids[name]
                await conn.execute(
                    calendars.insert().values(
                        id=new_id(),
                        connection_id=connection_id,
                        provider=provider,
                        owner=address,
                        calendar="primary",
                    )
                )
    finally:
        await engine.dispose()
    return {"database_url": url, "secret_key": key}


def ews_cpu() -> float:
    """Seconds of worker-thread CPU the EWS client spent on GetUserAvailability so far."""
    from calbridge.metrics import REGISTRY

    total = REGISTRY.get_sample_value(
        "calbridge_ews_call_cpu_seconds_sum", {"operation": "GetUserAvailability"}
    )
    return total or 0.0


async def main(requests_count: int, latency: float) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))  # warnings only
    async with Sandbox.start(seed=3) as sb:
        known = addresses()
        await add_people(sb, known)
        with tempfile.TemporaryDirectory() as folder:
            stored = await store_connections(sb, Path(folder), known)
            settings = load_settings(**stored, freebusy_keys=f"bench:{KEY}", freebusy_cache_ttl=0)
            app = create_deployed_app(settings)
            config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
            server = uvicorn.Server(config)
            task = asyncio.create_task(server.serve())
            while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
                await asyncio.sleep(0.01)
            url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/v1/freebusy"
            payload = orjson.dumps(
                {"start": "2026-11-23T08:00:00Z", "end": "2026-11-23T18:00:00Z", "addresses": list(known)}
            )
            headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
            outcomes: Counter[str] = Counter()
            timings = []
            async with aiohttp.ClientSession(headers=headers) as http:
                async with http.post(url, data=payload) as warm:  # tokens fetched, clients built
                    await warm.read()
                async with sb.control() as control:
                    for operation in OPERATIONS:
                        await control.set_fault(operation, latency=(latency, latency))
                ews_before = ews_cpu()
                cpu = time.process_time()
                for _ in range(requests_count):
                    started = time.perf_counter()
                    async with http.post(url, data=payload) as reply:
                        body = orjson.loads(await reply.read())
                    timings.append((time.perf_counter() - started) * 1000)
                    outcomes.update(
                        "busy" if "busy" in r else r["error"]["code"] for r in body["results"].values()
                    )
                cpu = time.process_time() - cpu
                ews = ews_cpu() - ews_before
            server.should_exit = True
            await task
    timings.sort()
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    print(f"requests={requests_count} latency={latency * 1000:.0f}ms addresses=20 (7 google, 7 graph, 6 ews)")
    print(f"p50={statistics.median(timings):.1f}ms p99={p99:.1f}ms max={timings[-1]:.1f}ms")
    print(f"process CPU per request (client, API and emulators)={cpu / requests_count * 1000:.1f}ms")
    print(f"  of which exchangelib in the EWS pool (client side)={ews / requests_count * 1000:.1f}ms")
    print("per-address outcomes:", dict(outcomes))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.latency))
