"""Provider adapters: client CPU per call, stock msgraph-sdk against calbridge's Graph path, and
the Google adapter, against the sandbox running in its own process.

Graph, in one run, alternating round by round:
- stock: `GraphServiceClient` as documented (`users.by_user_id(u).events.by_event_id(id).get()`,
  `events.post(Event(...))`), which deserializes kiota models;
- calbridge: `GraphCalendar.get` / `.create` (request builders + raw bytes + orjson, plus the
  translation to `Event` and the extended-property expansion the stock call does not even do).
Google: `GoogleCalendar.get` / `.create` (cached Resource, per-thread http).

CPU is `time.process_time()` of this process only (the sandbox is a separate process), so a
busy shared machine moves it far less than wall-clock rates. Figures: median CPU ms per call
over the rounds, and stock / calbridge.

    python bench/providers.py [--calls 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from calbridge.logs import configure_logging
from calbridge.providers.base import CalendarAddress, MirrorStamp
from calbridge.providers.google.adapter import GoogleCalendar
from calbridge.providers.graph.adapter import GraphCalendar
from calbridge.providers.graph.client import GraphClient

ALICE = "alice@example.com"


def start_sandbox(folder: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    path = folder / "sandbox.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "calbridge_app", "sandbox", "--seed", "5", "--connection-file", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not path.exists():
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise SystemExit("the sandbox did not start")
        time.sleep(0.1)
    info = json.loads(path.read_text())
    (folder / "ca.pem").write_text(info["ca_pem"])
    return process, info


async def cpu_per_call(call: Callable[[int], Awaitable[Any]], calls: int, offset: int) -> float:
    """CPU milliseconds per call of `calls` sequential calls."""
    began = time.process_time()
    for n in range(calls):
        await call(offset + n)
    return (time.process_time() - began) * 1000 / calls


def stock_graph(info: dict[str, Any], ca: Path) -> tuple[Any, Any]:
    import httpx
    from azure.identity.aio import ClientSecretCredential
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )
    from msgraph.graph_request_adapter import GraphRequestAdapter
    from msgraph.graph_request_adapter import options as graph_options
    from msgraph.graph_service_client import GraphServiceClient
    from msgraph_core import GraphClientFactory

    ms = info["microsoft"]
    credential = ClientSecretCredential(
        ms["tenant_id"],
        ms["client_id"],
        ms["client_secret"],
        authority=ms["graph_authority"],
        disable_instance_discovery=True,
        connection_verify=str(ca),
    )
    auth = AzureIdentityAuthenticationProvider(credential, scopes=["https://graph.microsoft.com/.default"])
    http = httpx.AsyncClient(verify=ssl.create_default_context(cafile=str(ca)), timeout=30)
    client = GraphClientFactory.create_with_default_middleware(client=http, options=graph_options)
    adapter = GraphRequestAdapter(auth, client=client)
    adapter.base_url = ms["graph_url"]
    return GraphServiceClient(request_adapter=adapter), credential


async def bench_graph(info: dict[str, Any], ca: Path, calls: int, rounds: int) -> None:
    from bench_support import sample_event, sandbox_graph_args  # type: ignore[import-not-found]
    from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
    from msgraph.generated.models.event import Event as GraphEvent

    ours = GraphCalendar.connect(**sandbox_graph_args(info, str(ca)))
    # The same adapter over httpx's own transport (before `GraphClient` sent through aiohttp).
    over_httpx = GraphCalendar(GraphClient(**sandbox_graph_args(info, str(ca)), transport="httpx"))
    stock_client, stock_credential = stock_graph(info, ca)
    stock = stock_client.users.by_user_id(ALICE).events
    here = CalendarAddress(ALICE)
    made = await ours.create(here, sample_event(), MirrorStamp("bench", "seed"))
    event_id = made.event.id

    async def stock_get(_: int) -> Any:
        return await stock.by_event_id(event_id).get()

    async def ours_get(_: int) -> Any:
        return await ours.get(here, event_id)

    async def stock_create(n: int) -> Any:
        return await stock.post(
            GraphEvent(
                subject=f"Bench {n}",
                start=DateTimeTimeZone(date_time="2026-12-01T10:00:00", time_zone="W. Europe Standard Time"),
                end=DateTimeTimeZone(date_time="2026-12-01T11:00:00", time_zone="W. Europe Standard Time"),
                transaction_id=f"stock-{n}",
            )
        )

    async def ours_create(n: int) -> Any:
        return await ours.create(here, sample_event(), MirrorStamp("bench", f"ours-{n}"))

    async def httpx_get(_: int) -> Any:
        return await over_httpx.get(here, event_id)

    async def httpx_create(n: int) -> Any:
        return await over_httpx.create(here, sample_event(), MirrorStamp("bench", f"httpx-{n}"))

    async def raw_get(_: int) -> Any:
        return await ours.client.send(
            ours.client.user(ALICE).events.by_event_id(event_id).to_get_request_information()
        )

    variants = {
        "stock_get": stock_get,
        "ours_get": ours_get,
        "raw_get": raw_get,
        "stock_create": stock_create,
        "ours_create": ours_create,
        "httpx_get": httpx_get,
        "httpx_create": httpx_create,
    }
    for n, call in enumerate(variants.values()):  # warm up: imports, token, connection pools
        await cpu_per_call(call, 10, 10_000_000 + 100 * n)
    figures: dict[str, list[float]] = {name: [] for name in variants}
    for r in range(rounds):
        for name, call in variants.items():
            figures[name].append(await cpu_per_call(call, calls, r * calls))
    await ours.aclose()
    await over_httpx.aclose()
    await stock_credential.close()
    median = {name: statistics.median(values) for name, values in figures.items()}
    for kind in ("get", "create"):
        stock_ms, ours_ms = median[f"stock_{kind}"], median[f"ours_{kind}"]
        print(
            f"graph {kind:<7} stock {stock_ms:6.2f} ms CPU/call   calbridge {ours_ms:6.2f}"
            f"   stock/calbridge {stock_ms / ours_ms:.1f}x"
        )
    for kind in ("get", "create"):
        before, after = median[f"httpx_{kind}"], median[f"ours_{kind}"]
        print(
            f"graph {kind:<7} calbridge over httpx's transport {before:6.2f} ms CPU/call"
            f"   over aiohttp {after:6.2f}   httpx/aiohttp {before / after:.1f}x"
        )
    print(f"graph get, raw send only (no translation, no $expand) {median['raw_get']:6.2f} ms CPU/call")


async def bench_google(info: dict[str, Any], calls: int, rounds: int) -> None:
    from bench_support import sample_event

    google = GoogleCalendar.connect(
        info["google"]["service_account"], api_endpoint=info["google"]["api_endpoint"], threads=4
    )
    here = CalendarAddress(ALICE)
    made = await google.create(here, sample_event(), MirrorStamp("bench", "seed"))

    async def get(_: int) -> Any:
        return await google.get(here, made.event.id)

    async def create(n: int) -> Any:
        return await google.create(here, sample_event(), MirrorStamp("bench", f"g-{n}"))

    for n in range(10):
        await get(n)
        await create(10_000_000 + n)
    gets = [await cpu_per_call(get, calls, 0) for _ in range(rounds)]
    creates = [await cpu_per_call(create, calls, r * calls) for r in range(rounds)]
    google.close()
    print(f"google get    calbridge {statistics.median(gets):6.2f} ms CPU/call")
    print(f"google create calbridge {statistics.median(creates):6.2f} ms CPU/call")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    configure_logging("console", "warning")
    sys.path.insert(0, str(Path(__file__).parent))
    with tempfile.TemporaryDirectory(prefix="calbridge-bench-") as tmp:
        process, info = start_sandbox(Path(tmp))
        try:
            asyncio.run(bench_graph(info, Path(tmp) / "ca.pem", args.calls, args.rounds))
            asyncio.run(bench_google(info, args.calls, args.rounds))
        finally:
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
