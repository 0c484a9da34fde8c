"""The processor: changes/s per replica, latency from notification received to write applied, and
provider calls per propagated change, against the sandbox (its own process) over RabbitMQ.

Four pairs by default (alice, bob, carol, dave: Google primary <-> Outlook default calendar,
two-way, full); `--pairs N` adds Google secondary calendars, each paired with an Outlook mailbox of
its own (Outlook allows 4 requests in flight per mailbox, so with 100 ms per call four mailboxes
cap any processor at 160 writes/s).
People's events are made through the sandbox's control API; for each one a change event is
published as the receiver would (received_at = now), and every write the processor applies
publishes the hint its own notification would bring (the echo, which the processor must read
and skip). The processor is the real one: real adapters, the store on SQLite, one replica.

- throughput: a burst of changes spread over the four Google calendars; changes/s from the
  first hint to the last write applied;
- latency: changes made and hinted at a steady rate; p50/p99 from received_at to write applied;
- calls per change: the sandbox's own counters (reads, writes, echo passes; tokens and push
  deliveries excluded) over the changes propagated.

Each runs with no emulated API latency and with 100 ms on every Google and Graph call.

    python bench/processor.py [--burst 240] [--rate 100] [--seconds 3] [--pairs 4] [--store sqlite]
"""

# ruff: noqa: E402  (sys.path is fixed before the imports, see below)
from __future__ import annotations

import sys
from pathlib import Path

# before the folder leaves sys.path, below
from bench_support import create_vhost, drop_vhost, sandbox_graph_args, throwaway_database

# Run as `python bench/processor.py`, this file's folder comes first on sys.path and its name
# would hide the `processor` package it measures.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import SecretStr

from calbridge.bus import open_bus
from calbridge.bus.base import Bus
from calbridge.events import ChangeEvent, ChangeKind, Provider
from calbridge.logs import configure_logging
from calbridge.model import Event
from calbridge.providers.base import CalendarAddress, CalendarProvider, Fetched, MirrorStamp
from calbridge.providers.google.adapter import GoogleCalendar
from calbridge.providers.graph.adapter import GraphCalendar
from calbridge.settings import load_settings
from calbridge.store import create_engine
from calbridge.store.migrate import upgrade
from calbridge.store.tables import calendars, connections, pairs
from processor.service import Processor
from sandbox.client import SandboxControl

USERS = ["alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com"]
BROKER = "127.0.0.1"
SKIPPED_CALLS = ("oauth", "token", "push", "watch", "subscriptions", "notify")
ECHO_DELAY = 0.5  # seconds from our write to its notification reaching the bus (Graph: often more)


def start_sandbox(folder: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    path = folder / "sandbox.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "calbridge_app", "sandbox", "--seed", "9", "--connection-file", str(path)],
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


@dataclass(frozen=True)
class BenchPair:
    """One pair: a Google calendar (a user's primary, or a secondary one) <-> an Outlook mailbox."""

    index: int

    @property
    def google_owner(self) -> str:
        return USERS[self.index % len(USERS)]

    @property
    def google_calendar(self) -> str:
        """The calendar's id (as the control API names it)."""
        if self.index < len(USERS):
            return self.google_owner
        return f"c_bench{self.index:04d}@group.calendar.google.com"

    @property
    def adapter_calendar(self) -> str:
        """The calendar as the store's calendar row (and the adapter's address) names it."""
        return "primary" if self.index < len(USERS) else self.google_calendar

    @property
    def mailbox(self) -> str:
        return USERS[self.index] if self.index < len(USERS) else f"bench{self.index:04d}@example.com"

    @property
    def google_ref(self) -> str:
        return f"g_{self.index}"

    @property
    def outlook_ref(self) -> str:
        return f"m_{self.index}"


def bench_pairs(count: int) -> list[BenchPair]:
    return [BenchPair(n) for n in range(count)]


async def provision(control: SandboxControl, info: dict[str, Any], ca: Path, pairs: list[BenchPair]) -> None:
    """The sandbox's calendars and mailboxes beyond its four users."""
    from sandbox.graph.client import GraphControl

    extra = [pair for pair in pairs if pair.index >= len(USERS)]
    if not extra:
        return
    context = ssl.create_default_context(cafile=str(ca))
    async with GraphControl(info["microsoft"]["graph_authority"], context) as graph:
        for pair in extra:
            await control.google.add_calendar(pair.google_calendar, pair.google_owner, f"Bench {pair.index}")
            await graph.add_mailbox(pair.mailbox, f"Bench {pair.index}")


class Applied:
    """When each person's event reached the other side, by title; publishes the echo hints."""

    def __init__(self, pairs: list[BenchPair]) -> None:
        self.at: dict[str, float] = {}
        self.bus: Bus | None = None
        self.echoes: set[asyncio.Task[None]] = set()
        self._google_refs = {(p.google_owner, p.adapter_calendar): p.google_ref for p in pairs}
        self._outlook_refs = {p.mailbox: p.outlook_ref for p in pairs}

    def echo(self, calendar: CalendarAddress, provider: Provider, written: Fetched) -> None:
        """The notification our own write brings, a moment later (Graph names the event and its
        etag; Google says only that the calendar changed)."""
        task = asyncio.get_running_loop().create_task(self._echo_later(calendar, provider, written))
        self.echoes.add(task)
        task.add_done_callback(self.echoes.discard)

    async def _echo_later(self, calendar: CalendarAddress, provider: Provider, written: Fetched) -> None:
        await asyncio.sleep(ECHO_DELAY)
        assert self.bus is not None
        if provider is Provider.GRAPH:
            hinted = ChangeEvent(
                provider=provider,
                calendar=self._outlook_refs[calendar.owner],
                kind=ChangeKind.CREATED,
                resource=written.event.id,
                version=f'W/"{written.version}"',
            )
        else:
            hinted = ChangeEvent(
                provider=provider,
                calendar=self._google_refs[(calendar.owner, calendar.calendar)],
                kind=ChangeKind.CHANGED,
            )
        await self.bus.publish([hinted])


class Recording:
    """The adapter, noting when each write was applied (the bench's clock for latency)."""

    def __init__(self, inner: Any, applied: Applied) -> None:
        self.inner = inner
        self.provider = inner.provider
        self._applied = applied

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def create(self, calendar: CalendarAddress, event: Event, stamp: MirrorStamp | None) -> Fetched:
        written: Fetched = await self.inner.create(calendar, event, stamp)
        self._applied.at.setdefault(event.title, time.monotonic())
        self._applied.echo(calendar, self.provider, written)
        return written


async def make_store(url: str, bench: list[BenchPair]) -> Any:
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(connections),
            [
                {"id": "conn-g", "provider": "google", "name": "google", "settings": {}},
                {"id": "conn-m", "provider": "graph", "name": "graph", "settings": {}},
            ],
        )
        for pair in bench:
            await conn.execute(
                sa.insert(calendars),
                [
                    {
                        "id": pair.google_ref,
                        "connection_id": "conn-g",
                        "provider": "google",
                        "owner": pair.google_owner,
                        "calendar": pair.adapter_calendar,
                    },
                    {
                        "id": pair.outlook_ref,
                        "connection_id": "conn-m",
                        "provider": "graph",
                        "owner": pair.mailbox,
                        "calendar": "primary",
                    },
                ],
            )
            await conn.execute(
                sa.insert(pairs).values(
                    id=f"p_{pair.index}",
                    google_calendar_id=pair.google_ref,
                    microsoft_calendar_id=pair.outlook_ref,
                    state="active",
                )
            )
    return engine


def adapters(info: dict[str, Any], ca: Path, applied: Applied) -> dict[str, CalendarProvider]:
    google = GoogleCalendar.connect(
        info["google"]["service_account"],
        api_endpoint=info["google"]["api_endpoint"],
        token_uri=info["google"].get("token_uri"),
        threads=16,
        timeout=30,
    )
    graph = GraphCalendar.connect(**sandbox_graph_args(info, str(ca)), timeout=30)
    return {"conn-g": Recording(google, applied), "conn-m": Recording(graph, applied)}  # type: ignore[dict-item]


def person_event(title: str, n: int) -> dict[str, Any]:
    start = datetime(2026, 12, 1, 8, tzinfo=UTC) + timedelta(minutes=30 * (n % 400))
    return {
        "summary": title,
        "start": {"dateTime": start.isoformat()},
        "end": {"dateTime": (start + timedelta(minutes=30)).isoformat()},
    }


def hint(pair: BenchPair) -> ChangeEvent:
    return ChangeEvent(provider=Provider.GOOGLE, calendar=pair.google_ref, kind=ChangeKind.CHANGED)


async def api_calls(control: SandboxControl) -> int:
    return sum((await calls_by_operation(control)).values())


async def calls_by_operation(control: SandboxControl) -> dict[str, int]:
    counters = await control.counters()
    found: dict[str, int] = {}
    for call in counters["calls"]:
        if not any(word in call["operation"] for word in SKIPPED_CALLS):
            found[call["operation"]] = found.get(call["operation"], 0) + call["count"]
    return found


async def wait_applied(applied: Applied, titles: list[str], within: float) -> None:
    deadline = time.monotonic() + within
    while any(title not in applied.at for title in titles):
        if time.monotonic() > deadline:
            missing = sum(1 for title in titles if title not in applied.at)
            raise SystemExit(f"{missing} of {len(titles)} changes were not applied within {within:g}s")
        await asyncio.sleep(0.01)


async def burst(
    control: SandboxControl, bus: Bus, applied: Applied, pairs: list[BenchPair], count: int, tag: str
) -> float:
    """changes/s for `count` changes hinted at once."""
    titles = [f"{tag}-{n}" for n in range(count)]
    for n, title in enumerate(titles):
        await control.google.create_event(pairs[n % len(pairs)].google_calendar, person_event(title, n))
    started = time.monotonic()
    await bus.publish([hint(pairs[n % len(pairs)]) for n in range(count)])
    await wait_applied(applied, titles, within=300)
    return count / (max(applied.at[t] for t in titles) - started)


async def steady(
    control: SandboxControl,
    bus: Bus,
    applied: Applied,
    pairs: list[BenchPair],
    rate: float,
    seconds: float,
    tag: str,
) -> list[float]:
    """Latencies (s) from hint published (received_at) to write applied, at `rate` changes/s."""
    sent: dict[str, float] = {}
    total = int(rate * seconds)
    began = time.monotonic()

    async def one(n: int) -> None:
        pair = pairs[n % len(pairs)]
        title = f"{tag}-{n}"
        await control.google.create_event(pair.google_calendar, person_event(title, n))
        sent[title] = time.monotonic()
        await bus.publish([hint(pair)])

    tasks = []
    for n in range(total):
        await asyncio.sleep(max(0.0, began + n / rate - time.monotonic()))
        tasks.append(asyncio.create_task(one(n)))
    await asyncio.gather(*tasks)
    await wait_applied(applied, list(sent), within=300)
    return [applied.at[title] - at for title, at in sent.items()]


async def settle(processor: Processor, bus: Bus, applied: Applied, pairs: list[BenchPair]) -> None:
    """Let the echoes arrive, then resync every calendar (as the reconciliation would) and wait
    until no pass has run for a second: every echo has then been read and counted."""
    while applied.echoes:
        await asyncio.gather(*list(applied.echoes))
    await bus.publish(
        [ChangeEvent(provider=Provider.GOOGLE, calendar=p.google_ref, kind=ChangeKind.RESYNC) for p in pairs]
        + [
            ChangeEvent(provider=Provider.GRAPH, calendar=p.outlook_ref, kind=ChangeKind.RESYNC)
            for p in pairs
        ]
    )
    seen = -1
    while seen != processor.consumer.passes:
        seen = processor.consumer.passes
        await asyncio.sleep(1.0)


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of another process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def main(arguments: argparse.Namespace) -> None:
    if arguments.store == "postgres":
        async with throwaway_database(f"calbridge_bench_{uuid.uuid4().hex[:8]}") as url:
            await measure(arguments, url)
    else:
        await measure(arguments, None)


async def measure(arguments: argparse.Namespace, store_url: str | None) -> None:
    """The runs, on the store at `store_url` (None: SQLite in a temporary folder)."""
    configure_logging("console", "warning")
    vhost = f"calbridge-bench-{uuid.uuid4().hex[:8]}"
    create_vhost(vhost)
    folder = Path(tempfile.mkdtemp(prefix="calbridge-bench-"))
    sandbox, info = start_sandbox(folder)
    settings = load_settings(
        amqp_url=SecretStr(f"amqp://guest:guest@{BROKER}:5672/{vhost}"),
        shard_count=8,
        log_level="warning",
        apply_concurrency=arguments.concurrency,
    )
    bench = bench_pairs(arguments.pairs)
    engine = await make_store(store_url or f"sqlite+aiosqlite:///{folder / 'store.db'}", bench)
    applied = Applied(bench)
    opened = adapters(info, folder / "ca.pem", applied)

    async def open_provider(connection_id: str) -> CalendarProvider:
        return opened[connection_id]

    bus = open_bus(settings)
    await bus.connect()
    applied.bus = bus
    processor = Processor(
        settings, bus, engine, open_provider, shards=range(settings.shard_count), member="bench"
    )
    await processor.start()
    results: list[str] = []
    try:
        async with SandboxControl(info["control_url"]) as control:
            await provision(control, info, folder / "ca.pem", bench)
            # First passes are full reads: make them before measuring.
            await bus.publish([hint(pair) for pair in bench])
            await asyncio.sleep(2)
            for latency in (0.0, 0.1):
                for operation in ("google.*", "graph.*"):
                    await control.set_fault(operation, latency=(latency, latency))
                tag = f"l{int(latency * 1000)}"
                before = await calls_by_operation(control)
                cpu, wall = time.process_time(), time.monotonic()
                sandbox_cpu = process_cpu(sandbox.pid)
                rate = await burst(control, bus, applied, bench, arguments.burst, f"{tag}-burst")
                sandbox_cpu = process_cpu(sandbox.pid) - sandbox_cpu
                cpu, wall = time.process_time() - cpu, time.monotonic() - wall
                print(
                    f"  burst: {cpu * 1000 / arguments.burst:.1f} ms CPU per change in this process, "
                    f"{cpu / wall:.0%} of one core; the sandbox "
                    f"{sandbox_cpu * 1000 / arguments.burst:.1f} ms per change, "
                    f"{sandbox_cpu / wall:.0%} of one core",
                    flush=True,
                )
                latencies = await steady(
                    control, bus, applied, bench, arguments.rate, arguments.seconds, f"{tag}-steady"
                )
                await settle(processor, bus, applied, bench)
                after = await calls_by_operation(control)
                spent = {op: after[op] - before.get(op, 0) for op in after if after[op] - before.get(op, 0)}
                print("  provider calls:", dict(sorted(spent.items())), flush=True)
                changes = arguments.burst + len(latencies)
                results.append(
                    f"| {latency * 1000:.0f} ms | {rate:,.0f} | {percentile(latencies, 0.5) * 1000:,.0f} ms "
                    f"| {percentile(latencies, 0.99) * 1000:,.0f} ms | {sum(spent.values()) / changes:.2f} |"
                )
                print(results[-1], flush=True)
    finally:
        await processor.stop()
        await bus.close()
        await engine.dispose()
        sandbox.terminate()
        sandbox.wait(timeout=10)
        drop_vhost(vhost)
    print(
        f"\n{arguments.pairs} pairs, store on {arguments.store}; burst {arguments.burst} changes; "
        f"steady {arguments.rate:g}/s for {arguments.seconds:g} s"
    )
    print("| API latency | burst changes/s | p50 received->applied | p99 | provider calls per change |")
    print("|---|---|---|---|---|")
    print("\n".join(results))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--burst", type=int, default=240, help="changes in the throughput burst")
    parser.add_argument("--rate", type=float, default=100, help="changes per second in the latency run")
    parser.add_argument("--seconds", type=float, default=3, help="length of the latency run")
    parser.add_argument("--concurrency", type=int, default=4, help="CALBRIDGE_APPLY_CONCURRENCY")
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="event loop (calbridge processor: uvloop)",
    )
    parser.add_argument(
        "--store",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="postgres: a throwaway database on 127.0.0.1",
    )
    parser.add_argument("--pairs", type=int, default=len(USERS), help="pairs (beyond 4: secondary calendars)")
    arguments = parser.parse_args()
    if arguments.loop == "uvloop":
        import uvloop

        uvloop.run(main(arguments))
    else:
        asyncio.run(main(arguments))
