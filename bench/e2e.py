"""End to end: a person's edit in one calendar -> the write on the other side, through the whole
system (sandbox push -> receiver -> RabbitMQ -> processor processes -> provider writes).

Many pairs (a Google secondary calendar <-> an Outlook mailbox each), a steady stream of
changes made as people on both sides (creates, then renames of the same events from either
side), each change waiting until its previous one on that pair has arrived. Latency is taken
from the edit to the first moment the other side's stored event shows it (the emulators' state
is read in-process every 10 ms, so the figure is within ~10 ms plus a read's cost).

Runs every combination of emulated provider API latency (`--api-latency`, seconds added to each
Google and Graph API call by the sandbox's fault rules) and processor processes (`--processes`,
separate `calbridge processor` processes sharing the shards over RabbitMQ). Needs the local
RabbitMQ (a throwaway vhost per run) and PostgreSQL (a throwaway database per run).

    python bench/e2e.py                                    # 40 pairs, 8 changes/s, 20 s per run
    python bench/e2e.py --pairs 80 --rate 16 --duration 60 --api-latency 0,0.1 --processes 1,2
    python bench/e2e.py --rate 0                           # capacity: every pair always busy
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench_support import create_vhost, drop_vhost, throwaway_database  # before the folder leaves sys.path

# Run as a script, this folder comes first on sys.path, and bench/receiver.py would shadow the
# receiver package the stack imports.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from calbridge.settings import ENV_PREFIX  # noqa: E402
from calbridge_app.demo.stack import Stack, StackOptions, running_stack, wait_for_subscriptions  # noqa: E402

BROKER = "127.0.0.1"
OWNERS = ("alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com")


# --- throwaway broker vhost and database


@contextlib.asynccontextmanager
async def throwaway_services() -> AsyncIterator[dict[str, str]]:
    name = f"bench-e2e-{uuid.uuid4().hex[:8]}"
    create_vhost(name)
    try:
        async with throwaway_database(name) as database_url:
            yield {
                f"{ENV_PREFIX}AMQP_URL": f"amqp://guest:guest@{BROKER}:5672/{name}",
                f"{ENV_PREFIX}DATABASE_URL": database_url,
            }
    finally:
        try:
            drop_vhost(name)
        except OSError:  # the broker went away meanwhile: say what is left behind
            print(f"  warning: RabbitMQ vhost {name} was not deleted", flush=True)


# --- processor processes


def _processor_env(stack: Stack, base: dict[str, str], log_level: str) -> dict[str, str]:
    settings = stack.settings
    env = dict(os.environ, **base)
    env[f"{ENV_PREFIX}SIGNING_KEYS"] = settings.signing_keys.get_secret_value()  # type: ignore[union-attr]
    env[f"{ENV_PREFIX}SECRET_KEY"] = settings.secret_key.get_secret_value()  # type: ignore[union-attr]
    env[f"{ENV_PREFIX}LOG_LEVEL"] = log_level
    return env


@contextlib.contextmanager
def processor_processes(count: int, env: dict[str, str], logs: Path, keep: Path | None = None) -> Any:
    """`calbridge processor` processes sharing the shards; their output goes to `logs`."""
    procs = []
    for n in range(count):
        with (logs / f"processor-{n}.log").open("w") as log:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "calbridge_app", "processor", "--port", str(19190 + n)],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        yield procs
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            for n in range(count):
                shutil.copy(logs / f"processor-{n}.log", keep / f"processor-{n}.log")
        for n, proc in enumerate(procs):
            if proc.poll() is not None:
                tail = (logs / f"processor-{n}.log").read_text()[-2000:]
                raise SystemExit(f"processor {n} exited with {proc.returncode}:\n{tail}")
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


# --- pairs


@dataclass
class BenchPair:
    index: int
    google_owner: str
    google_calendar: str
    mailbox: str
    event_google: str | None = None  # the bench event's id on each side, once known
    event_outlook: str | None = None
    pending: Change | None = None


@dataclass
class Change:
    pair: BenchPair
    side: str  # where the person made it: google | outlook
    title: str
    made: float  # time.monotonic() at the edit
    arrived: float | None = None


async def provision(stack: Stack, count: int) -> list[BenchPair]:
    from calbridge.pairs.access import RegistryAccessChecker
    from calbridge.pairs.admin import add_pairs
    from calbridge.pairs.spec import CalendarSpec, PairSpec
    from calbridge.providers.registry import Registry
    from calbridge.settings import load_settings
    from sandbox.graph.client import GraphControl

    pairs = []
    world = stack.sandbox.google.world
    async with GraphControl(
        stack.sandbox.info.https_endpoints["graph"], stack.sandbox.tls.client_context()
    ) as graph:
        for n in range(count):
            owner = OWNERS[n % len(OWNERS)]
            calendar = f"c_bench{n:04d}@group.calendar.google.com"
            world.add_calendar(calendar, f"Bench {n}", "UTC", {owner: "owner"})
            mailbox = f"bench{n:04d}@example.com"
            await graph.add_mailbox(mailbox, f"Bench {n}")
            pairs.append(BenchPair(n, owner, calendar, mailbox))
    specs = [
        PairSpec(google=CalendarSpec(p.google_owner, p.google_calendar), microsoft=CalendarSpec(p.mailbox))
        for p in pairs
    ]
    checker = RegistryAccessChecker(Registry(load_settings()).open)
    try:
        results = await add_pairs(stack.engine, specs, list(stack.connections.values()), checker, stack.bus)
    finally:
        await checker.aclose()
    failed = [r.error for r in results if r.error]
    if failed:
        raise SystemExit(f"{len(failed)} pair(s) failed to activate, e.g. {failed[0]}")
    return pairs


# --- the people and the watcher


class Sides:
    """Acts as people through the control API; reads stored state straight from the emulators."""

    def __init__(self, stack: Stack, control: Any, graph: Any) -> None:
        self.google_world = stack.sandbox.google.world
        self.graph_world = stack.sandbox.server.optional["graph"].world
        self.control = control
        self.graph = graph

    async def act(self, change: Change, start: str, end: str) -> None:
        pair = change.pair
        if change.side == "google":
            if pair.event_google is None:
                body = {
                    "summary": change.title,
                    "start": {"dateTime": start, "timeZone": "UTC"},
                    "end": {"dateTime": end, "timeZone": "UTC"},
                }
                pair.event_google = (await self.control.google.create_event(pair.google_calendar, body))["id"]
            else:
                await self.control.google.edit_event(
                    pair.google_calendar, pair.event_google, {"summary": change.title}
                )
        elif pair.event_outlook is None:
            body = {
                "subject": change.title,
                "start": {"dateTime": start.rstrip("Z"), "timeZone": "UTC"},
                "end": {"dateTime": end.rstrip("Z"), "timeZone": "UTC"},
            }
            pair.event_outlook = (await self.graph.create_event(pair.mailbox, body))["id"]
        else:
            await self.graph.update_event(pair.mailbox, pair.event_outlook, {"subject": change.title})

    def describe(self, pair: BenchPair) -> str:
        """What both sides of a pair show now, for a change that never arrived."""
        change = pair.pending
        google = [
            e.get("summary")
            for e in self.google_world.calendars[pair.google_calendar].events.values()
            if e.get("status") != "cancelled"
        ]
        outlook = [
            i.fields.get("subject")
            for i in self.graph_world.mailbox(pair.mailbox).default_calendar.events.values()
        ]
        made = f"{change.title!r} made in {change.side}" if change else "-"
        return f"pair {pair.index}: {made}; Google shows {google}, Outlook shows {outlook}"

    def shows(self, change: Change) -> bool:
        """Whether the other side stores an event with the change's title (and learn its id)."""
        pair = change.pair
        for _ in range(3):  # the emulators run on their own thread: retry a read that raced a write
            try:
                if change.side == "google":
                    mailbox = self.graph_world.mailbox(pair.mailbox)
                    for item in list(mailbox.default_calendar.events.values()):
                        if item.fields.get("subject") == change.title:
                            pair.event_outlook = pair.event_outlook or item.immutable_id
                            return True
                    return False
                calendar = self.google_world.calendars[pair.google_calendar]
                for event in list(calendar.events.values()):
                    if event.get("summary") == change.title and event.get("status") != "cancelled":
                        pair.event_google = pair.event_google or event["id"]
                        return True
                return False
            except RuntimeError:
                continue
        return False


@dataclass
class Run:
    api_latency: float
    processes: int
    changes: list[Change] = field(default_factory=list)
    seconds: float = 0.0
    unsettled: list[str] = field(default_factory=list)  # pairs whose last change never showed

    def arrived(self) -> list[Change]:
        return [c for c in self.changes if c.arrived is not None]


async def drive(sides: Sides, pairs: list[BenchPair], rate: float, duration: float, drain: float) -> Run:
    rng = random.Random(1)
    changes: list[Change] = []
    stop_at = time.monotonic() + duration
    saturate = rate <= 0
    interval = 0.0 if saturate else 1 / rate
    # Next week: inside every provider's change-feed window (Graph's reaches 400 days ahead).
    day = (datetime.now(UTC) + timedelta(days=7)).date().isoformat()
    start, end = f"{day}T10:00:00Z", f"{day}T11:00:00Z"

    async def watch() -> None:
        while True:
            now = time.monotonic()
            for pair in pairs:
                change = pair.pending
                if change is not None and sides.shows(change):
                    change.arrived = now
                    pair.pending = None
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    began = time.monotonic()
    seq = 0
    try:
        while time.monotonic() < stop_at:
            tick = time.monotonic()
            idle = [p for p in pairs if p.pending is None]
            # A steady rate makes one change per interval; rate 0 keeps every pair busy (capacity).
            for pair in rng.sample(idle, len(idle) if saturate else min(1, len(idle))):
                seq += 1
                side = rng.choice(("google", "outlook"))
                if pair.event_google is None and pair.event_outlook is None:
                    side = "google" if seq % 2 else "outlook"
                change = Change(pair, side, f"bench {seq}", time.monotonic())
                await sides.act(change, start, end)
                pair.pending = change
                changes.append(change)
            await asyncio.sleep(0.01 if saturate else max(0.0, interval - (time.monotonic() - tick)))
        deadline = time.monotonic() + drain
        while any(p.pending for p in pairs) and time.monotonic() < deadline:  # noqa: ASYNC110 (polls state)
            await asyncio.sleep(0.05)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    run = Run(0, 0, changes)
    run.seconds = time.monotonic() - began
    run.unsettled = [sides.describe(p) for p in pairs if p.pending is not None]
    return run


async def one_run(args: argparse.Namespace, api_latency: float, processes: int) -> Run:
    from sandbox.graph.client import GraphControl

    async with throwaway_services() as services:
        options = StackOptions(processors=0, provision=False, environ=dict(os.environ, **services))
        async with running_stack(options) as stack:
            missing = {k: v for k, v in stack.missing.items() if k in ("renewer", "google", "graph")}
            if missing:
                raise SystemExit("cannot run: " + "; ".join(missing.values()))
            keep = (
                Path(args.keep_logs) / f"api{round(api_latency * 1000)}-p{processes}"
                if args.keep_logs
                else None
            )
            env = _processor_env(stack, services, args.log_level)
            with processor_processes(processes, env, stack.folder, keep):
                pairs = await provision(stack, args.pairs)
                if not await wait_for_subscriptions(stack, 120):
                    print("  warning: not every calendar was subscribed within 120 s", flush=True)
                async with stack.sandbox.control() as control:
                    if api_latency:
                        for op in ("google.*", "graph.*"):
                            await control.set_fault(op, latency=(api_latency, api_latency))
                    async with GraphControl(
                        stack.sandbox.info.https_endpoints["graph"], stack.sandbox.tls.client_context()
                    ) as graph:
                        await asyncio.sleep(args.settle)  # baselines done, processors joined
                        run = await drive(
                            Sides(stack, control, graph), pairs, args.rate, args.duration, args.drain
                        )
    run.api_latency, run.processes = api_latency, processes
    return run


def _ms(value: float) -> str:
    return f"{value * 1000:,.0f} ms"


def report(run: Run) -> dict[str, Any]:
    arrived = run.arrived()
    latencies = sorted((c.arrived or 0) - c.made for c in arrived)
    # From the first edit to the last arrival: the drain's wait for a change that never came
    # does not count as time spent working.
    span = max(c.arrived or 0 for c in arrived) - min(c.made for c in run.changes) if arrived else 0.0

    def pct(p: float) -> float:
        return (
            latencies[max(0, min(len(latencies) - 1, round(p / 100 * len(latencies)) - 1))]
            if latencies
            else 0.0
        )

    return {
        "api_latency_ms": round(run.api_latency * 1000),
        "processes": run.processes,
        "changes": len(run.changes),
        "arrived": len(arrived),
        "missing": len(run.changes) - len(arrived),
        "throughput_per_s": len(arrived) / span if span else 0.0,
        "p50": pct(50),
        "p90": pct(90),
        "p99": pct(99),
        "max": latencies[-1] if latencies else 0.0,
        "mean": statistics.fmean(latencies) if latencies else 0.0,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument(
        "--rate",
        type=float,
        default=8.0,
        help="changes per second, both sides together; 0: every pair always has a change in flight",
    )
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of changes per run")
    parser.add_argument("--drain", type=float, default=20.0, help="seconds to wait for the last changes")
    parser.add_argument(
        "--settle", type=float, default=10.0, help="seconds between subscribing and load (baselines, shards)"
    )
    parser.add_argument("--keep-logs", help="copy each run's processor logs into this folder")
    parser.add_argument("--log-level", default="warning", help="the processors' log level")
    parser.add_argument("--api-latency", default="0,0.1", help="comma-separated seconds per API call")
    parser.add_argument("--processes", default="1,2", help="comma-separated processor process counts")
    args = parser.parse_args()
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
        f"Python {platform.python_version()}; {args.pairs} pairs, "
        f"{args.rate:g} changes/s for {args.duration:g} s"
    )
    rows = []
    for latency in (float(v) for v in args.api_latency.split(",")):
        for processes in (int(v) for v in args.processes.split(",")):
            run = await one_run(args, latency, processes)
            row = report(run)
            rows.append(row)
            for line in run.unsettled[:5]:
                print(f"  not arrived: {line}")
            print(
                f"api {row['api_latency_ms']:>4} ms  processes {processes}  changes {row['changes']:>5}  "
                f"arrived {row['arrived']:>5}  missing {row['missing']:>3}  "
                f"{row['throughput_per_s']:6.1f}/s  p50 {_ms(row['p50'])}  p90 {_ms(row['p90'])}  "
                f"p99 {_ms(row['p99'])}  max {_ms(row['max'])}",
                flush=True,
            )
    by = {(r["api_latency_ms"], r["processes"]): r for r in rows}
    for latency in sorted({r["api_latency_ms"] for r in rows}):
        one, two = by.get((latency, 1)), by.get((latency, 2))
        if one and two and one["throughput_per_s"]:
            ratio = two["throughput_per_s"] / one["throughput_per_s"]
            print(f"scaling at {latency} ms: 2 processes / 1 = {ratio:.2f}")
    print(json.dumps(rows))


if __name__ == "__main__":
    asyncio.run(main())
