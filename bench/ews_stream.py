"""EWS through the whole pipeline: a person's change in Exchange -> GetStreamingEvents -> the
EWS listener -> RabbitMQ (confirmed) -> the processor (SyncFolderItems + GetItem) -> Google.

The sandbox (Google and EWS emulators), RabbitMQ (a fresh vhost on the local broker), the
receiver, one processor and one listener run as in the end-to-end tests
(`tests/processor/ews_e2e_stack.py`). `--changes` items are created in Alice's Exchange calendar
at `--rate` per second; the applied latency of each is the time from its creation to the moment
its mirror is listed in her Google calendar (polled every 20 ms). Throughput is the changes
divided by the time from the first creation to the last mirror.

    python bench/ews_stream.py [--changes 60] [--rate 10]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# bench/processor.py would shadow the processor package: the repository root comes first, then
# the end-to-end stack the tests use.
sys.path[0:1] = [str(ROOT), str(ROOT / "tests" / "processor")]

from ews_e2e_stack import open_ews_stack  # noqa: E402

RABBIT_API = "http://127.0.0.1:15672/api"


def rabbit(method: str, path: str, body: object | None = None) -> None:
    request = urllib.request.Request(
        RABBIT_API + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": "Basic " + base64.b64encode(b"guest:guest").decode(),
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


async def measure(changes: int, rate: float) -> None:
    vhost = f"calbridge-bench-{uuid.uuid4().hex[:8]}"
    rabbit("PUT", f"/vhosts/{vhost}", {})
    rabbit("PUT", f"/permissions/{vhost}/guest", {"configure": ".*", "write": ".*", "read": ".*"})
    try:
        with tempfile.TemporaryDirectory() as folder:
            async with open_ews_stack(f"amqp://guest:guest@127.0.0.1:5672/{vhost}", Path(folder)) as stack:
                created: dict[str, float] = {}
                applied: dict[str, float] = {}

                async def watch() -> None:
                    while len(applied) < changes:
                        now = time.perf_counter()
                        for event in await stack.google_events():
                            title = event.get("summary", "")
                            if title in created and title not in applied:
                                applied[title] = now
                        await asyncio.sleep(0.02)

                watcher = asyncio.create_task(watch())
                for n in range(changes):
                    title = f"bench {n:04d}"
                    created[title] = time.perf_counter()
                    await stack.exchange_create(
                        subject=title,
                        start=f"2026-12-{1 + n % 28:02d}T09:00:00Z",
                        end=f"2026-12-{1 + n % 28:02d}T09:30:00Z",
                    )
                    await asyncio.sleep(1 / rate)
                await asyncio.wait_for(watcher, 120)
    finally:
        rabbit("DELETE", f"/vhosts/{vhost}")
    latencies = sorted(applied[t] - created[t] for t in created)
    span = max(applied.values()) - min(created.values())
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    print(f"changes: {changes} offered at {rate:g}/s")
    print(f"applied: {changes / span:.1f} changes/s")
    p50, worst = statistics.median(latencies), latencies[-1]
    print(f"latency: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {worst * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=60)
    parser.add_argument("--rate", type=float, default=10.0)
    args = parser.parse_args()
    asyncio.run(measure(args.changes, args.rate))


if __name__ == "__main__":
    main()
