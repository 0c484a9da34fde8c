"""p50/p99 of a 20-address mixed free/busy query over HTTP, with emulated provider latency.

Each provider is a FreeBusySource double that sleeps `--latency` seconds per call; the API is
served by uvicorn on loopback and queried by one aiohttp client, one request at a time, with
the cache off (TTL 0) so every request reaches the providers.

    .venv/bin/python bench/freebusy_latency.py --requests 300 --latency 0.1
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Mapping, Sequence
from datetime import datetime

import aiohttp
import orjson
import structlog
import uvicorn

from calbridge.events import Provider
from calbridge.freebusy.app import create_freebusy_app
from calbridge.freebusy.cache import FreeBusyCache
from calbridge.freebusy.orchestrate import Lookup
from calbridge.freebusy.resolve import Directory
from calbridge.freebusy.types import Busy, BusyResult, LookupOutcome

KEY = "b" * 40
DOMAINS = {"example.com": "google", "contoso.com": "graph", "fabrikam.com": "ews"}


class SlowSource:
    def __init__(self, provider: Provider, latency: float) -> None:
        self.provider = provider
        self.latency = latency

    async def query(
        self, addresses: Sequence[str], start: datetime, end: datetime
    ) -> Mapping[str, LookupOutcome]:
        await asyncio.sleep(self.latency)
        return {a: BusyResult((Busy(start, start.replace(hour=start.hour + 1)),)) for a in addresses}


async def main(requests: int, latency: float) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))  # warnings only
    sources = {name: SlowSource(Provider(name), latency) for name in ("google", "graph", "ews")}

    async def directory() -> Directory:
        return Directory(domains=DOMAINS)

    lookup = Lookup(sources=sources, directory=directory, cache=FreeBusyCache(0))
    app = create_freebusy_app(lookup, keys={"bench": KEY.encode()})
    # uvicorn binds the port itself: a socket handed in through `sockets=` showed ~40 ms of
    # Nagle/delayed-ACK stall per request here, which would measure the transport, not calbridge.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", access_log=False, http="httptools"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1/freebusy"
    domains = list(DOMAINS)
    body = {
        "start": "2026-11-23T08:00:00Z",
        "end": "2026-11-23T18:00:00Z",
        "addresses": [f"person{i}@{domains[i % 3]}" for i in range(20)],
    }
    payload = orjson.dumps(body)
    timings = []
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {KEY}"}) as http:
        for _ in range(requests):
            started = time.perf_counter()
            async with http.post(url, data=payload, headers={"Content-Type": "application/json"}) as reply:
                await reply.read()
                assert reply.status == 200
            timings.append((time.perf_counter() - started) * 1000)
    server.should_exit = True
    await task
    timings.sort()
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    print(f"requests={requests} latency={latency * 1000:.0f}ms addresses=20 (7 google, 7 graph, 6 ews)")
    print(f"p50={statistics.median(timings):.1f}ms p99={p99:.1f}ms max={timings[-1]:.1f}ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--latency", type=float, default=0.1)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.latency))
