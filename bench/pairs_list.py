"""`calbridge pairs list` over many pairs: wall time of the real command, piped at 80 columns.

Seeds a throwaway SQLite store with N active pairs (two connections, a subscription per Google
calendar, one event failure per hundredth pair) by direct inserts, then runs the command as an
operator would (`COLUMNS=80`, output to a pipe) in a subprocess, for the table, `--json`, and a
first page (`--limit 50`), and prints the wall time and output size of each; then the removal of
every pair of one connection (`pairs remove --connection graph --yes`), once.

    python bench/pairs_list.py --pairs 10000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.fernet import Fernet

from calbridge.secretbox import SecretBox, parse_secret_keys
from calbridge.store.engine import create_engine
from calbridge.store.migrate import upgrade
from calbridge.store.tables import calendars, connections, event_failures, pairs, subscriptions


async def seed(url: str, key: str, count: int) -> None:
    box = SecretBox(parse_secret_keys(key))
    now = datetime.now(UTC)
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                connections.insert(),
                [
                    {
                        "id": "cg",
                        "provider": "google",
                        "name": "google",
                        "settings": {},
                        "secret": box.seal({}),
                    },
                    {
                        "id": "cm",
                        "provider": "graph",
                        "name": "graph",
                        "settings": {},
                        "secret": box.seal({}),
                    },
                ],
            )
            cals, rows, subs, fails = [], [], [], []
            for n in range(count):
                g, m = f"g{n:011d}", f"m{n:011d}"
                cals.append({"id": g, "connection_id": "cg", "provider": "google",
                             "owner": f"user{n}@example.com", "calendar": "primary"})  # fmt: skip
                cals.append({"id": m, "connection_id": "cm", "provider": "graph",
                             "owner": f"user{n}@example.org", "calendar": "primary"})  # fmt: skip
                rows.append({"id": f"p{n:011d}", "google_calendar_id": g, "microsoft_calendar_id": m,
                             "state": "active", "last_sync_at": now - timedelta(minutes=n % 90)})  # fmt: skip
                for ref, provider in ((g, "google"), (m, "graph")):
                    subs.append({"id": f"s-{ref}", "calendar_id": ref, "provider": provider,
                                 "expires_at": now + timedelta(days=3, minutes=n % 600)})  # fmt: skip
                if n % 100 == 0:
                    fails.append({"pair_id": f"p{n:011d}", "side": "google", "event_id": f"e{n}",
                                  "provider": "google", "error": "TranslationError", "reason": "r",
                                  "first_seen_at": now, "last_seen_at": now})  # fmt: skip
            await conn.execute(calendars.insert(), cals)
            await conn.execute(pairs.insert(), rows)
            await conn.execute(subscriptions.insert(), subs)
            await conn.execute(event_failures.insert(), fails)
    finally:
        await engine.dispose()


def timed(env: dict[str, str], *args: str, command: str = "list") -> tuple[float, int, int]:
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "calbridge_app", "pairs", command, *args],
            env=env,
            capture_output=True,
            timeout=600,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return float("inf"), -1, 0
    return time.perf_counter() - started, done.returncode, len(done.stdout.splitlines())


def startup(env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "calbridge_app", "--version"], env=env, capture_output=True, check=True
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-remove", action="store_true", help="skip the removal by connection")
    parser.add_argument(
        "--source", help="run the command of another checkout (its root first on PYTHONPATH): before/after"
    )
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="calbridge-bench-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'store.db'}"
        key = Fernet.generate_key().decode()
        upgrade(url)
        asyncio.run(seed(url, key, options.pairs))
        env = {**os.environ, "CALBRIDGE_DATABASE_URL": url, "CALBRIDGE_SECRET_KEY": key, "COLUMNS": "80"}
        env.pop("CALBRIDGE_AMQP_URL", None)
        if options.source:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [options.source, env.get("PYTHONPATH")]))
        floor = min(startup(env) for _ in range(options.runs))
        print(f"pairs list over {options.pairs} pairs (SQLite, piped, COLUMNS=80), best of {options.runs}:")
        for label, args in (("table", ()), ("--json", ("--json",)), ("--limit 50", ("--limit", "50"))):
            results = [timed(env, *args) for _ in range(options.runs)]
            best = min(r[0] for r in results)
            code, lines = results[0][1], results[0][2]
            print(f"  {label:<11} {best:6.2f} s   exit {code}   {lines} lines")
        print(f"  (start-up of the command alone, `calbridge --version`: {floor:.2f} s)")
        if options.no_remove:
            return
        seconds, code, _ = timed(env, "--connection", "graph", "--yes", command="remove")
        print(f"pairs remove --connection graph --yes (all {options.pairs}): {seconds:.2f} s, exit {code}")


if __name__ == "__main__":
    main()
