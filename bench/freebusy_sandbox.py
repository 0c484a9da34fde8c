"""p50/p99 of a 20-address mixed free/busy query through the real SDKs and the sandbox.

Seven addresses are asked through Google (google-api-python-client), seven through Graph
(msgraph-sdk), six through EWS (exchangelib), each emulator answering after `--latency`
seconds (the sandbox's fault latency). The API is served by uvicorn on loopback; one client
sends one request at a time; the cache is off (TTL 0), so each request makes three provider
calls. Every address has a mailbox (added through the sandbox's control routes) with one busy hour.

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
from typing import Any

import aiohttp
import orjson
import requests.adapters
import structlog
import uvicorn
from exchangelib import Identity, OAuth2Credentials
from exchangelib.protocol import BaseProtocol

from calbridge.freebusy.app import create_freebusy_app
from calbridge.freebusy.cache import FreeBusyCache
from calbridge.freebusy.orchestrate import Lookup
from calbridge.freebusy.resolve import Directory
from calbridge.freebusy.sources.ews import open_ews_source
from calbridge.freebusy.sources.google import open_google_source
from calbridge.freebusy.sources.graph import open_graph_source

# Imported by name: whether the sandbox is in this build must not change how imports sort.
Sandbox = importlib.import_module("sandbox.server").Sandbox
GraphControl = importlib.import_module("sandbox.graph.client").GraphControl
EwsControlClient = importlib.import_module("sandbox.ews.control").EwsControlClient
KEY = "b" * 40
ALICE = "alice@example.com"
DAY = "2026-11-23"
OPERATIONS = ("google.freebusy.query", "graph.calendar.getSchedule", "ews.GetUserAvailability")


def addresses() -> dict[str, str]:
    """20 addresses -> connection: 7 Google, 7 Graph, 6 EWS."""
    groups = (("google-main", "alice", "g", 7), ("graph-main", "bob", "m", 7), ("ews-main", "carol", "x", 6))
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
            if connection == "google-main" and address not in sb.google.world.calendars:
                sb.google.world.add_calendar(
                    address, address, "UTC", {address: "owner", ALICE: "freeBusyReader"}
                )
            elif connection == "graph-main" and not address.startswith("bob@"):
                await graph.add_mailbox(address)
            elif connection == "ews-main" and not address.startswith("carol@"):
                await asyncio.to_thread(ews.add_mailbox, address)
    async with sb.control() as control:
        for address, connection in known.items():
            if connection == "google-main":
                await control.google.create_event(
                    address,
                    {"start": {"dateTime": f"{DAY}T09:00:00Z"}, "end": {"dateTime": f"{DAY}T10:00:00Z"}},
                )
    async with GraphControl(sb.info.https_endpoints["graph"], ssl_context=client_ssl) as graph:
        for address, connection in known.items():
            if connection == "graph-main":
                await graph.create_event(
                    address,
                    {
                        "subject": "x",
                        "start": {"dateTime": f"{DAY}T09:00:00", "timeZone": "UTC"},
                        "end": {"dateTime": f"{DAY}T10:00:00", "timeZone": "UTC"},
                    },
                )
    for address, connection in known.items():
        if connection == "ews-main":
            await asyncio.to_thread(
                ews.create_item,
                address,
                subject="x",
                start=f"{DAY}T09:00:00Z",
                end=f"{DAY}T10:00:00Z",
                free_busy="Busy",
            )


def ews_credentials(sb: Any) -> Any:
    token_url, ca_file = sb.info.microsoft["ews_token_url"], str(sb.ca_file)

    class SandboxCredentials(OAuth2Credentials):  # type: ignore[misc]
        @property
        def token_url(self) -> str:
            return token_url

    class SandboxCA(requests.adapters.HTTPAdapter):
        def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
            super().cert_verify(conn, url, ca_file, cert)

    BaseProtocol.HTTP_ADAPTER_CLS = SandboxCA
    return SandboxCredentials(
        client_id=sb.info.microsoft["client_id"],
        client_secret=sb.info.microsoft["client_secret"],
        tenant_id=sb.info.microsoft["tenant_id"],
        identity=Identity(primary_smtp_address="carol@example.com"),
    )


async def main(requests_count: int, latency: float) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))  # warnings only
    async with Sandbox.start(seed=3) as sb:
        ms = sb.info.microsoft
        graph = open_graph_source(
            ms["tenant_id"], ms["client_id"], ms["client_secret"], authority=ms["graph_authority"],
            graph_url=ms["graph_url"], ca_file=str(sb.ca_file), mailbox="bob@example.com",
        )  # fmt: skip
        sources = {
            "google-main": open_google_source(
                sb.info.google_service_account,
                subject="alice@example.com",
                api_endpoint=sb.info.google_api_endpoint,
            ),
            "graph-main": graph,
            "ews-main": open_ews_source(
                service_endpoint=ms["ews_url"], mailbox="carol@example.com", credentials=ews_credentials(sb)
            ),
        }
        known = addresses()
        await add_people(sb, known)

        async def directory() -> Directory:
            return Directory(known=known)

        app = create_freebusy_app(
            Lookup(sources=sources, directory=directory, cache=FreeBusyCache(0)), keys={"bench": KEY.encode()}
        )
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
            for _ in range(requests_count):
                started = time.perf_counter()
                async with http.post(url, data=payload) as reply:
                    body = orjson.loads(await reply.read())
                timings.append((time.perf_counter() - started) * 1000)
                outcomes.update(
                    "busy" if "busy" in r else r["error"]["code"] for r in body["results"].values()
                )
        server.should_exit = True
        await task
        await graph.close()
    timings.sort()
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    print(f"requests={requests_count} latency={latency * 1000:.0f}ms addresses=20 (7 google, 7 graph, 6 ews)")
    print(f"p50={statistics.median(timings):.1f}ms p99={p99:.1f}ms max={timings[-1]:.1f}ms")
    print("per-address outcomes:", dict(outcomes))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory():
        asyncio.run(main(args.requests, args.latency))
