"""p50/p99 of the meeting list for 20 people, deployed as it would be, against the sandbox.

The set-up is free/busy's (`freebusy_sandbox.py`: the sandbox's connections stored, the app from
`create_deployed_app`, sources over the real SDKs, 7 people on Google, 7 on Graph, 6 on EWS,
each with a meeting), and every provider call the meeting list makes answers after `--latency`
seconds: Google `events.list` (events and out-of-office events), Graph `calendarView` and
`mailboxSettings`, EWS `FindItem`, `GetItem` and `GetUserOofSettings`. A round asks all 20
people at once (20 concurrent `GET /v1/meetings`, as a wall of room panels or a portal would);
rounds follow each other; the cache is off (TTL 0), so every request reads its calendars and
the person's out-of-office state. `--concurrency 1` asks one person at a time instead.

The sandbox runs in a child process (as a provider is not in the deployment's process), so
"process CPU" is the API's and this client's only.

    .venv/bin/python bench/meetings_sandbox.py --rounds 20 --latency 0.1
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import ssl
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import orjson
import structlog
import uvicorn
from freebusy_sandbox import EwsControlClient, Sandbox, add_people, addresses, store_connections

from calbridge.freebusy.deploy import create_deployed_app
from calbridge.settings import load_settings

KEY = "b" * 40
OPERATIONS = (
    "google.events.list",
    "graph.calendarView.list",
    "graph.mailboxSettings.get",
    "ews.FindItem",
    "ews.GetItem",
    "ews.GetUserOofSettings",
)


async def make_users(sb: Any, known: dict[str, str]) -> None:
    """The extra people as users their connection may act as: Workspace users (domain-wide
    delegation) and impersonable Exchange mailboxes; the meeting list reads each person's own
    calendar as them, where free/busy asks about them as someone else."""
    sb.google.issuer.known_users.update(a for a, c in known.items() if c == "sbx-google")
    context = ssl.create_default_context(cafile=str(sb.ca_file))
    ews = EwsControlClient(sb.info.https_endpoints["ews"], ssl_context=context)
    for address, connection in known.items():
        if connection == "sbx-ews" and not address.startswith("carol@"):
            await asyncio.to_thread(ews.add_mailbox, address, impersonable=True)


def serve_sandbox(conn: Any) -> None:
    """The child: the sandbox with the 20 people, until the parent says stop."""

    async def run() -> None:
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
        async with Sandbox.start(seed=3) as sb:
            known = addresses()
            await make_users(sb, known)
            await add_people(sb, known)
            conn.send(sb.info.as_json())
            await asyncio.to_thread(conn.recv)

    asyncio.run(run())


async def main(rounds: int, latency: float, concurrency: int, threads: int) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))  # warnings only
    parent, child = multiprocessing.Pipe()
    sandbox = multiprocessing.get_context("spawn").Process(target=serve_sandbox, args=(child,), daemon=True)
    sandbox.start()
    try:
        if not parent.poll(120):
            raise SystemExit("the sandbox did not start within 120 s")
        info = parent.recv()
        await measure(info, rounds, latency, concurrency, threads)
    finally:
        parent.send("stop")
        sandbox.join(30)


async def measure(info: dict[str, Any], rounds: int, latency: float, concurrency: int, threads: int) -> None:
    known = addresses()
    sb = SimpleNamespace(info=SimpleNamespace(as_json=lambda: info))
    with tempfile.TemporaryDirectory() as folder:
        stored = await store_connections(sb, Path(folder), known)
        tuning = {"ews_threads": threads, "google_threads": threads} if threads else {}
        settings = load_settings(**stored, freebusy_keys=f"bench:{KEY}", freebusy_cache_ttl=0, **tuning)
        app = create_deployed_app(settings)
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.01)
        url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/v1/meetings"
        window = {"start": "2026-11-23T00:00:00Z", "end": "2026-11-24T00:00:00Z"}
        outcomes: Counter[str] = Counter()
        timings: list[float] = []
        by_provider: dict[str, list[float]] = {}
        gate = asyncio.Semaphore(concurrency)

        async def ask(http: aiohttp.ClientSession, address: str) -> None:
            async with gate:
                started = time.perf_counter()
                async with http.get(url, params={"address": address, **window}) as reply:
                    body = orjson.loads(await reply.read())
                timings.append((time.perf_counter() - started) * 1000)
            by_provider.setdefault(known[address].removeprefix("sbx-"), []).append(timings[-1])
            error = body.get("error")
            outcomes[error["code"] if error else f"{len(body['meetings'])} meeting(s)"] += 1

        headers = {"Authorization": f"Bearer {KEY}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            await asyncio.gather(*(ask(http, a) for a in known))  # tokens fetched, clients built
            timings.clear()
            by_provider.clear()
            outcomes.clear()
            from sandbox.client import SandboxControl

            async with SandboxControl(info["control_url"]) as control:
                for operation in OPERATIONS:
                    await control.set_fault(operation, latency=(latency, latency))
            cpu = time.process_time()
            slowest = []
            for _ in range(rounds):
                before = len(timings)
                await asyncio.gather(*(ask(http, a) for a in known))
                slowest.append(max(timings[before:]))
            cpu = time.process_time() - cpu
        server.should_exit = True
        await task
    report(timings, by_provider, outcomes, slowest, rounds, latency, concurrency, threads, cpu)


def report(
    timings: list[float],
    by_provider: dict[str, list[float]],
    outcomes: Counter[str],
    slowest: list[float],
    rounds: int,
    latency: float,
    concurrency: int,
    threads: int,
    cpu: float,
) -> None:
    timings.sort()
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    print(
        f"rounds={rounds} x 20 people, {concurrency} at a time, latency={latency * 1000:.0f}ms, "
        f"EWS and Google threads={threads or 'as configured by default'} (7 google, 7 graph, 6 ews)"
    )
    print(f"p50={statistics.median(timings):.1f}ms p99={p99:.1f}ms max={timings[-1]:.1f}ms")
    print(f"process CPU per request (API and client; the sandbox apart)={cpu / len(timings) * 1000:.1f}ms")
    for provider, spent in sorted(by_provider.items()):
        spent.sort()
        tail = spent[min(len(spent) - 1, int(len(spent) * 0.99))]
        print(f"  people on {provider}: p50={statistics.median(spent):.1f}ms p99={tail:.1f}ms")
    print("slowest request of each round (ms):", " ".join(f"{t:.0f}" for t in slowest))
    print("outcomes:", dict(outcomes))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=20, help="requests in flight (1..20)")
    parser.add_argument(
        "--threads", type=int, default=0, help="CALBRIDGE_EWS_THREADS and _GOOGLE_THREADS (0: the defaults)"
    )
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.latency, args.concurrency, args.threads))
