"""Scale: N pairs (10,000 by default) on one machine, every service a process of its own.

The sandbox (`calbridge sandbox`, its own process) gets N people on Google and N mailboxes on
Graph through its bulk route, with Google's real quotas switched on (600 per user and 10,000 per
project per sliding minute, 1,000,000 per project per day; Graph's 4 in flight and 10,000 per 10
minutes per mailbox are on by default). `calbridge pairs import` adds N pairs from a CSV; then
`calbridge receiver`, `calbridge renewer` and `--processes` `calbridge processor` processes run
on a throwaway RabbitMQ vhost and PostgreSQL database, the processes and the renewer through a
TCP proxy in front of the broker so the broker can be taken away.

Phases, each printing its figures:
1. activation: import, subscriptions and baseline syncs of every pair; provider calls by
   operation and the peak request rates the sandbox saw (per user, project, mailbox);
2. steady: changes made as people at `--rate` per second (default: 20 per mailbox per 8-hour
   working day, times `--compress`), alternating sides; latency from the edit to the mirror (read
   every `--poll` seconds), CPU per change of calbridge's processes, RSS of each, store per pair;
3. renewals: the renewal times of every subscription row (spread or herded), and a renewer
   restart: time and provider calls of its first pass;
4. outage: the processes' broker link cut for `--outage` seconds while people keep editing;
   what arrived once it was back;
5. resync: a RESYNC of every pair (what `pairs resync` does for one); time to drain the shard
   queues and the peak request rates;
6. admin: time and peak memory of `pairs list` and `dlq list` at N pairs.

    python bench/scale.py --pairs 500                 # a quick run
    python bench/scale.py --pairs 10000 --processes 2 # the full one (about an hour on 2 cores)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import json
import os
import platform
import random
import secrets
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench_support import create_vhost, drop_vhost, throwaway_database

HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]  # bench/receiver.py shadows
sys.path.insert(0, str(HERE.parent / "tests" / "support"))

from bus_proxy import BrokerProxy  # noqa: E402

from sandbox.client import SandboxControl  # noqa: E402
from sandbox.graph.client import GraphControl  # noqa: E402

CLI = [sys.executable, "-m", "calbridge_app"]
SHARD_QUEUES = "calbridge.changes."


# --- processes -------------------------------------------------------------------------------


@dataclass
class Service:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def cpu(self) -> float:
        """CPU seconds (user + system) so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(name: str, args: list[str], env: dict[str, str], folder: Path) -> Service:
    log = folder / f"{name}.log"
    with log.open("w") as out:
        proc = subprocess.Popen([*CLI, *args], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=folder)
    return Service(name, proc, log)


@dataclass
class Ran:
    seconds: float
    max_rss_mb: float
    cpu: float
    output: str


def run_cli(args: list[str], env: dict[str, str], folder: Path, timeout: float = 3600) -> Ran:
    """One CLI command to its end, with its own peak memory and CPU (wait4's rusage)."""
    began = time.monotonic()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen([*CLI, *args], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=folder)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                raise SystemExit(f"{' '.join(args)} took longer than {timeout:.0f} s")
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args)} exited {proc.returncode}:\n{text[-2000:]}")
    return Ran(time.monotonic() - began, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, text)


def rabbit(path: str) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:15672/api{path}",
        headers={"Authorization": "Basic " + base64.b64encode(b"guest:guest").decode()},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def shard_depth(vhost: str) -> int:
    queues = rabbit(f"/queues/{vhost}?columns=name,messages")
    return sum(q.get("messages", 0) for q in queues if q["name"].startswith(SHARD_QUEUES))


async def until(condition: Any, within: float, every: float = 1.0) -> bool:
    """Poll `condition()` (sync or async) until true or `within` seconds passed."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return True
        await asyncio.sleep(every)
    return False


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    folder: Path
    env: dict[str, str]
    vhost: str
    control: SandboxControl
    graph: GraphControl
    services: dict[str, Service] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.args.pairs)

    def user(self, index: int) -> str:
        return f"user{index:05d}@example.com"

    async def calls(self) -> collections.Counter[str]:
        counts: collections.Counter[str] = collections.Counter()
        for row in (await self.control.counters())["calls"]:
            counts[row["operation"] if row["status"] < 400 else f"{row['operation']} {row['status']}"] += row[
                "count"
            ]
        return counts

    async def peaks(self, forget: bool = False) -> dict[str, Any]:
        """The most requests per user, project and mailbox the sandbox saw in a window; `forget`
        starts counting afresh after reading."""
        google = (await self.control.google.quota())["peaks"]
        graph = (await self.graph.quota())["peaks"]
        if forget:
            await self.control.google.quota(peaks=None)
            await self.graph.quota(peaks=None)
        return {"google": google, "graph": graph}

    def calbridge_services(self) -> list[Service]:
        return [s for name, s in self.services.items() if name != "sandbox"]


async def activation(bench: Bench) -> None:
    n = bench.n
    began = time.monotonic()
    await bench.control.google.add_users(n)
    await bench.graph.add_users(n)
    print(f"sandbox: {n} users on each side in {time.monotonic() - began:.1f} s", flush=True)
    csv = bench.folder / "pairs.csv"
    csv.write_text("google,microsoft\n" + "".join(f"{bench.user(i)},{bench.user(i)}\n" for i in range(n)))
    await bench.control.call("DELETE", "/counters")
    began = time.monotonic()
    ran = run_cli(["pairs", "import", str(csv)], bench.env, bench.folder)
    print(
        f"pairs import: {n} pairs in {ran.seconds:.1f} s, peak RSS {ran.max_rss_mb:.0f} MB, "
        f"CPU {ran.cpu:.1f} s",
        flush=True,
    )
    start_services(bench)
    expected = 2 * n

    async def subscribed() -> bool:
        channels = len((await bench.control.google.channels())["channels"])
        return channels + len(await bench.graph.subscriptions()) >= expected

    ok = await until(subscribed, bench.args.timeout, every=2)
    subscribed_at = time.monotonic() - began
    drained = await until(lambda: shard_depth(bench.vhost) == 0, bench.args.timeout, every=2)
    done_at = time.monotonic() - began
    calls = await bench.calls()
    peaks = await bench.peaks(forget=True)
    bench.figures["activation"] = {
        "import_s": ran.seconds,
        "import_rss_mb": ran.max_rss_mb,
        "subscribed_s": subscribed_at,
        "all_subscribed": ok,
        "baselines_drained_s": done_at,
        "drained": drained,
        "calls": dict(calls),
        "calls_per_pair": sum(calls.values()) / n,
        "peaks": peaks,
    }
    print(
        f"activation: subscribed {'all' if ok else 'NOT all'} {expected} calendars at {subscribed_at:.0f} s, "
        f"queues drained at {done_at:.0f} s; {sum(calls.values())} provider calls "
        f"({sum(calls.values()) / n:.1f} per pair); peaks {peaks}",
        flush=True,
    )
    print("  calls: " + ", ".join(f"{k} {v}" for k, v in sorted(calls.items())), flush=True)


def start_services(bench: Bench) -> None:
    env, folder = bench.env, bench.folder
    proxied = dict(env, CALBRIDGE_AMQP_URL=env["BENCH_PROXIED_AMQP_URL"])
    bench.services["receiver"] = start("receiver", ["receiver"], env, folder)
    bench.services["renewer"] = start("renewer", ["renewer"], proxied, folder)
    for n in range(bench.args.processes):
        port_env = dict(proxied, CALBRIDGE_PROCESSOR_HTTP_PORT=str(free_port()))
        bench.services[f"processor-{n}"] = start(f"processor-{n}", ["processor"], port_env, folder)


@dataclass
class Change:
    pair: int
    side: str  # where the person made it
    title: str
    made: float
    arrived: float | None = None


async def shows(bench: Bench, change: Change) -> bool:
    user = bench.user(change.pair)
    if change.side == "google":
        state = await bench.graph.calendar_state(user)
        return any(e.get("subject") == change.title for e in state["events"])
    state = await bench.control.google.calendar(user)
    return any(e.get("summary") == change.title and e.get("status") != "cancelled" for e in state["events"])


async def drive(bench: Bench, rate: float, seconds: float, drain: float, tag: str) -> list[Change]:
    """People make `rate` changes per second for `seconds`, on random pairs, alternating sides;
    each is watched until its mirror shows (or `drain` seconds after the last one)."""
    rng = random.Random(tag)
    changes: list[Change] = []
    pending: list[Change] = []
    day = (datetime.now(UTC) + timedelta(days=7)).date().isoformat()
    began = time.monotonic()
    stop_making = began + seconds
    next_at = began
    seq = 0
    while True:
        now = time.monotonic()
        if now >= stop_making + drain or (now >= stop_making and not pending):
            break
        if now < stop_making and now >= next_at:
            seq += 1
            pair = rng.randrange(bench.n)
            side = "google" if seq % 2 else "outlook"
            change = Change(pair, side, f"{tag} {seq}", time.monotonic())
            user = bench.user(pair)
            if side == "google":
                await bench.control.google.create_event(
                    user,
                    {
                        "summary": change.title,
                        "start": {"dateTime": f"{day}T10:00:00Z"},
                        "end": {"dateTime": f"{day}T10:30:00Z"},
                    },
                )
            else:
                await bench.graph.create_event(
                    user,
                    {
                        "subject": change.title,
                        "start": {"dateTime": f"{day}T11:00:00", "timeZone": "UTC"},
                        "end": {"dateTime": f"{day}T11:30:00", "timeZone": "UTC"},
                    },
                )
            changes.append(change)
            pending.append(change)
            next_at += 1 / rate
        if pending:
            found = await asyncio.gather(*(shows(bench, c) for c in pending[:50]))
            at = time.monotonic()
            for change, seen in zip(pending[:50], found, strict=False):
                if seen:
                    change.arrived = at
            pending = [c for c in pending if c.arrived is None]
        await asyncio.sleep(min(bench.args.poll, max(0.0, next_at - time.monotonic())))
    return changes


def latency(changes: list[Change]) -> dict[str, float]:
    done = sorted(c.arrived - c.made for c in changes if c.arrived is not None)
    if not done:
        return {"arrived": 0, "made": len(changes)}
    pick = lambda p: done[min(len(done) - 1, max(0, round(p / 100 * len(done)) - 1))]  # noqa: E731
    return {
        "made": len(changes),
        "arrived": len(done),
        "p50_s": pick(50),
        "p99_s": pick(99),
        "max_s": done[-1],
        "mean_s": statistics.fmean(done),
    }


async def steady(bench: Bench) -> None:
    rate = bench.args.rate or bench.n * 20 / (8 * 3600) * bench.args.compress
    cpu_before = {s.name: s.cpu() for s in bench.services.values()}
    await bench.control.call("DELETE", "/counters")
    await bench.peaks(forget=True)
    began = time.monotonic()
    changes = await drive(bench, rate, bench.args.duration, bench.args.drain, "steady")
    calls = await bench.calls()
    spent = time.monotonic() - began
    cpu = {s.name: s.cpu() - cpu_before[s.name] for s in bench.services.values()}
    figures = latency(changes)
    arrived = max(1, figures["arrived"])
    calbridge_cpu = sum(v for k, v in cpu.items() if k != "sandbox")
    rss = {s.name: round(s.rss_mb()) for s in bench.services.values()}
    store = await store_size(bench)
    bench.figures["steady"] = {
        "rate_per_s": rate,
        **figures,
        "seconds": spent,
        "cpu_s": cpu,
        "cpu_ms_per_change": calbridge_cpu / arrived * 1000,
        "calls_per_change": {k: v / arrived for k, v in sorted(calls.items())},
        "peaks": await bench.peaks(),
        "rss_mb": rss,
        "store": store,
    }
    print(
        f"steady: {rate:.2f} changes/s for {bench.args.duration:.0f} s: {figures.get('arrived')}/"
        f"{figures.get('made')} arrived, p50 {figures.get('p50_s', 0):.2f} s, "
        f"p99 {figures.get('p99_s', 0):.2f} s "
        f"(read every {bench.args.poll} s); calbridge CPU {calbridge_cpu / arrived * 1000:.0f} ms per change "
        f"({', '.join(f'{k} {v:.1f} s' for k, v in cpu.items())}); RSS MB {rss}",
        flush=True,
    )
    print(
        "  provider calls per change: "
        + ", ".join(f"{k} {v:.2f}" for k, v in bench.figures["steady"]["calls_per_change"].items()),
        flush=True,
    )
    print(
        f"  store: {store['total_mb']:.1f} MB, {store['per_pair_kb']:.1f} kB per pair; "
        + ", ".join(f"{t} {mb:.1f} MB" for t, mb in store["tables_mb"].items()),
        flush=True,
    )


async def store_size(bench: Bench) -> dict[str, Any]:
    import asyncpg

    url = bench.env["CALBRIDGE_DATABASE_URL"].replace("postgresql+asyncpg", "postgresql")
    conn = await asyncpg.connect(url)
    try:
        total = await conn.fetchval("SELECT pg_database_size(current_database())")
        rows = await conn.fetch(
            "SELECT relname, pg_total_relation_size(relid) AS size FROM pg_catalog.pg_statio_user_tables "
            "ORDER BY size DESC LIMIT 8"
        )
    finally:
        await conn.close()
    empty = bench.figures.get("empty_db_bytes", 0)
    return {
        "total_mb": total / 2**20,
        "per_pair_kb": (total - empty) / bench.n / 1024,  # over the empty, migrated database
        "tables_mb": {r["relname"]: r["size"] / 2**20 for r in rows},
    }


async def renewals(bench: Bench) -> None:
    import asyncpg

    url = bench.env["CALBRIDGE_DATABASE_URL"].replace("postgresql+asyncpg", "postgresql")
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT provider, renew_at, expires_at FROM subscriptions WHERE renew_at IS NOT NULL"
        )
    finally:
        await conn.close()
    per_hour: collections.Counter[str] = collections.Counter()
    per_minute: collections.Counter[str] = collections.Counter()
    for row in rows:
        per_hour[row["renew_at"].strftime("%m-%d %H:00")] += 1
        per_minute[row["renew_at"].strftime("%m-%d %H:%M")] += 1
    spread = {
        "rows": len(rows),
        "hours_with_renewals": len(per_hour),
        "busiest_hour": max(per_hour.values(), default=0),
        "busiest_minute": max(per_minute.values(), default=0),
        "first": min((r["renew_at"] for r in rows), default=None),
        "last": max((r["renew_at"] for r in rows), default=None),
    }
    print(
        f"renewals: {spread['rows']} rows renew between {spread['first']} and {spread['last']}: "
        f"{spread['hours_with_renewals']} hours, busiest hour {spread['busiest_hour']}, "
        f"busiest minute {spread['busiest_minute']}",
        flush=True,
    )
    # A restart: stop the renewer, start it again, and count what its first minute costs (its
    # first pass runs at once; it logs `renewer_pass` only when the pass did something).
    bench.services["renewer"].stop()
    await bench.control.call("DELETE", "/counters")
    proxied = dict(bench.env, CALBRIDGE_AMQP_URL=bench.env["BENCH_PROXIED_AMQP_URL"])
    verbose = dict(proxied, CALBRIDGE_LOG_LEVEL="info")
    renewer = bench.services["renewer"] = start("renewer", ["renewer"], verbose, bench.folder)
    await asyncio.sleep(bench.args.restart_window)
    cpu = renewer.cpu()
    passes = renewer.log.read_text().count('"renewer_pass"')
    await until(lambda: shard_depth(bench.vhost) == 0, bench.args.timeout, every=2)
    calls = await bench.calls()
    bench.figures["renewals"] = {**{k: str(v) for k, v in spread.items()}}
    bench.figures["renewals"].update(
        restart_cpu_s=cpu, restart_calls=dict(calls), restart_passes_logged=passes
    )
    print(
        f"renewer restart: in its first {bench.args.restart_window:.0f} s it used {cpu:.1f} CPU-s "
        f"(start-up included), {passes} pass(es) with work; provider calls until the queues were "
        f"empty: {sum(calls.values())} ({dict(calls)})",
        flush=True,
    )


async def outage(bench: Bench, proxy: BrokerProxy) -> None:
    rate = bench.args.rate or bench.n * 20 / (8 * 3600) * bench.args.compress
    proxy.cut()
    changes = await drive(bench, rate, bench.args.outage, 0, "outage")
    made_during = len(changes)
    proxy.restore()
    began = time.monotonic()
    pending = [c for c in changes if c.arrived is None]

    async def arrived() -> bool:
        for change in list(pending):
            if await shows(bench, change):
                change.arrived = time.monotonic()
                pending.remove(change)
        return not pending

    await until(arrived, bench.args.drain, every=1)
    figures = latency(changes)
    bench.figures["outage"] = {"seconds": bench.args.outage, **figures, "left": len(pending)}
    print(
        f"outage: broker away {bench.args.outage:.0f} s for processors and renewer, "
        f"{made_during} changes made; "
        f"{figures.get('arrived')} arrived within {bench.args.drain:.0f} s of its return "
        f"(p50 {figures.get('p50_s', 0):.1f} s, max {figures.get('max_s', 0):.1f} s from the edit), "
        f"{len(pending)} still missing; back after {time.monotonic() - began:.0f} s",
        flush=True,
    )


async def resync_all(bench: Bench) -> None:
    """`pairs resync --all`, then the time to drain the shard queues and the peak request rates."""
    await bench.peaks(forget=True)
    await bench.control.call("DELETE", "/counters")
    began = time.monotonic()
    ran = await asyncio.to_thread(run_cli, ["pairs", "resync", "--all"], bench.env, bench.folder)
    published = time.monotonic() - began
    peak_depth = 0

    def empty() -> bool:
        nonlocal peak_depth
        depth = shard_depth(bench.vhost)
        peak_depth = max(peak_depth, depth)
        return depth == 0

    drained = await until(empty, bench.args.timeout, every=1)
    spent = time.monotonic() - began
    calls = await bench.calls()
    peaks = await bench.peaks()
    bench.figures["resync"] = {
        "published_s": published,
        "drained_s": spent,
        "drained": drained,
        "peak_depth": peak_depth,
        "calls": dict(calls),
        "peaks": peaks,
    }
    print(
        f"pairs resync --all ({ran.output.strip().splitlines()[-1] if ran.output.strip() else '?'}): "
        f"command {published:.1f} s, queues {'drained' if drained else 'NOT drained'} "
        f"after {spent:.0f} s (peak depth {peak_depth}); {sum(calls.values())} provider calls "
        f"({sum(calls.values()) / spent:.0f}/s); peaks {peaks}",
        flush=True,
    )


def admin(bench: Bench) -> None:
    figures = {}
    for name, args in (("pairs list", ["pairs", "list"]), ("dlq list", ["dlq", "list"])):
        ran = run_cli(args, bench.env, bench.folder)
        figures[name] = {"s": ran.seconds, "max_rss_mb": ran.max_rss_mb, "cpu_s": ran.cpu}
        print(
            f"{name}: {ran.seconds:.1f} s, peak RSS {ran.max_rss_mb:.0f} MB, CPU {ran.cpu:.1f} s", flush=True
        )
    bench.figures["admin"] = figures


# --- setup -----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def environment(args: argparse.Namespace) -> AsyncIterator[Bench]:
    name = f"bench-scale-{uuid.uuid4().hex[:8]}"
    create_vhost(name)
    proxy = BrokerProxy("127.0.0.1", 5672)
    await proxy.start()
    folder = Path(tempfile.mkdtemp(prefix="calbridge-scale-"))
    services: dict[str, Service] = {}
    try:
        async with throwaway_database(name.replace("-", "_")) as database_url:
            amqp = f"amqp://guest:guest@127.0.0.1:5672/{name}"
            env = dict(os.environ)
            env.update(
                CALBRIDGE_DATABASE_URL=database_url,
                CALBRIDGE_AMQP_URL=amqp,
                BENCH_PROXIED_AMQP_URL=proxy.url_for(amqp),
                CALBRIDGE_SIGNING_KEYS=f"bench:{secrets.token_hex(32)}",
                CALBRIDGE_RECEIVER_HOST="127.0.0.1",
                CALBRIDGE_RECEIVER_PORT=str(args.receiver_port),
                CALBRIDGE_PUBLIC_URL=f"http://127.0.0.1:{args.receiver_port}",
                CALBRIDGE_PROCESSOR_HTTP_HOST="127.0.0.1",
                CALBRIDGE_RENEWER_HTTP_HOST="127.0.0.1",
                CALBRIDGE_RENEWER_HTTP_PORT=str(free_port()),
                CALBRIDGE_LOG_LEVEL=args.log_level,
                CALBRIDGE_LOG_FORMAT="json",
                CALBRIDGE_DATABASE_POOL_SIZE=str(args.pool),
            )
            env["CALBRIDGE_SECRET_KEY"] = run_cli(["connections", "generate-key"], env, folder).output.strip()
            os.environ.update({k: v for k, v in env.items() if k.startswith("CALBRIDGE_")})
            sandbox = start(
                "sandbox",
                ["sandbox", "--connection-file", "sandbox.json", "--plain-http-webhooks", "--seed", "7"],
                env,
                folder,
            )
            services["sandbox"] = sandbox
            if not await until(lambda: (folder / "sandbox.json").exists(), 60, every=0.2):
                raise SystemExit("the sandbox did not start:\n" + sandbox.log.read_text()[-2000:])
            await asyncio.sleep(0.5)
            info = json.loads((folder / "sandbox.json").read_text())
            run_cli(["db", "upgrade"], env, folder)
            run_cli(["connections", "add-sandbox", "--connection-file", "sandbox.json"], env, folder)
            context = ssl.create_default_context(cadata=info["ca_pem"])
            async with (
                SandboxControl(info["control_url"]) as control,
                GraphControl(info["microsoft"]["endpoints"]["graph"], context) as graph,
            ):
                await control.google.quota(
                    userPerMinute=600, projectPerMinute=10_000, projectPerDay=1_000_000
                )
                bench = Bench(args, folder, env, name, control, graph, services)
                bench.figures["empty_db_bytes"] = (await store_size(bench))["total_mb"] * 2**20
                bench.proxy = proxy  # type: ignore[attr-defined]
                yield bench
    finally:
        for service in reversed(list(services.values())):
            service.stop()
        await proxy.close()
        with contextlib.suppress(OSError):
            drop_vhost(name)
        if args.keep:
            print(f"logs kept in {folder}")


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2, help="calbridge processor processes")
    parser.add_argument("--rate", type=float, default=0.0, help="changes per second (0: from --compress)")
    parser.add_argument("--compress", type=float, default=10.0, help="times 20 changes per mailbox per 8 h")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of steady changes")
    parser.add_argument("--drain", type=float, default=60.0, help="seconds to wait for the last changes")
    parser.add_argument("--poll", type=float, default=0.25, help="seconds between reads of a pending mirror")
    parser.add_argument("--outage", type=float, default=60.0, help="seconds the broker is away (0: skip)")
    parser.add_argument("--restart-window", type=float, default=30.0, help="seconds to watch a restart")
    parser.add_argument("--timeout", type=float, default=3600.0, help="longest wait for a phase")
    parser.add_argument("--phases", default="activation,steady,renewals,outage,resync,admin")
    parser.add_argument("--receiver-port", type=int, default=0, help="0: a free one")
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--pool", type=int, default=4, help="PostgreSQL connections per service (x2 burst)")
    parser.add_argument("--keep", action="store_true", help="keep the processes' logs")
    parser.add_argument("--json", help="write every figure here")
    args = parser.parse_args()
    args.receiver_port = args.receiver_port or free_port()
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)  # clean up the processes
    phases = args.phases.split(",")
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
        f"Python {platform.python_version()}; {args.pairs} pairs, {args.processes} processor(s)",
        flush=True,
    )
    async with environment(args) as bench:
        await activation(bench)
        for service in bench.calbridge_services():
            if not service.alive():
                raise SystemExit(f"{service.name} exited:\n{service.log.read_text()[-2000:]}")
        if "steady" in phases:
            await steady(bench)
        if "renewals" in phases:
            await renewals(bench)
        if "outage" in phases and args.outage > 0:
            await outage(bench, bench.proxy)  # type: ignore[attr-defined]
        if "resync" in phases:
            await resync_all(bench)
        if "admin" in phases:
            admin(bench)
        rss = {s.name: round(s.rss_mb()) for s in bench.services.values() if s.alive()}
        print(f"RSS at the end, MB: {rss}", flush=True)
        bench.figures["rss_end_mb"] = rss
    if args.json:
        await asyncio.to_thread(Path(args.json).write_text, json.dumps(bench.figures, indent=2, default=str))


if __name__ == "__main__":
    asyncio.run(main())
