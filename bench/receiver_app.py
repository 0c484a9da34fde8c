"""The receiver app's own CPU per request: no HTTP server, no broker, so hot-path changes show.

`bench/receiver.py` measures the whole path, but on a busy machine its figures move by tens of
percent from run to run. This drives the ASGI app in-process with the same realistic Google and
Graph notifications and a bus that confirms at once (and keeps nothing), and reports the CPU
microseconds per request (best of the rounds) and the time spent in garbage collection.

    python bench/receiver_app.py [--requests 20000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import secrets
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from starlette.applications import Starlette

from calbridge.bus.base import ChangeHandler, Consumer, LifecycleHandler
from calbridge.events import ChangeEvent, LifecycleEvent
from calbridge.settings import load_settings


class ConfirmingBus:
    """Confirms every publish at once and keeps only a count (nothing accumulates in memory)."""

    def __init__(self) -> None:
        self.published = 0

    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def ready(self) -> bool:
        return True

    async def publish(self, messages: Sequence[ChangeEvent | LifecycleEvent]) -> None:
        self.published += len(messages)

    async def consume_changes(self, handler: ChangeHandler, shards: Sequence[int] | None = None) -> Consumer:
        raise NotImplementedError

    async def consume_lifecycle(self, handler: LifecycleHandler) -> Consumer:
        raise NotImplementedError


def load_notifications(keys: dict[str, bytes]) -> list[Any]:
    # The same notifications as the end-to-end bench; loaded by path because this folder's
    # `receiver.py` would shadow the `receiver` package if imported by name.
    spec = importlib.util.spec_from_file_location("bench_receiver", Path(__file__).with_name("receiver.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_receiver"] = module
    spec.loader.exec_module(module)
    notes: list[Any] = module.make_notifications(keys)
    return notes


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


async def run(requests: int, rounds: int) -> None:
    from receiver import create_app

    keys = {"bench": secrets.token_urlsafe(32).encode()}
    settings = load_settings(signing_keys=SecretStr(f"bench:{keys['bench'].decode()}"))
    bus = ConfirmingBus()
    app = create_app(settings, bus)
    calls = [scope_of(note) for note in load_notifications(keys)]
    gc_seconds = 0.0
    gc_started = 0.0

    def time_gc(phase: str, info: dict[str, int]) -> None:
        nonlocal gc_seconds, gc_started
        if phase == "start":
            gc_started = time.perf_counter()
        else:
            gc_seconds += time.perf_counter() - gc_started

    async with app.router.lifespan_context(app):
        for index in range(2000):  # warm up
            await call(app, *calls[index % len(calls)])
        gc.callbacks.append(time_gc)
        results = []
        for _ in range(rounds):
            gc_seconds = 0.0
            started = time.process_time()
            for index in range(requests):
                status = await call(app, *calls[index % len(calls)])
                if status not in (200, 202):
                    raise RuntimeError(f"unexpected status {status}")
            results.append(((time.process_time() - started) / requests * 1e6, gc_seconds / requests * 1e6))
        gc.callbacks.remove(time_gc)
    best = min(results)
    print(f"receiver app in-process, {requests} requests x {rounds} (Google and Graph half and half)")
    print("  CPU us/request per round: " + ", ".join(f"{cpu:.0f}" for cpu, _ in results))
    print(f"  best {best[0]:.0f} us/request; GC {best[1]:.1f} us/request in that round")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not 0 < args.requests <= 1_000_000 or not 0 < args.rounds <= 50:
        parser.error("requests in 1..1000000, rounds in 1..50")
    # `python bench/receiver_app.py` puts this folder first on sys.path, where `receiver.py` (the
    # end-to-end bench) would shadow the `receiver` package.
    here = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != here]
    import uvloop

    uvloop.run(run(args.requests, args.rounds))


if __name__ == "__main__":
    main()
