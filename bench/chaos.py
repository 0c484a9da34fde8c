"""Chaos: the whole system as separate processes, under injected faults, must still converge.

The sandbox, the receiver, two processors, the renewer and the EWS listener each run as their own
`python -m calbridge_app <command>` process, as an operator starts them (docs/local.md), on the
local RabbitMQ (a throwaway vhost) and PostgreSQL (a throwaway database). Pairs are made with the
CLI (`db upgrade`, `connections add-sandbox`, `pairs import`): Google secondary calendars joined
to Graph mailboxes and to EWS mailboxes. Then N random changes are made as people on both sides
through the sandbox's control API (creates of timed, all-day and daily-series events, renames,
reschedules, location edits, deletes, cancelled occurrences, moves to another calendar or to
Deleted Items) while the sandbox drops 5 % of notifications, duplicates 10 % and reorders them,
and answers 20 % of API calls with 429 or 503 and Retry-After. Midway one processor is
SIGKILLed and restarted, every broker connection of the vhost is closed through the management
API, and the receiver is restarted. Then the faults are cleared and the system is left to
converge on its own (no `pairs resync`): dropped notifications are recovered by the renewer's
periodic reconciliation (CALBRIDGE_RESYNC_INTERVAL, shortened here) or by a later notification
for the same calendar.

Figures, all read from the sandbox's state and counters at the end: lost, duplicated, mismatched
and stale mirrors (bench/chaos_tally.py), echo writes (origins calbridge wrote to although only
people change them), invitations, dead letters before and after `calbridge dlq replay`.

    python bench/chaos.py                      # 1,000 changes
    python bench/chaos.py --changes 100        # a quick check
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
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from bench_support import create_vhost, drop_vhost, management_json, throwaway_database
from chaos_tally import Shape, Tally, ews_shapes, google_shapes, graph_shapes, tally

# Run as a script, this folder comes first on sys.path, and bench/receiver.py would shadow the
# receiver package the services import (they run in their own processes; this keeps the bench's
# own imports honest too).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

PY = sys.executable
OWNER = "alice@example.com"  # owns the Google secondary calendars
SERIES_COUNT = 5  # occurrences of each daily series

# What the emulated providers do wrong while the changes are made.
FAULTS = {
    "drop": 0.05,  # notifications never sent
    "duplicate": 0.10,  # notifications sent twice (and every batch shuffled)
    "errors": 0.20,  # API calls answered 429/503 with Retry-After
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- processes


class Service:
    """One `python -m calbridge_app <args>` process, its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], folder: Path) -> None:
        self.name, self.args, self.env, self.folder = name, args, env, folder
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = (self.folder / f"{self.name}-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            [PY, "-m", "calbridge_app", *self.args], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def cli(env: dict[str, str], *args: str, check: bool = True) -> str:
    done = subprocess.run(
        [PY, "-m", "calbridge_app", *args], env=env, capture_output=True, text=True, timeout=300
    )
    if check and done.returncode != 0:
        raise SystemExit(f"calbridge {' '.join(args)} failed ({done.returncode}): {done.stderr[-1500:]}")
    return done.stdout


async def until(what: str, check: Any, bound: float, every: float = 0.5) -> bool:
    """Poll `check()` (sync or async) until true or `bound` seconds; False when the bound passed."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        outcome = check()
        if asyncio.iscoroutine(outcome):
            outcome = await outcome
        if outcome:
            return True
        await asyncio.sleep(every)
    print(f"  warning: {what} not reached within {bound:g} s", flush=True)
    return False


# --- the sandbox, over its control API


class Sandbox:
    def __init__(self, info: dict[str, Any], session: aiohttp.ClientSession, tls: ssl.SSLContext) -> None:
        self.control = info["control_url"].rstrip("/")
        self.graph = info["microsoft"]["endpoints"]["graph"].rstrip("/") + "/_control/graph"
        self.ews = info["microsoft"]["endpoints"]["ews"].rstrip("/") + "/_control/ews"
        self.session, self.tls = session, tls

    async def call(self, method: str, url: str, body: Any = None) -> Any:
        for attempt in range(5):  # the control API is reliable; a retry covers a loaded machine
            try:
                async with self.session.request(method, url, json=body, ssl=self.tls) as answer:
                    text = await answer.text()
                    if answer.status >= 400:
                        raise RuntimeError(f"{method} {url} -> {answer.status}: {text[:300]}")
                    return json.loads(text) if text else None
            except (aiohttp.ClientConnectionError, TimeoutError):
                if attempt == 4:
                    raise
                await asyncio.sleep(0.5)
        return None

    # Google
    def gcal(self, calendar: str) -> str:
        return f"{self.control}/google/calendars/{quote(calendar, safe='')}"

    async def google_events(self, calendar: str) -> list[dict[str, Any]]:
        return list((await self.call("GET", self.gcal(calendar)))["events"])

    # Graph
    def gbox(self, mailbox: str) -> str:
        return f"{self.graph}/mailboxes/{quote(mailbox, safe='')}"

    async def graph_rows(self, mailbox: str) -> list[dict[str, Any]]:
        return list((await self.call("GET", f"{self.gbox(mailbox)}/calendars/default/state"))["events"])

    # EWS
    def ebox(self, mailbox: str) -> str:
        return f"{self.ews}/mailboxes/{quote(mailbox, safe='')}"

    async def ews_items(self, mailbox: str) -> list[dict[str, Any]]:
        return list((await self.call("GET", f"{self.ebox(mailbox)}/folders/calendar"))["items"])

    async def set_faults(self) -> None:
        for provider in ("google", "graph", "ews"):
            rule = {"drop_rate": FAULTS["drop"], "duplicate_rate": FAULTS["duplicate"], "reorder": True}
            await self.call("PUT", f"{self.control}/faults/notifications/{provider}", rule)
        # 429 where the provider throttles with 429 (Google, Graph), 503 where a server is busy
        # (EWS answers 503 for a server-level error); Retry-After on both.
        for operation, status in (("google.*", 429), ("graph.*", 429), ("ews.*", 503)):
            rule = {"error_rate": FAULTS["errors"], "error_status": status, "retry_after": 1}
            await self.call("PUT", f"{self.control}/faults/operations/{quote(operation, safe='')}", rule)

    async def clear_faults(self) -> None:
        await self.call("DELETE", f"{self.control}/faults")

    async def counters(self) -> dict[str, Any]:
        return dict(await self.call("GET", f"{self.control}/counters"))


# --- pairs and the events the people make


@dataclass
class Pair:
    index: int
    google: str  # Google calendar id
    mailbox: str
    via: str  # graph | ews


@dataclass
class Tracked:
    key: str
    pair: int
    side: str  # google | microsoft: where a person made it (its origin)
    id: str
    kind: str  # timed | allday | series
    day: date
    version: str = ""  # the origin's version after the bench's last change to it
    cancelled: set[int] = field(default_factory=set)  # occurrence numbers deleted
    alive: bool = True
    left: set[int] = field(default_factory=set)  # pairs whose Google calendar it was moved out of


def _iso(day: date, hour: int, minute: int = 0) -> str:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class People:
    """Act as people on both sides: each call makes one change and records what it did."""

    WORDS = ("Standup", "Review", "Lunch", "Planning", "1:1", "Retro", "Demo", "Offsite", "Call")

    def __init__(self, sandbox: Sandbox, pairs: list[Pair], rng: random.Random) -> None:
        self.sb, self.pairs, self.rng = sandbox, pairs, rng
        self.events: dict[str, Tracked] = {}
        self.counts: dict[str, int] = {}
        self.seq = 0
        self.today = datetime.now(UTC).date()

    def origins(self) -> dict[str, tuple[int, str]]:
        return {t.key: (t.pair, t.side) for t in self.events.values()}

    def _title(self, key: str) -> str:
        self.seq += 1
        return f"[{key}] {self.rng.choice(self.WORDS)} v{self.seq}"

    async def change(self) -> None:
        pair = self.rng.choice(self.pairs)
        side = self.rng.choice(("google", "microsoft"))
        live = [t for t in self.events.values() if t.pair == pair.index and t.side == side and t.alive]
        if len(live) < 3 or self.rng.random() < 0.3:
            kinds = (
                ["timed"] * 6
                + ["allday"] * 2
                + (["series"] * 2 if (side, pair.via) != ("microsoft", "ews") else [])
            )
            await self.create(pair, side, self.rng.choice(kinds))
            return
        target = self.rng.choice(live)
        ops = ["rename"] * 4 + ["reschedule"] * 2 + ["location"] + ["delete"]
        if target.kind == "series":
            ops = ["rename"] * 3 + ["location"] + ["cancel_occurrence"] * 3 + ["delete"]
        elif side == "google" or pair.via == "ews":
            ops.append("move")
        op = self.rng.choice(ops)
        await getattr(self, op)(pair, target)

    def _count(self, op: str) -> None:
        self.counts[op] = self.counts.get(op, 0) + 1

    # -- one helper per change

    async def create(self, pair: Pair, side: str, kind: str) -> None:
        key = f"k{len(self.events)}"
        day = self.today + timedelta(days=self.rng.randint(2, 40))
        hour = self.rng.randint(7, 17)
        title = self._title(key)
        if side == "google":
            body: dict[str, Any] = {"summary": title}
            if kind == "allday":
                body |= {
                    "start": {"date": day.isoformat()},
                    "end": {"date": (day + timedelta(days=1)).isoformat()},
                }
            else:
                body |= {
                    "start": {"dateTime": _iso(day, hour), "timeZone": "UTC"},
                    "end": {"dateTime": _iso(day, hour + 1), "timeZone": "UTC"},
                }
            if kind == "series":
                body["recurrence"] = [f"RRULE:FREQ=DAILY;COUNT={SERIES_COUNT}"]
            made = await self.sb.call("POST", f"{self.sb.gcal(pair.google)}/events", {"event": body})
            tracked = Tracked(key, pair.index, side, made["id"], kind, day, made.get("etag", ""))
        elif pair.via == "graph":
            if kind == "allday":
                start, end = (
                    f"{day.isoformat()}T00:00:00",
                    f"{(day + timedelta(days=1)).isoformat()}T00:00:00",
                )
            else:
                start, end = _iso(day, hour)[:-1], _iso(day, hour + 1)[:-1]
            body = {
                "subject": title,
                "start": {"dateTime": start, "timeZone": "UTC"},
                "end": {"dateTime": end, "timeZone": "UTC"},
                "isAllDay": kind == "allday",
            }
            if kind == "series":
                body["recurrence"] = {
                    "pattern": {"type": "daily", "interval": 1},
                    "range": {
                        "type": "numbered",
                        "startDate": day.isoformat(),
                        "numberOfOccurrences": SERIES_COUNT,
                    },
                }
            made = await self.sb.call("POST", f"{self.sb.gbox(pair.mailbox)}/calendars/default/events", body)
            tracked = Tracked(key, pair.index, side, made["id"], kind, day, made.get("changeKey", ""))
        else:
            if kind == "allday":
                body = {
                    "subject": title,
                    "start": _iso(day, 0),
                    "end": _iso(day + timedelta(days=1), 0),
                    "is_all_day": True,
                }
            else:
                body = {"subject": title, "start": _iso(day, hour), "end": _iso(day, hour + 1)}
            made = await self.sb.call("POST", f"{self.sb.ebox(pair.mailbox)}/items", body)
            tracked = Tracked(key, pair.index, side, made["id"], kind, day, made.get("changekey", ""))
        self.events[key] = tracked
        self._count(f"create {kind}")

    async def _edit(
        self, pair: Pair, t: Tracked, google: dict[str, Any], graph: dict[str, Any], ews: dict[str, Any]
    ) -> None:
        if t.side == "google":
            made = await self.sb.call(
                "PATCH", f"{self.sb.gcal(pair.google)}/events/{quote(t.id, safe='')}", {"changes": google}
            )
            t.version = made.get("etag", "")
        elif pair.via == "graph":
            made = await self.sb.call(
                "PATCH", f"{self.sb.gbox(pair.mailbox)}/events/{quote(t.id, safe='')}", graph
            )
            t.version = made.get("changeKey", "")
        else:
            made = await self.sb.call(
                "PATCH", f"{self.sb.ebox(pair.mailbox)}/items/{quote(t.id, safe='')}", ews
            )
            t.version = made.get("changekey", "")

    async def rename(self, pair: Pair, t: Tracked) -> None:
        title = self._title(t.key)
        await self._edit(pair, t, {"summary": title}, {"subject": title}, {"subject": title})
        self._count("rename")

    async def location(self, pair: Pair, t: Tracked) -> None:
        where = f"Room {self.rng.randint(1, 99)}"
        await self._edit(
            pair, t, {"location": where}, {"location": {"displayName": where}}, {"location": where}
        )
        self._count("location")

    async def reschedule(self, pair: Pair, t: Tracked) -> None:
        t.day = self.today + timedelta(days=self.rng.randint(2, 40))
        if t.kind == "allday":
            nxt = t.day + timedelta(days=1)
            google = {"start": {"date": t.day.isoformat()}, "end": {"date": nxt.isoformat()}}
            graph = {
                "start": {"dateTime": f"{t.day.isoformat()}T00:00:00", "timeZone": "UTC"},
                "end": {"dateTime": f"{nxt.isoformat()}T00:00:00", "timeZone": "UTC"},
                "isAllDay": True,
            }
            ews = {"start": _iso(t.day, 0), "end": _iso(nxt, 0), "is_all_day": True}
        else:
            hour = self.rng.randint(7, 17)
            start, end = _iso(t.day, hour), _iso(t.day, hour + 1)
            google = {
                "start": {"dateTime": start, "timeZone": "UTC"},
                "end": {"dateTime": end, "timeZone": "UTC"},
            }
            graph = {
                "start": {"dateTime": start[:-1], "timeZone": "UTC"},
                "end": {"dateTime": end[:-1], "timeZone": "UTC"},
            }
            ews = {"start": start, "end": end}
        await self._edit(pair, t, google, graph, ews)
        self._count("reschedule")

    async def delete(self, pair: Pair, t: Tracked) -> None:
        if t.side == "google":
            await self.sb.call("DELETE", f"{self.sb.gcal(pair.google)}/events/{quote(t.id, safe='')}")
        elif pair.via == "graph":
            await self.sb.call("DELETE", f"{self.sb.gbox(pair.mailbox)}/events/{quote(t.id, safe='')}")
        else:
            await self.sb.call("DELETE", f"{self.sb.ebox(pair.mailbox)}/items/{quote(t.id, safe='')}")
        t.alive = False
        self._count("delete")

    async def cancel_occurrence(self, pair: Pair, t: Tracked) -> None:
        left = [n for n in range(2, SERIES_COUNT + 1) if n not in t.cancelled]
        if not left:
            await self.rename(pair, t)
            return
        number = self.rng.choice(left)
        t.cancelled.add(number)
        day = t.day + timedelta(days=number - 1)
        if t.side == "google":
            events = await self.sb.google_events(pair.google)
            master = next(e for e in events if e["id"] == t.id)
            hour = (
                datetime.fromisoformat(master["start"]["dateTime"].replace("Z", "+00:00"))
                .astimezone(UTC)
                .hour
            )
            instance = f"{t.id}_{day.strftime('%Y%m%d')}T{hour:02d}0000Z"
            await self.sb.call("DELETE", f"{self.sb.gcal(pair.google)}/events/{quote(instance, safe='')}")
            master = next(e for e in await self.sb.google_events(pair.google) if e["id"] == t.id)
            t.version = master.get("etag", "")
        else:
            rows = await self.sb.graph_rows(pair.mailbox)
            master = next(r for r in rows if r["id"] == t.id)
            original = f"{day.isoformat()}T{master['start']['dateTime'][11:19]}Z"
            series = f"{self.sb.gbox(pair.mailbox)}/events/{quote(t.id, safe='')}"
            path = f"{series}/occurrences/{quote(original, safe='')}"
            await self.sb.call("DELETE", path)
            master = next(r for r in await self.sb.graph_rows(pair.mailbox) if r["id"] == t.id)
            t.version = master.get("changeKey", "")
        self._count("cancel occurrence")

    async def move(self, pair: Pair, t: Tracked) -> None:
        if t.side == "microsoft":  # EWS: a person drags the item to Deleted Items
            await self.sb.call(
                "POST",
                f"{self.sb.ebox(pair.mailbox)}/items/{quote(t.id, safe='')}/move",
                {"folder": "deleteditems"},
            )
            t.alive = False
            self._count("move to Deleted Items")
            return
        # Not back where it was: Google keeps a moved event's cancelled copy under its id there,
        # and a move onto that id is refused (409 duplicate), as an insert of a deleted id is.
        others = [p for p in self.pairs if p.index != pair.index and p.index not in t.left]
        if not others:
            await self.rename(pair, t)
            return
        destination = self.rng.choice(others)
        made = await self.sb.call(
            "POST",
            f"{self.sb.gcal(pair.google)}/events/{quote(t.id, safe='')}/move",
            {"destination": destination.google},
        )
        t.left.add(t.pair)
        t.pair, t.version = destination.index, made.get("etag", "")
        self._count("move to another calendar")


# --- reading both sides of every pair


async def read_all(sb: Sandbox, pairs: list[Pair]) -> dict[tuple[int, str], list[Shape]]:
    calendars: dict[tuple[int, str], list[Shape]] = {}
    for pair in pairs:
        calendars[(pair.index, "google")] = google_shapes(await sb.google_events(pair.google))
        if pair.via == "graph":
            calendars[(pair.index, "microsoft")] = graph_shapes(await sb.graph_rows(pair.mailbox))
        else:
            calendars[(pair.index, "microsoft")] = ews_shapes(await sb.ews_items(pair.mailbox))
    return calendars


async def versions(sb: Sandbox, pairs: list[Pair]) -> dict[str, str]:
    """Every event's current version by id (etag, changeKey or EWS change key), on every side."""
    found: dict[str, str] = {}
    for pair in pairs:
        for event in await sb.google_events(pair.google):
            if event.get("status") != "cancelled":  # a moved event leaves a cancelled copy behind
                found[event["id"]] = event.get("etag", "")
        if pair.via == "graph":
            for row in await sb.graph_rows(pair.mailbox):
                found[row["id"]] = row.get("changeKey", "")
        else:
            for item in await sb.ews_items(pair.mailbox):
                found[item["id"]] = item.get("changekey", "")
    return found


def echo_writes(people: People, now: dict[str, str]) -> list[str]:
    """Origins whose version moved after the bench's last change: calbridge wrote to an event that
    only people edit (its mirror is the only copy calbridge should touch)."""
    return [t.key for t in people.events.values() if t.alive and t.id in now and now[t.id] != t.version]


# --- the broker


def close_connections(vhost: str) -> int:
    listed = management_json("GET", f"/vhosts/{urllib.parse.quote(vhost, safe='')}/connections") or []
    for connection in listed:
        with contextlib.suppress(OSError):
            management_json("DELETE", f"/connections/{urllib.parse.quote(connection['name'], safe='')}")
    return len(listed)


def dead_letters(env: dict[str, str]) -> dict[str, int]:
    rows = json.loads(cli(env, "dlq", "list", "--json") or "[]")
    states: dict[str, int] = {}
    for row in rows:
        states[row.get("state", "?")] = states.get(row.get("state", "?"), 0) + 1
    return states


def injected_errors(counters: dict[str, Any]) -> tuple[int, int]:
    """(API calls answered 429/503, API calls) as the sandbox counted them: the faults did happen."""
    calls = [row for row in counters.get("calls", []) if not row["operation"].endswith(".push.deliver")]
    refused = sum(row["count"] for row in calls if row["status"] in (429, 503))
    return refused, sum(row["count"] for row in calls)


def write_calls(counters: dict[str, Any]) -> dict[str, int]:
    """Successful writes calbridge made, by operation (people's edits go through the control API
    and are not counted by the sandbox)."""
    writes = (
        "insert",
        "import",
        "patch",
        "update",
        "delete",
        "create",
        "move",
        "CreateItem",
        "UpdateItem",
        "DeleteItem",
    )
    found: dict[str, int] = {}
    for row in counters.get("calls", []):
        op = row["operation"]
        if (
            200 <= row["status"] < 300
            and any(w in op.rsplit(".", 1)[-1] for w in writes)
            and "subscription" not in op
            and "channel" not in op
            and "stop" not in op
        ):
            found[op] = found.get(op, 0) + row["count"]
    return found


# --- the run


@contextlib.contextmanager
def services_env(
    vhost: str, database_url: str, folder: Path, args: argparse.Namespace
) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALBRIDGE_")}
    secret = subprocess.run(
        [PY, "-m", "calbridge_app", "connections", "generate-key"], capture_output=True, text=True, check=True
    ).stdout.strip()
    receiver_port = free_port()
    env |= {
        "CALBRIDGE_DATABASE_URL": database_url,
        "CALBRIDGE_AMQP_URL": f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
        "CALBRIDGE_SECRET_KEY": secret,
        "CALBRIDGE_SIGNING_KEYS": f"chaos:{uuid.uuid4().hex}{uuid.uuid4().hex}",
        "CALBRIDGE_PUBLIC_URL": f"http://127.0.0.1:{receiver_port}",
        "CALBRIDGE_RECEIVER_HOST": "127.0.0.1",
        "CALBRIDGE_RECEIVER_PORT": str(receiver_port),
        "CALBRIDGE_PROCESSOR_HTTP_HOST": "127.0.0.1",
        "CALBRIDGE_RENEWER_HTTP_HOST": "127.0.0.1",
        "CALBRIDGE_RENEWER_HTTP_PORT": str(free_port()),
        "CALBRIDGE_EWS_LISTENER_METRICS_PORT": "0",
        "CALBRIDGE_LOG_FORMAT": "json",
        "CALBRIDGE_LOG_LEVEL": args.log_level,
        # Shortened for the bench (documented in bench/README.md): the periodic reconciliation
        # that recovers a dropped notification, the renewer's pass that publishes it, the EWS
        # listener's round, and the retry ladder of a failed change.
        "CALBRIDGE_RESYNC_INTERVAL": str(args.resync_interval),
        "CALBRIDGE_RENEWER_INTERVAL": "5",
        "CALBRIDGE_EWS_LISTENER_REFRESH": "5",
        "CALBRIDGE_RETRY_DELAYS": "1,2,5,10,20,30",
    }
    yield env


def keep_logs(folder: Path, destination: str | None) -> None:
    """Copy every process's log to `destination` (if asked), then remove the run's folder."""
    if destination:
        Path(destination).mkdir(parents=True, exist_ok=True)
        for log in folder.glob("*.log"):
            shutil.copy(log, Path(destination) / log.name)
    shutil.rmtree(folder, ignore_errors=True)


async def run(args: argparse.Namespace) -> None:
    began = time.monotonic()
    name = f"bench-chaos-{uuid.uuid4().hex[:8]}"
    create_vhost(name)
    folder = Path(tempfile.mkdtemp(prefix="calbridge-chaos-"))
    services: list[Service] = []
    try:
        async with throwaway_database(name) as database_url:
            with services_env(name, database_url, folder, args) as env:
                try:
                    await one_run(args, env, name, folder, services)
                finally:  # before the database and the vhost go
                    for service in reversed(services):
                        service.stop()
    finally:
        try:
            drop_vhost(name)
        except OSError:
            print(f"  warning: RabbitMQ vhost {name} was not deleted", flush=True)
        keep_logs(folder, args.keep_logs)
        print(f"total time {time.monotonic() - began:.0f} s", flush=True)


async def one_run(
    args: argparse.Namespace, env: dict[str, str], vhost: str, folder: Path, services: list[Service]
) -> None:
    timings: dict[str, float] = {}
    connection_file = folder / "sandbox.json"
    sandbox = Service(
        "sandbox",
        [
            "sandbox",
            "--connection-file",
            str(connection_file),
            "--plain-http-webhooks",
            "--seed",
            str(args.seed),
        ],
        env,
        folder,
    )
    services.append(sandbox)
    sandbox.start()
    if not await until("the sandbox's connection file", connection_file.exists, 60):
        raise SystemExit("the sandbox did not start")
    await asyncio.sleep(0.2)  # written in one go, but give the writer a moment to close it
    info = json.loads(connection_file.read_text())
    tls = ssl.create_default_context(cadata=info["ca_pem"])

    cli(env, "db", "upgrade")
    cli(env, "connections", "add-sandbox", "--connection-file", str(connection_file))

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        sb = Sandbox(info, session, tls)
        pairs: list[Pair] = []
        for n in range(args.graph_pairs + args.ews_pairs):
            via = "graph" if n < args.graph_pairs else "ews"
            calendar = f"c_chaos{n:02d}@group.calendar.google.com"
            await sb.call(
                "POST",
                f"{sb.control}/google/calendars",
                {"id": calendar, "owner": OWNER, "summary": f"Chaos {n}", "timeZone": "UTC"},
            )
            mailbox = f"chaos{n:02d}@example.com"
            if via == "graph":
                await sb.call(
                    "POST", f"{sb.graph}/mailboxes", {"address": mailbox, "displayName": f"Chaos {n}"}
                )
            else:
                await sb.call(
                    "POST", f"{sb.ews}/mailboxes", {"address": mailbox, "display_name": f"Chaos {n}"}
                )
                for principal in (info["microsoft"]["client_id"], info["microsoft"]["ews_username"]):
                    grant = {"principal": principal, "mailboxes": [mailbox]}
                    await sb.call("POST", f"{sb.ews}/impersonation", grant)
            pairs.append(Pair(n, calendar, mailbox, via))
        csv = folder / "pairs.csv"
        csv.write_text(
            "google,microsoft,via\n" + "".join(f"{OWNER}/{p.google},{p.mailbox},{p.via}\n" for p in pairs)
        )
        cli(env, "pairs", "import", str(csv))

        receiver = Service("receiver", ["receiver"], env, folder)
        processors = [
            Service(f"processor{n}", ["processor", "--port", str(free_port())], env, folder) for n in range(2)
        ]
        renewer = Service("renewer", ["renewer"], env, folder)
        listener = Service("ews-listener", ["ews-listener"], env, folder)
        for service in (receiver, *processors, renewer, listener):
            services.append(service)
            service.start()

        graph_boxes = {p.mailbox for p in pairs if p.via == "graph"}
        ews_boxes = {p.mailbox for p in pairs if p.via == "ews"}

        async def subscribed() -> bool:
            channels = (await sb.call("GET", f"{sb.control}/google/channels")).get("channels", [])
            google = {c.get("calendarId") or c.get("calendar_id") for c in channels}
            graph = await sb.call("GET", f"{sb.graph}/subscriptions")
            graph_rows = (
                graph if isinstance(graph, list) else graph.get("subscriptions", graph.get("value", []))
            )
            graph_seen = len(graph_rows) >= len(graph_boxes)  # resources name mailboxes by id
            ews = (await sb.call("GET", f"{sb.ews}/subscriptions"))["subscriptions"]
            ews_seen = {s["mailbox"] for s in ews if s["connections"] > 0}
            return {p.google for p in pairs} <= google and graph_seen and ews_boxes <= ews_seen

        t0 = time.monotonic()
        await until("every calendar subscribed and streaming", subscribed, 120, every=1)
        timings["subscribe"] = time.monotonic() - t0

        # --- changes under faults, with the chaos midway
        await sb.set_faults()
        people = People(sb, pairs, random.Random(args.seed))
        chaos = {
            int(args.changes * 0.3): "kill a processor",
            int(args.changes * 0.5): "close broker connections",
            int(args.changes * 0.7): "restart the receiver",
        }
        t0 = time.monotonic()
        for n in range(args.changes):
            tick = time.monotonic()
            if n in chaos:
                what = chaos[n]
                if what == "kill a processor":
                    processors[0].stop(signal.SIGKILL)
                    processors[0].start()
                elif what == "close broker connections":
                    closed = close_connections(vhost)
                    what += f" ({closed})"
                else:
                    receiver.stop()
                    receiver.start()
                print(f"  after {n} changes: {what}", flush=True)
            await people.change()
            await asyncio.sleep(max(0.0, 1 / args.rate - (time.monotonic() - tick)))
        timings["changes"] = time.monotonic() - t0
        await sb.clear_faults()

        # --- settle, no resync asked for
        t0 = time.monotonic()
        last: list[Tally] = []

        async def converged() -> bool:
            last[:] = [tally(people.origins(), await read_all(sb, pairs))]
            return last[0].converged

        settled = await until("convergence", converged, args.settle_timeout, every=3)
        timings["settle"] = time.monotonic() - t0
        result = last[0]
        now = await versions(sb, pairs)
        echoes = echo_writes(people, now)
        counters = await sb.counters()
        letters_before = dead_letters(env)
        waiting = letters_before.get("waiting", 0) + letters_before.get("failed", 0)
        after_replay: Tally | None = None
        if waiting:
            cli(env, "dlq", "replay", "--state", "waiting", "--state", "failed")
            await until("convergence after the replay", converged, args.settle_timeout, every=3)
            after_replay = last[0]
        letters_after = dead_letters(env)
        down = [s.name for s in services if not s.alive()]
        if args.dump:  # everything the verdict was drawn from, to look into a failure
            raw = {
                f"{p.index}:{p.via}": {
                    "google": await sb.google_events(p.google),
                    "microsoft": await (
                        sb.graph_rows(p.mailbox) if p.via == "graph" else sb.ews_items(p.mailbox)
                    ),
                }
                for p in pairs
            }
            tracked = {
                k: {
                    **vars(t),
                    "day": t.day.isoformat(),
                    "cancelled": sorted(t.cancelled),
                    "left": sorted(t.left),
                }
                for k, t in people.events.items()
            }
            dump = {"tracked": tracked, "echoes": echoes, "tally": vars(result), "counters": counters}
            write_json(args.dump, {**dump, "state": raw})

    # --- figures
    invitations = len(counters.get("invitations", []))
    writes = write_calls(counters)
    figures = {
        "changes": args.changes,
        "lost": len(result.lost),
        "duplicated": len(result.duplicated),
        "mismatched": len(result.mismatched),
        "stale": len(result.stale),
        "echo_writes": len(echoes),
        # calbridge patches a Google event only when it is a person's own (a mirror is replaced
        # whole), and these people never edit a mirror: every patch is a write that should not
        # be, even one that a later edit by the person hides from `echo_writes`
        "google_origin_writes": writes.get("google.events.patch", 0),
        "invitations": invitations,
        "dlq_before": sum(letters_before.values()),
        "dlq_after": sum(letters_after.values()),
        "settle_s": round(timings["settle"], 1),
        "converged": settled,
    }
    report(args, people, result, echoes, writes, figures, timings)
    refused, calls = injected_errors(counters)
    print(f"API calls answered 429/503 (injected): {refused} of {calls}")
    mishaps = counters.get("notifications") or {}
    print(
        "notifications dropped / duplicated (injected): "
        + ", ".join(
            f"{p} {mishaps.get(f'{p}.dropped', 0)} / {mishaps.get(f'{p}.duplicated', 0)}"
            for p in ("google", "graph", "ews")
        )
    )
    print(f"dead letters by state: before replay {letters_before}, after {letters_after}")
    if after_replay is not None:
        again = after_replay
        print(f"after replay: lost {len(again.lost)}, duplicated {len(again.duplicated)}, ", end="")
        print(f"mismatched {len(again.mismatched)}, stale {len(again.stale)}")
    if down:
        print(f"processes that had exited: {', '.join(down)}")
    print(json.dumps(figures))


def write_json(path: str, data: object) -> None:
    Path(path).write_text(json.dumps(data, indent=1, default=str))


def _listed(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))


def report(
    args: argparse.Namespace,
    people: People,
    result: Tally,
    echoes: list[str],
    writes: dict[str, int],
    figures: dict[str, Any],
    timings: dict[str, float],
) -> None:
    load = os.getloadavg()[0]
    print()
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores, load {load:.1f}, Python {platform.python_version()}"
    )
    print(f"pairs: {args.graph_pairs} Google<->Graph, {args.ews_pairs} Google<->EWS; seed {args.seed}")
    print(
        f"faults while changing: notifications {FAULTS['drop']:.0%} dropped, "
        f"{FAULTS['duplicate']:.0%} duplicated, all reordered; "
        f"API calls {FAULTS['errors']:.0%} answered 429/503 with Retry-After 1 s"
    )
    print(f"changes made: {args.changes} ({_listed(people.counts)})")
    made = len(people.events)
    print(f"events: {made} made, {result.origins} at their origin at the end, {result.deleted} deleted")
    verdict = "yes" if figures["converged"] else "NO"
    print(f"converged: {verdict} after {timings['settle']:.1f} s (no resync asked for)")
    print(
        f"lost: {figures['lost']}  duplicated: {figures['duplicated']}  mismatched: {figures['mismatched']}  "
        f"stale: {figures['stale']}  strays: {result.strays}"
    )
    for label, keys in (
        ("lost", result.lost),
        ("duplicated", result.duplicated),
        ("mismatched", result.mismatched),
        ("stale", result.stale),
        ("echo writes", echoes),
    ):
        if keys:
            print(f"  {label}: {', '.join(keys[:10])}{' ...' if len(keys) > 10 else ''}")
    print(f"echo writes (origins calbridge wrote to): {figures['echo_writes']}")
    print(f"writes to people's Google events at any time (events.patch): {figures['google_origin_writes']}")
    print(f"calbridge writes: {sum(writes.values())} ({_listed(writes)})")
    print(f"invitations: {figures['invitations']}")
    print(f"dead letters: {figures['dlq_before']} before replay, {figures['dlq_after']} after")
    rate = args.changes / timings["changes"]
    print(
        f"timing: subscribe {timings['subscribe']:.1f} s, changes {timings['changes']:.1f} s ({rate:.1f}/s), "
        f"settle {timings['settle']:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=10.0, help="changes per second")
    parser.add_argument("--graph-pairs", type=int, default=3)
    parser.add_argument("--ews-pairs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--resync-interval", type=int, default=30, help="CALBRIDGE_RESYNC_INTERVAL, seconds")
    parser.add_argument("--settle-timeout", type=float, default=240.0, help="seconds to wait for convergence")
    parser.add_argument("--log-level", default="info", help="the services' log level")
    parser.add_argument("--dump", help="write the final state, what was made and the verdict here (JSON)")
    parser.add_argument("--keep-logs", help="copy every process's log into this folder")
    args = parser.parse_args()
    try:
        asyncio.run(run(args))
    except SystemExit as exc:  # a benchmark reports and exits 0; the reason is printed
        print(f"chaos: {exc}", flush=True)


if __name__ == "__main__":
    main()
