"""A representative event for the provider benchmarks."""

from __future__ import annotations

import base64
import contextlib
import json
import urllib.request
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from calbridge.events import ChangeEvent, ChangeKind, Provider
from calbridge.model import Body, Event, Timed

BROKER = "127.0.0.1"  # benchmarks load loopback only


def management(method: str, path: str, body: object | None = None) -> None:
    """Call RabbitMQ's management API on the local broker (guest account), bounded by a timeout."""
    management_json(method, path, body)


def management_json(method: str, path: str, body: object | None = None) -> Any:
    """The same call, answering the decoded JSON (None for an empty answer)."""
    request = urllib.request.Request(
        f"http://{BROKER}:15672/api{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": "Basic " + base64.b64encode(b"guest:guest").decode(),
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        payload = response.read()
    return json.loads(payload) if payload else None


def create_vhost(name: str) -> None:
    """A throwaway vhost the guest account may use; the bench deletes it with `drop_vhost`."""
    management("PUT", f"/vhosts/{name}", {})
    management("PUT", f"/permissions/{name}/guest", {"configure": ".*", "write": ".*", "read": ".*"})


def drop_vhost(name: str) -> None:
    management("DELETE", f"/vhosts/{name}")


def sample_events(count: int) -> list[ChangeEvent]:
    """Realistic change events: a Graph event id as resource, a change key as version, 500 calendars."""
    return [
        ChangeEvent(
            provider=Provider.GRAPH,
            calendar=f"cal-{n % 500:04d}",
            kind=ChangeKind.UPDATED,
            resource="AAMkAGI2THVSAAA=" + uuid.uuid4().hex * 3,
            version="DwAAABYAAAA" + uuid.uuid4().hex[:20],
        )
        for n in range(count)
    ]


_BERLIN = ZoneInfo("Europe/Berlin")


def sample_event() -> Event:
    return Event(
        id="bench-source",
        span=Timed(
            datetime(2026, 12, 1, 10, tzinfo=_BERLIN),
            datetime(2026, 12, 1, 11, tzinfo=_BERLIN),
            "Europe/Berlin",
        ),
        title="Quarterly planning",
        description=Body("Agenda:\n1. Numbers\n2. Hiring"),
        location="Room 4.12",
        reminders=(10,),
    )


def sandbox_graph_args(info: dict[str, Any], ca_file: str) -> dict[str, Any]:
    """`GraphClient` / `GraphCalendar.connect` arguments for the sandbox's app registration."""
    ms = info["microsoft"]
    return {
        "tenant_id": ms["tenant_id"],
        "client_id": ms["client_id"],
        "client_secret": ms["client_secret"],
        "authority": ms["graph_authority"],
        "graph_url": ms["graph_url"],
        "ca_file": ca_file,
    }


PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextlib.asynccontextmanager
async def throwaway_database(name: str) -> AsyncIterator[str]:
    """An empty database on the local PostgreSQL (trust), dropped at the end; its SQLAlchemy URL."""
    import asyncpg

    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
