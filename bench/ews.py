"""EWS per-call client cost: exchangelib against the EWS emulator, and calbridge's adapter on top.

The emulator runs in a child process, so this process's CPU time (`time.process_time`) is the
client's alone: exchangelib building and parsing SOAP, plus calbridge's translation. Measured
per call, averaged over `--calls` calls, best of `--rounds` rounds:

- GetItem with every field (`account.fetch(ids)`), with `folder=`, with the adapter's
  `only_fields` (the 26 fields translation reads) and with 4 fields;
- CreateItem of a mirror (`ews_fields` + `CalendarItem.save(send_meeting_invitations=SendToNone)`);
- SyncFolderItems with a current sync state and no changes, IdOnly (the adapter's cursor poll);
- translation alone (`fetched_from_ews(item_fields(item))`) and the adapter's `get()` through
  its thread pool (GetItem + translation + pool hop).

    python bench/ews.py [--calls 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any

from exchangelib import CalendarItem
from exchangelib.properties import ItemId

from calbridge.model import Attendee, Body, Event, Timed
from calbridge.providers.base import CalendarAddress, MirrorStamp
from calbridge.providers.ews.adapter import EwsProvider
from calbridge.providers.ews.client import EwsClient, EwsEndpoint
from calbridge.providers.ews.translate import READ_FIELDS, ews_fields, fetched_from_ews, item_fields

MAILBOX = "alice@example.com"


def serve(conn: Connection) -> None:
    """Child process: run the emulator until the parent says stop."""
    from sandbox.ews.testing import sample_world, serve_in_thread

    with serve_in_thread(sample_world()) as running:
        conn.send(running.ews_url)
        conn.recv()


def measure(fn: Callable[[], Any], calls: int, rounds: int) -> tuple[float, float]:
    """(CPU ms per call, wall ms per call), best round of each."""
    cpu_best = wall_best = float("inf")
    for _ in range(rounds):
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(calls):
            fn()
        cpu_best = min(cpu_best, (time.process_time() - cpu) * 1000 / calls)
        wall_best = min(wall_best, (time.perf_counter() - wall) * 1000 / calls)
    return cpu_best, wall_best


def sample_event(i: int) -> Event:
    start = datetime(2026, 5, 4, 9, tzinfo=UTC) + timedelta(hours=i)
    return Event(
        id=f"src-{i}",
        span=Timed(start, start + timedelta(minutes=30)),
        title=f"Meeting {i}",
        description=Body("Agenda: figures, plans and the next steps."),
        location="Room 1",
        attendees=(Attendee("bob@example.com"), Attendee("carol@example.com", optional=True)),
        reminders=(15,),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    parent, child = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(child,), daemon=True)
    server.start()
    try:
        url = parent.recv()
        run(url, args.calls, args.rounds)
    finally:
        parent.send("stop")
        server.join(timeout=10)


def run(url: str, calls: int, rounds: int) -> None:
    client = EwsClient(EwsEndpoint("svc@example.com", "s3cret", ews_url=url), threads=1)
    provider = EwsProvider(client)
    account = client.account(MAILBOX)
    folder = account.calendar
    created = iter(range(10**6))

    def create() -> str:
        fields = ews_fields(sample_event(next(created)), MirrorStamp("p", "s"), detail="full")
        item = CalendarItem(account=account, folder=folder, **fields)
        item.save(send_meeting_invitations="SendToNone")
        return str(item.id)

    item_id = create()
    ids = [ItemId(id=item_id)]
    list(folder.sync_items(only_fields=["changekey"]))
    state = [folder.item_sync_state]

    def sync_quiet() -> None:
        # Always from the newest state, so each call really has no changes to report.
        list(folder.sync_items(sync_state=state[0], only_fields=["changekey"]))
        state[0] = folder.item_sync_state

    fetched = next(iter(account.fetch(ids=ids, folder=folder, only_fields=list(READ_FIELDS))))
    loop = asyncio.new_event_loop()

    rows: list[tuple[str, Callable[[], Any]]] = [
        ("GetItem, all fields", lambda: list(account.fetch(ids=ids))),
        ("GetItem, all fields, folder=", lambda: list(account.fetch(ids=ids, folder=folder))),
        (
            f"GetItem, only_fields ({len(READ_FIELDS)}, adapter)",
            lambda: list(account.fetch(ids=ids, folder=folder, only_fields=list(READ_FIELDS))),
        ),
        (
            "GetItem, only_fields (4)",
            lambda: list(
                account.fetch(ids=ids, folder=folder, only_fields=["subject", "start", "end", "location"])
            ),
        ),
        ("CreateItem (mirror, SendToNone)", create),
        ("SyncFolderItems, no changes, IdOnly", sync_quiet),
        ("translation only (fetched_from_ews)", lambda: fetched_from_ews(item_fields(fetched))),
        (
            "adapter get() via pool",
            lambda: loop.run_until_complete(provider.get(CalendarAddress(MAILBOX), item_id)),
        ),
    ]
    results = [(name, *measure(fn, calls, rounds)) for name, fn in rows]
    loop.close()
    client.close()

    reference = results[2][1]
    print(f"{calls} calls x {rounds} rounds, best round; client CPU via time.process_time")
    print(f"{'call':44} {'CPU ms':>8} {'wall ms':>8} {'CPU / adapter GetItem':>22}")
    for name, cpu, wall in results:
        print(f"{name:44} {cpu:8.2f} {wall:8.2f} {cpu / reference:22.2f}")


if __name__ == "__main__":
    main()
