"""The receiver app's own CPU per request: no HTTP server, no broker, so hot-path changes show.

`bench/receiver.py` measures the whole path, but on a busy machine its figures move by tens of
percent from run to run. This drives the ASGI app in-process with the same realistic Google and
Graph notifications and a bus that confirms at once (and keeps nothing), and reports the CPU
microseconds per request (best of the rounds) and the time spent in garbage collection.

    python bench/receiver_app.py [--requests 20000] [--rounds 5] [--concurrency 64 [--confirm-after 0.01]]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import secrets
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from starlette.applications import Starlette

from calbridge.bus.base import ChangeHandler, Consumer, LifecycleHandler
from calbridge.events import ChangeEvent, LifecycleEvent
from calbridge.settings import load_settings


class ConfirmingBus:
    """Confirms every publish at once (or after `delay` seconds, so that many requests are in
    flight at a time as in the real server) and keeps only a count."""

    def __init__(self, delay: float = 0.0) -> None:
        self.published = 0
        self.delay = delay

    async def connect(self) -> None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def ready(self) -> bool:
        return True

    async def publish(self, messages: Sequence[ChangeEvent | LifecycleEvent]) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.published += len(messages)

    async def consume_changes(self, handler: ChangeHandler, shards: Sequence[int] | None = None) -> Consumer:
        raise NotImplementedError

    async def consume_lifecycle(self, handler: LifecycleHandler) -> Consumer:
        raise NotImplementedError


def load_bench() -> Any:
    """The end-to-end bench module, for its notifications and broker helpers; loaded by path
    because this folder's `receiver.py` would shadow the `receiver` package if imported by name."""
    module = None
    for name, file in (("bench_support", "bench_support.py"), ("bench_receiver", "receiver.py")):
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(file))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # bench_receiver imports bench_support by name
        spec.loader.exec_module(module)
    return module


def scope_of(note: Any) -> tuple[dict[str, Any], bytes]:
    headers = [(name.lower().encode(), value.encode()) for name, value in note.headers.items()]
    headers.append((b"content-length", str(len(note.body)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": note.path,
        "raw_path": note.path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
    return scope, note.body


async def call(app: Starlette, scope: dict[str, Any], body: bytes) -> int:
    """One request as uvicorn would hand it over; returns the status."""
    status = 0
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:  # the app never asks again after the whole body
            raise RuntimeError("the body was read twice")
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(dict(scope), receive, send)  # type: ignore[arg-type]
    return status


async def drive(
    app: Starlette, calls: list[tuple[dict[str, Any], bytes]], requests: int, concurrency: int
) -> None:
    """`requests` requests from `concurrency` concurrent callers (as uvicorn runs one task each)."""
    sent = 0

    async def caller() -> None:
        nonlocal sent
        while sent < requests:
            index = sent
            sent += 1
            status = await call(app, *calls[index % len(calls)])
            if status not in (200, 202):
                raise RuntimeError(f"unexpected status {status}")

    await asyncio.wait_for(asyncio.gather(*(caller() for _ in range(concurrency))), timeout=300)


async def run(requests: int, rounds: int, amqp: bool, concurrency: int, delay: float) -> None:
    from calbridge.bus import Bus, open_bus
    from receiver import create_app

    keys = {"bench": secrets.token_urlsafe(32).encode()}
    bench = load_bench()
    vhost = f"calbridge-bench-{uuid.uuid4().hex[:8]}" if amqp else None
    overrides: dict[str, Any] = {"signing_keys": SecretStr(f"bench:{keys['bench'].decode()}")}
    if vhost is not None:
        bench.management("PUT", f"/vhosts/{vhost}", {})
        bench.management(
            "PUT", f"/permissions/{vhost}/guest", {"configure": ".*", "write": ".*", "read": ".*"}
        )
        overrides |= {
            "amqp_url": SecretStr(f"amqp://guest:guest@{bench.BROKER}:5672/{vhost}"),
            "shard_count": bench.SHARDS,
        }
    settings = load_settings(**overrides)
    bus: Bus = open_bus(settings) if amqp else ConfirmingBus(delay)
    app = create_app(settings, bus)
    calls = [scope_of(note) for note in bench.make_notifications(keys)]
    try:
        await measure(app, calls, requests, rounds, concurrency, vhost, bench, delay)
    finally:
        if vhost is not None:
            bench.management("DELETE", f"/vhosts/{vhost}")


async def measure(
    app: Starlette,
    calls: list[tuple[dict[str, Any], bytes]],
    requests: int,
    rounds: int,
    concurrency: int,
    vhost: str | None,
    bench: Any,
    delay: float,
) -> None:
    gc_seconds = 0.0
    gc_started = 0.0

    def time_gc(phase: str, info: dict[str, int]) -> None:
        nonlocal gc_seconds, gc_started
        if phase == "start":
            gc_started = time.perf_counter()
        else:
            gc_seconds += time.perf_counter() - gc_started

    async with app.router.lifespan_context(app):
        await drive(app, calls, 2000, concurrency)  # warm up
        gc.callbacks.append(time_gc)
        results = []
        for _ in range(rounds):
            if vhost is not None:
                bench.purge_shards(vhost)
            gc_seconds = 0.0
            started = time.process_time()
            await drive(app, calls, requests, concurrency)
            results.append(((time.process_time() - started) / requests * 1e6, gc_seconds / requests * 1e6))
        gc.callbacks.remove(time_gc)
    best = min(results)
    bus = "the real AmqpBus (RabbitMQ, throwaway vhost)" if vhost else "a bus that confirms at once"
    if delay:
        bus = f"a bus that confirms after {delay * 1000:g} ms"
    print(
        f"receiver app in-process on {bus}, {concurrency} concurrent callers, {requests} requests x {rounds}"
    )
    print("  CPU us/request per round: " + ", ".join(f"{cpu:.0f}" for cpu, _ in results))
    print(f"  best {best[0]:.0f} us/request; GC {best[1]:.1f} us/request in that round")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--amqp", action="store_true", help="publish through the real AmqpBus to the local RabbitMQ"
    )
    parser.add_argument("--concurrency", type=int, default=1, help="concurrent callers (64 suits --amqp)")
    parser.add_argument(
        "--confirm-after",
        type=float,
        default=0.0,
        help="seconds the in-memory bus waits before confirming (with --concurrency: requests in flight)",
    )
    args = parser.parse_args()
    if not 0 < args.requests <= 1_000_000 or not 0 < args.rounds <= 50 or not 0 < args.concurrency <= 1024:
        parser.error("requests in 1..1000000, rounds in 1..50")
    # `python bench/receiver_app.py` puts this folder first on sys.path, where `receiver.py` (the
    # end-to-end bench) would shadow the `receiver` package.
    here = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != here]
    import uvloop

    uvloop.run(run(args.requests, args.rounds, args.amqp, args.concurrency, args.confirm_after))


if __name__ == "__main__":
    main()
