"""Receiver throughput, ack latency and memory, against the bare publish-with-confirm ceiling.

Starts the receiver as production runs it (`calbridge receiver`: uvicorn, uvloop + httptools, no
access log, 1 worker) with the real AmqpBus on the local RabbitMQ, in a throwaway vhost created
through the management API and deleted at the end. This process is the load generator (aiohttp on
uvloop, loopback only): realistic Google pushes (X-Goog-* headers, valid channel tokens) and Graph
notifications (batches of one item, valid clientState), half and half, over 500 calendars.

- **Open loop at a fixed rate** (default 1,000 notifications/s): request i is sent at t0 + i/rate
  whether or not earlier ones were answered, and its latency counts from that planned instant, so
  a stall shows up in the percentiles instead of slowing the generator down.
- **Max throughput**: `--concurrency` keep-alive connections, each sending as soon as the last
  answer came back.
- **Ceiling**: a bare aio-pika loop publishing the same bytes (a change event of the size the
  receiver publishes) with confirms, `--concurrency` in flight, into the same exchange and queues.
  It alternates with the max-throughput run round by round; the ratio is the median of the pairs.

Also printed: the receiver's RSS (current and peak) and its CPU time per notification, read from
/proc (the fairer figure on a shared machine), and the ceiling's CPU per message. `--http-floor`
adds an empty ASGI app (`http_floor.py`) behind the same uvicorn settings, loaded the same way:
what the HTTP server and the generator cost alone. `--publish-floor` adds the ideal receiver
(`publish_floor.py`: the same server, then the ceiling's bare publish per request, nothing else) to
every max-throughput round: the best ratio any receiver could reach here. `--profile` samples the
receiver with py-spy during the first max-throughput round.

Every max-throughput phase also reports where the machine's CPU went per notification: the server
(receiver or floor), the generator (this process, or wrk), the broker (beam.smp, when it runs on
this host) and everything else (the rest of `/proc/stat`'s busy time: other work on the machine,
time the hypervisor stole), with the interrupts' share (irq + softirq, mostly counted in the
processes' own time) and the steal shown on their own.
`--generator wrk` (repeatable with `--generator aiohttp`) loads the max-throughput and HTTP-floor
phases with wrk and `receiver_wrk.lua` instead, the same requests from a file, to see how much the
Python generator's own CPU holds the figures down; open-loop phases always use aiohttp (wrk is
closed-loop).

    python bench/receiver.py [--duration 4] [--rate 1000 [--rate 250 ...]] [--concurrency 64]
                             [--rounds 2] [--http-floor] [--publish-floor]
                             [--generator aiohttp|wrk ...] [--profile stacks.txt]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aio_pika
import aiohttp
import orjson
from bench_support import create_vhost, drop_vhost, management

from calbridge.bus.names import CALENDAR_HEADER, CHANGES, shard_queue
from calbridge.events import ChangeEvent, ChangeKind, Provider, encode
from calbridge.tokens import sign_token

BROKER = "127.0.0.1"
CALENDARS = 500
SHARDS = 8
MAX_REQUESTS = 200_000  # a hard cap on any one phase, whatever the duration says
STARTUP_SECONDS = 30
WRK_SCRIPT = Path(__file__).with_name("receiver_wrk.lua")


# --- the broker's management API (loopback) ----------------------------------------------------


def purge_shards(vhost: str) -> None:
    """Empty the shard queues between phases so the broker's backlog does not grow run by run."""
    for index in range(SHARDS):
        name = urllib.parse.quote(shard_queue(index), safe="")
        management("DELETE", f"/queues/{urllib.parse.quote(vhost, safe='')}/{name}/contents")


# --- realistic notifications -------------------------------------------------------------------


@dataclass(frozen=True)
class Notification:
    path: str
    headers: dict[str, str]
    body: bytes


def graph_resource_id(n: int) -> str:
    # The shape of an Outlook event id (152 characters of base64).
    return ("AAMkAGI2TG93AAA" + uuid.UUID(int=n).hex * 5)[:152]


def make_notifications(keys: dict[str, bytes]) -> list[Notification]:
    expires = datetime.now(UTC) + timedelta(days=1)
    made: list[Notification] = []
    for n in range(CALENDARS):
        ref = f"cal-{n:04d}"
        channel = f"calbridge-{uuid.UUID(int=n)}"
        made.append(
            Notification(
                "/notifications/google",
                {
                    "X-Goog-Channel-ID": channel,
                    "X-Goog-Channel-Token": sign_token(
                        Provider.GOOGLE, ref, expires, keys, channel_id=channel
                    ),
                    "X-Goog-Channel-Expiration": "Sat, 28 Nov 2026 06:00:00 GMT",
                    "X-Goog-Resource-ID": "ret08u3rv24htgh289g",
                    "X-Goog-Resource-URI": f"https://www.googleapis.com/calendar/v3/calendars/{ref}/events",
                    "X-Goog-Resource-State": "exists",
                    "X-Goog-Message-Number": str(100 + n),
                    "User-Agent": "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)",
                },
                b"",
            )
        )
        item = {
            "subscriptionId": str(uuid.UUID(int=n + 10**6)),
            "subscriptionExpirationDateTime": "2026-11-28T06:00:00.0000000Z",
            "changeType": "updated",
            "resource": f"Users/{uuid.UUID(int=n)}/Events/{graph_resource_id(n)}",
            "resourceData": {
                "@odata.type": "#Microsoft.Graph.Event",
                "@odata.id": f"Users/{uuid.UUID(int=n)}/Events/{graph_resource_id(n)}",
                "@odata.etag": 'W/"DwAAABYAAABf1T2mq5ePQ6fE2a0rHs0SAAAbCdEf"',
                "id": graph_resource_id(n),
            },
            "clientState": sign_token(Provider.GRAPH, ref, expires, keys),
            "tenantId": "9f3c2a51-7d4e-4b8a-9c1f-2e6d5a7b8c90",
        }
        made.append(
            Notification(
                "/notifications/graph",
                {"Content-Type": "application/json"},
                orjson.dumps({"value": [item]}),
            )
        )
    return made


def published_bodies() -> list[tuple[bytes, str]]:
    """What the receiver publishes for those notifications: the ceiling publishes the same bytes."""
    now = datetime.now(UTC)
    bodies = []
    for n in range(CALENDARS):
        ref = f"cal-{n:04d}"
        google = ChangeEvent(
            provider=Provider.GOOGLE,
            calendar=ref,
            kind=ChangeKind.CHANGED,
            version=str(100 + n),
            trace_id=uuid.uuid4().hex,
            received_at=now,
        )
        graph = ChangeEvent(
            provider=Provider.GRAPH,
            calendar=ref,
            kind=ChangeKind.UPDATED,
            resource=graph_resource_id(n),
            version='W/"DwAAABYAAABf1T2mq5ePQ6fE2a0rHs0SAAAbCdEf"',
            trace_id=uuid.uuid4().hex,
            received_at=now,
        )
        bodies += [(encode(google), ref), (encode(graph), ref)]
    return bodies


# --- the receiver process ----------------------------------------------------------------------


@dataclass
class Receiver:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def cpu_seconds(self) -> float:
        user, system = self.cpu_split()
        return user + system

    def cpu_split(self) -> tuple[float, float]:
        """(user, system) CPU seconds of the receiver process so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return int(fields[11]) / tick, int(fields[12]) / tick

    def memory_mb(self) -> tuple[float, float]:
        """(current RSS, peak RSS) in MB."""
        status = dict(
            line.split(":", 1) for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines()
        )
        return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def receiver_command(amqp_url: str, keys: dict[str, bytes], port: int) -> tuple[list[str], dict[str, str]]:
    """`calbridge receiver` on loopback, configured as in production but for the broker URL."""
    env = {
        **os.environ,
        "CALBRIDGE_AMQP_URL": amqp_url,
        "CALBRIDGE_SIGNING_KEYS": ",".join(f"{kid}:{secret.decode()}" for kid, secret in keys.items()),
        "CALBRIDGE_SHARD_COUNT": str(SHARDS),
        "CALBRIDGE_LOG_FORMAT": "json",
    }
    return [
        sys.executable,
        "-m",
        "calbridge_app",
        "receiver",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ], env


def floor_command(
    port: int, app: str = "http_floor:app", amqp_url: str = ""
) -> tuple[list[str], dict[str, str]]:
    """A floor app (`http_floor.py`, `publish_floor.py`) behind uvicorn with the receiver's settings."""
    command = [sys.executable, "-m", "uvicorn", app, "--app-dir", str(Path(__file__).parent),
               "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http", "httptools",
               "--no-access-log", "--log-level", "warning"]  # fmt: skip
    return command, {**os.environ, "PUBLISH_FLOOR_AMQP_URL": amqp_url}


def spawn(command: list[str], env: dict[str, str], port: int, log: Path) -> Receiver:
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    return Receiver(process, f"http://127.0.0.1:{port}", log)


async def start_server(command: list[str], env: dict[str, str], port: int, log: Path) -> Receiver:
    """Start the server and wait, bounded, until GET /readyz answers 200."""
    receiver = spawn(command, env, port, log)
    process = receiver.process
    deadline = time.monotonic() + STARTUP_SECONDS
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the receiver exited with {process.returncode}:\n{receiver.output()}")
            try:
                async with session.get(f"{receiver.url}/readyz") as answer:
                    if answer.status == 200:
                        return receiver
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    process.terminate()
    raise RuntimeError(f"the receiver was not ready within {STARTUP_SECONDS}s:\n{receiver.output()}")


def stop_receiver(receiver: Receiver) -> None:
    receiver.process.terminate()  # SIGTERM: graceful, as Kubernetes stops it
    try:
        receiver.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        receiver.process.kill()
        receiver.process.wait(timeout=5)


# --- where the CPU goes --------------------------------------------------------------------------


def broker_pid() -> int | None:
    """The local RabbitMQ's Erlang VM, if it runs on this host and /proc shows it."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "beam.smp":
                    return int(entry.name)
            except OSError:
                continue
    return None


BROKER_PID = broker_pid()


def process_cpu(pid: int | None) -> tuple[float, float]:
    """(user, system) CPU seconds of a process so far; zeros if it is not there."""
    if pid is None:
        return 0.0, 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def machine_busy() -> tuple[float, float, float]:
    """CPU seconds of all cores: busy (not idle, not waiting for I/O); of which in interrupts
    (loopback packets are handled in softirq, mostly in the time of the process that sent them);
    and stolen by the hypervisor."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - ticks[3] - ticks[4]) / tick, (ticks[5] + ticks[6]) / tick, ticks[7] / tick


@dataclass(frozen=True)
class Snapshot:
    server: tuple[float, float]  # (user, system)
    generator: float  # this process and its reaped children (wrk)
    broker: float
    machine: tuple[float, float, float]  # busy, interrupts, steal

    @classmethod
    def take(cls, server_pid: int | None) -> Snapshot:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return cls(
            process_cpu(server_pid),
            time.process_time() + children.ru_utime + children.ru_stime,
            sum(process_cpu(BROKER_PID)),
            machine_busy(),
        )


@dataclass
class Run:
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds, of 2xx answers
    statuses: Counter[str] = field(default_factory=Counter)
    answered: int = 0  # 2xx answers
    receiver_cpu: float = 0.0  # the server process: the receiver, a floor app; none for the ceiling
    receiver_system: float = 0.0  # the kernel's share of receiver_cpu (socket reads, writes, epoll)
    generator_cpu: float = 0.0  # the load generator, or the ceiling's bare publisher
    broker_cpu: float = 0.0
    machine_cpu: float = 0.0  # all cores, busy
    interrupt_cpu: float = 0.0  # of machine_cpu: irq and softirq
    steal_cpu: float = 0.0  # of machine_cpu: stolen by the hypervisor
    quantiles: dict[int, float] = field(default_factory=dict)  # from wrk, which keeps no list

    def measure(self, before: Snapshot, after: Snapshot) -> None:
        self.receiver_cpu = sum(after.server) - sum(before.server)
        self.receiver_system = after.server[1] - before.server[1]
        self.generator_cpu = after.generator - before.generator
        self.broker_cpu = after.broker - before.broker
        self.machine_cpu, self.interrupt_cpu, self.steal_cpu = (
            a - b for a, b in zip(after.machine, before.machine, strict=True)
        )

    def per_message(self, seconds: float) -> float:
        """Microseconds per answered request (or published message)."""
        return seconds * 1e6 / max(1, self.answered)

    @property
    def cpu_us(self) -> float:
        """Server CPU microseconds per answered request."""
        return self.per_message(self.receiver_cpu)

    @property
    def other_cpu(self) -> float:
        return self.machine_cpu - self.receiver_cpu - self.generator_cpu - self.broker_cpu

    @property
    def system_share(self) -> float:
        return self.receiver_system / self.receiver_cpu if self.receiver_cpu else 0.0

    @property
    def rate(self) -> float:
        return self.answered / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: int) -> float:
        if p in self.quantiles:
            return self.quantiles[p]
        if len(self.latencies) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1]

    def errors(self) -> str:
        bad = {
            status: count
            for status, count in self.statuses.items()
            if status not in {"200", "202", "2xx", "published"}
        }
        return ", ".join(f"{status}: {count}" for status, count in sorted(bad.items())) or "none"


# --- load ----------------------------------------------------------------------------------------


async def send(
    session: aiohttp.ClientSession, base: str, note: Notification, run: Run, planned: float
) -> None:
    try:
        async with session.post(base + note.path, data=note.body, headers=note.headers) as answer:
            await answer.read()
            status = answer.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        run.statuses[type(exc).__name__] += 1
        return
    run.statuses[str(status)] += 1
    if status in (200, 202):
        run.latencies.append(time.perf_counter() - planned)
        run.answered += 1


def session_for(concurrency: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency),
        timeout=aiohttp.ClientTimeout(total=10),
        skip_auto_headers=("User-Agent",),
    )


async def open_loop(receiver: Receiver, notes: list[Notification], rate: float, duration: float) -> Run:
    """Send at a fixed rate regardless of answers; latency counts from each planned send time."""
    run = Run()
    total = min(int(rate * duration), MAX_REQUESTS)
    tasks: set[asyncio.Task[None]] = set()
    before = Snapshot.take(receiver.process.pid)
    async with session_for(512) as session:
        start = time.perf_counter()
        for i in range(total):
            planned = start + i / rate
            delay = planned - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(send(session, receiver.url, notes[i % len(notes)], run, planned))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=15)
        run.elapsed = time.perf_counter() - start
    run.measure(before, Snapshot.take(receiver.process.pid))
    return run


async def closed_loop(
    receiver: Receiver, notes: list[Notification], concurrency: int, duration: float
) -> Run:
    """`concurrency` connections, each sending again as soon as it is answered."""
    run = Run()
    sent = 0
    before = Snapshot.take(receiver.process.pid)
    async with session_for(concurrency) as session:
        start = time.perf_counter()
        stop_at = start + duration

        async def connection() -> None:
            nonlocal sent
            while time.perf_counter() < stop_at and sent < MAX_REQUESTS:
                note = notes[sent % len(notes)]
                sent += 1
                await send(session, receiver.url, note, run, time.perf_counter())

        await asyncio.wait_for(asyncio.gather(*(connection() for _ in range(concurrency))), duration + 15)
        run.elapsed = time.perf_counter() - start
    run.measure(before, Snapshot.take(receiver.process.pid))
    return run


def write_wrk_requests(notes: list[Notification], host: str, path: Path) -> None:
    """The notifications as raw HTTP/1.1 requests, each after its length, for `receiver_wrk.lua`.

    The headers aiohttp adds are added here too, so both generators send the same bytes' worth.
    """
    with path.open("wb") as out:
        for note in notes:
            lines = [f"POST {note.path} HTTP/1.1", f"Host: {host}", "Accept: */*",
                     "Accept-Encoding: gzip, deflate", *(f"{k}: {v}" for k, v in note.headers.items()),
                     f"Content-Length: {len(note.body)}"]  # fmt: skip
            raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + note.body
            out.write(b"%d\n" % len(raw) + raw)


async def wrk_loop(receiver: Receiver, requests: Path, concurrency: int, duration: float) -> Run:
    """wrk, one thread, `concurrency` connections, closed loop: the cheaper generator."""
    command = [
        shutil.which("wrk") or "wrk",
        *("-t1", f"-c{concurrency}", f"-d{max(1, round(duration))}s", "--timeout", "10s"),
        *("-s", str(WRK_SCRIPT), receiver.url, "--", str(requests)),
    ]
    run = Run()
    before = Snapshot.take(receiver.process.pid)
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), duration + 30)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    run.measure(before, Snapshot.take(receiver.process.pid))
    report = [line for line in output.decode().splitlines() if line.startswith("calbridge-wrk ")]
    if process.returncode != 0 or not report:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{output.decode()}")
    figures = {k: int(v) for k, v in (item.split("=") for item in report[-1].split()[1:])}
    bad = figures["status"]
    run.answered = figures["requests"] - bad
    run.elapsed = figures["duration_us"] / 1e6
    run.quantiles = {50: figures["p50_us"] / 1e6, 99: figures["p99_us"] / 1e6}
    run.statuses["2xx"] = run.answered
    for name in ("connect", "read", "write", "timeout"):
        if figures[name]:
            run.statuses[name] = figures[name]
    if bad:
        run.statuses["non-2xx"] = bad
    return run


async def bare_ceiling(url: str, bodies: list[tuple[bytes, str]], concurrency: int, duration: float) -> Run:
    """A bare aio-pika publisher with confirms: `concurrency` in flight, same bytes, same exchange."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(CHANGES, ensure=False)
        sent = 0
        stop_at = time.perf_counter() + duration

        async def publisher() -> None:
            nonlocal sent
            while time.perf_counter() < stop_at and sent < MAX_REQUESTS:
                body, calendar = bodies[sent % len(bodies)]
                sent += 1
                message = aio_pika.Message(
                    body,
                    headers={CALENDAR_HEADER: calendar},
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    message_id=uuid.uuid4().hex,
                )
                await exchange.publish(message, routing_key="")

        run = Run()
        before, wall = Snapshot.take(None), time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(publisher() for _ in range(concurrency))), duration + 15)
        run.elapsed = time.perf_counter() - wall
        run.measure(before, Snapshot.take(None))
        run.answered = sent
        run.statuses["published"] = sent
        return run
    finally:
        await connection.close()


# --- the run -------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def start_profiler(receiver: Receiver, duration: float, output: Path) -> subprocess.Popen[bytes]:
    """Sample the receiver with py-spy (collapsed stacks) while a phase runs."""
    beside = Path(sys.executable).with_name("py-spy")  # installed with the dev extra, in the same venv
    command = [
        str(beside) if beside.exists() else "py-spy",
        *("record", "--pid", str(receiver.process.pid), "--duration", str(int(duration))),
        *("--rate", "250", "--nonblocking", "--format", "raw", "--output", str(output)),
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


@dataclass(frozen=True)
class Plan:
    duration: float
    rates: list[float]
    concurrency: int
    rounds: int
    http_floor: bool
    publish_floor: bool
    generators: list[str]
    profile: Path | None


@dataclass
class Results:
    fixed: list[tuple[float, Run]] = field(default_factory=list)
    ceilings: list[Run] = field(default_factory=list)
    # per round, per (server, generator): "receiver" / "publish floor", "aiohttp" / "wrk"
    maxima: list[dict[tuple[str, str], Run]] = field(default_factory=list)
    http_floors: dict[str, Run] = field(default_factory=dict)
    rss: tuple[float, float] = (0.0, 0.0)


async def load(
    server: Receiver, generator: str, notes: list[Notification], requests: Path, plan: Plan
) -> Run:
    if generator == "wrk":
        return await wrk_loop(server, requests, plan.concurrency, plan.duration)
    return await closed_loop(server, notes, plan.concurrency, plan.duration)


async def run(plan: Plan) -> Results:
    duration, concurrency, profile = plan.duration, plan.concurrency, plan.profile
    vhost = f"calbridge-bench-{uuid.uuid4().hex[:8]}"
    create_vhost(vhost)
    url = f"amqp://guest:guest@{BROKER}:5672/{vhost}"
    keys = {"bench": secrets.token_urlsafe(32).encode()}
    notes = make_notifications(keys)
    bodies = published_bodies()
    results = Results()
    servers: list[Receiver] = []
    with tempfile.TemporaryDirectory(prefix="calbridge-bench-") as folder:
        requests = Path(folder) / "requests.bin"
        write_wrk_requests(notes, "127.0.0.1", requests)
        try:
            port = free_port()
            receiver = await start_server(
                *receiver_command(url, keys, port), port, Path(folder) / "receiver.log"
            )
            servers.append(receiver)
            targets = {"receiver": receiver}
            if plan.publish_floor:  # after the receiver, which declares the exchange and the shards
                port = free_port()
                command = floor_command(port, "publish_floor:app", url)
                targets["publish floor"] = await start_server(
                    *command, port, Path(folder) / "publish_floor.log"
                )
                servers.append(targets["publish floor"])
            for server in targets.values():
                await closed_loop(server, notes, 8, 1.0)  # warm up: connections, caches
            purge_shards(vhost)

            for rate in plan.rates:
                results.fixed.append((rate, await open_loop(receiver, notes, rate, duration)))
                purge_shards(vhost)
            for _ in range(plan.rounds):
                results.ceilings.append(await bare_ceiling(url, bodies, concurrency, duration))
                purge_shards(vhost)
                round_: dict[tuple[str, str], Run] = {}
                for generator in plan.generators:
                    for name, server in targets.items():
                        first = profile and name == "receiver" and not results.maxima and not round_
                        profiler = start_profiler(server, duration, profile) if first and profile else None
                        round_[name, generator] = await load(server, generator, notes, requests, plan)
                        if profiler is not None:
                            profiler.wait(timeout=duration + 30)
                        purge_shards(vhost)
                results.maxima.append(round_)
            results.rss = receiver.memory_mb()
            while servers:
                stop_receiver(servers.pop())
            if plan.http_floor:
                for generator in plan.generators:
                    port = free_port()
                    floor = await start_server(*floor_command(port), port, Path(folder) / "floor.log")
                    try:
                        await closed_loop(floor, notes, 8, 1.0)
                        results.http_floors[generator] = await load(floor, generator, notes, requests, plan)
                    finally:
                        stop_receiver(floor)
        finally:
            for server in servers:
                stop_receiver(server)
            drop_vhost(vhost)
    return results


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def cost_line(top: Run) -> str:
    """Per notification: server, generator, broker, everything else; and how busy the machine was."""
    each = top.per_message
    return (
        f"server {top.cpu_us:4.0f} + generator {each(top.generator_cpu):4.0f} + "
        f"broker {each(top.broker_cpu):4.0f} + other {each(top.other_cpu):4.0f} "
        f"(irq {each(top.interrupt_cpu):.0f}, steal {each(top.steal_cpu):.0f}) "
        f"= {each(top.machine_cpu):4.0f} us; {top.machine_cpu / top.elapsed:.2f} cores busy"
    )


def report(plan: Plan, results: Results, size: float) -> None:
    duration, concurrency, rounds = plan.duration, plan.concurrency, plan.rounds
    print(
        f"receiver: 1 worker, uvloop + httptools, no access log; {SHARDS} quorum shards; "
        f"Google and Graph half and half; published event {size:.0f} B on average"
    )
    for rate, result in results.fixed:
        print(f"\nopen loop at {rate:.0f}/s for {duration:g} s:")
        print(
            f"  answered 2xx {result.rate:7.0f}/s  p50 {ms(result.percentile(50))}  "
            f"p99 {ms(result.percentile(99))}  max {ms(max(result.latencies, default=float('nan')))}  "
            f"errors: {result.errors()}"
        )
        print(
            f"  receiver CPU {result.cpu_us:.0f} us per notification "
            f"({result.system_share:.0%} of it in the kernel)"
        )
    print(
        f"\nmax throughput, {concurrency} connections, {duration:g} s x {rounds}, alternating with ceiling "
        f"(CPU per notification; broker = beam.smp{'' if BROKER_PID else ': not found on this host'}):"
    )
    for index, (round_, ceiling) in enumerate(zip(results.maxima, results.ceilings, strict=True), 1):
        print(
            f"  round {index}: bare publish+confirm {ceiling.rate:6.0f}/s "
            f"({ceiling.per_message(ceiling.generator_cpu):.0f} us CPU/msg)\n"
            f"      {'ceiling':<24} {ceiling.rate:6.0f}/s        {cost_line(ceiling)}"
        )
        for (name, generator), top in round_.items():
            print(
                f"      {name + ', ' + generator:<24} {top.rate:6.0f}/s x{top.rate / ceiling.rate:.2f}  "
                f"{cost_line(top)}; p50 {ms(top.percentile(50))}, p99 {ms(top.percentile(99))}, "
                f"{top.system_share:.0%} kernel, errors: {top.errors()}"
            )
    for key in results.maxima[0]:
        pairs = [
            (round_[key], ceiling) for round_, ceiling in zip(results.maxima, results.ceilings, strict=True)
        ]
        ratio = statistics.median(top.rate / ceiling.rate for top, ceiling in pairs)
        cpu = statistics.median(top.cpu_us for top, _ in pairs)
        print(f"  {', '.join(key)} / ceiling: {ratio:.2f} (median of paired rounds); server {cpu:.0f} us CPU")
    ceiling_cpu = statistics.median(c.per_message(c.generator_cpu) for c in results.ceilings)
    print(f"  ceiling: {ceiling_cpu:.0f} us CPU/msg (median)")
    rss, peak = results.rss
    print(f"\nreceiver RSS: {rss:.0f} MB now, {peak:.0f} MB peak")
    for generator, floor in results.http_floors.items():
        print(
            f"\nHTTP floor (empty app, same uvicorn settings, {generator}, {concurrency} connections): "
            f"{floor.rate:.0f}/s, {floor.cpu_us:.0f} us CPU/request; {cost_line(floor)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per phase")
    parser.add_argument(
        "--rate", type=float, action="append", help="open-loop notifications per second (repeatable; 1000)"
    )
    parser.add_argument("--concurrency", type=int, default=64, help="connections / publishes in flight")
    parser.add_argument("--rounds", type=int, default=2, help="alternating max-throughput and ceiling runs")
    parser.add_argument("--http-floor", action="store_true", help="also load an empty app behind uvicorn")
    parser.add_argument(
        "--publish-floor",
        action="store_true",
        help="also load the ideal receiver (publish_floor.py) each round",
    )
    parser.add_argument(
        "--generator",
        choices=["aiohttp", "wrk"],
        action="append",
        help="max-throughput load generator (repeatable; aiohttp); wrk must be installed",
    )
    parser.add_argument(
        "--profile", type=Path, help="write py-spy collapsed stacks of the first max-throughput round here"
    )
    args = parser.parse_args()
    rates = args.rate or [1000.0]
    generators = list(dict.fromkeys(args.generator or ["aiohttp"]))
    if (
        not 0 < args.duration <= 60
        or not all(0 < rate <= 20_000 for rate in rates)
        or len(rates) > 5
        or not 0 < args.concurrency <= 1024
        or not 0 < args.rounds <= 10
    ):
        parser.error(
            "keep it brief: duration <= 60 s, up to 5 rates <= 20000/s, concurrency <= 1024, rounds <= 10"
        )
    if "wrk" in generators and shutil.which("wrk") is None:
        parser.error("--generator wrk needs wrk on the PATH (Debian: apt-get install wrk)")
    import uvloop

    plan = Plan(
        args.duration, rates, args.concurrency, args.rounds, args.http_floor, args.publish_floor,
        generators, args.profile,
    )  # fmt: skip
    started = datetime.now(UTC)
    print(f"started {started:%Y-%m-%d %H:%M:%S} UTC, load average {load_average()}")
    results = uvloop.run(run(plan))
    report(plan, results, statistics.mean(len(body) for body, _ in published_bodies()))
    print(f"\nfinished {datetime.now(UTC):%H:%M:%S} UTC, load average {load_average()}")


if __name__ == "__main__":
    main()
