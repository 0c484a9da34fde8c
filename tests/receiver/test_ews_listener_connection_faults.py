"""The EWS listener over stored connections, against the EWS emulator (real exchangelib), real
RabbitMQ and the store, as `calbridge ews-listener` wires it (`ListenerFolders.refresh` before
every round): a connection whose secret cannot be decrypted is left out and every other one keeps
streaming; a connection whose password is replaced in the store streams again with the new one.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from ews_stream_support import BusReader, eventually, quick_tuning, ref_of
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.providers.ews.connection import EwsConnection
from calbridge.secretbox import SecretBox, parse_secret_keys
from calbridge.store.connection_records import save_connection
from calbridge.store.engine import create_engine
from calbridge.store.migrate import upgrade
from calbridge.store.tables import calendars, connections, pairs
from ews_listener.accounts import ListenerFolders
from ews_listener.stream import EwsListener
from sandbox.ews.testing import RunningEws, sample_world, serve_in_thread

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq, pytest.mark.timeout(60)]

ALICE, BOB = "alice@example.com", "bob@example.com"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
BOX = SecretBox(parse_secret_keys(Fernet.generate_key().decode()))


@pytest.fixture
def ews() -> Iterator[RunningEws]:
    with serve_in_thread(sample_world(minute_seconds=1.0)) as running:
        yield running


@pytest.fixture
async def reader(amqp_url: str) -> AsyncIterator[BusReader]:
    async with BusReader(amqp_url) as reader:
        yield reader


def service_account(ews: RunningEws, name: str = "ews", password: str = "s3cret") -> EwsConnection:
    return EwsConnection(
        name=name, auth="basic", password=password, url=ews.ews_url, username="svc@example.com"
    )


@pytest.fixture
async def engine(tmp_path: Path, ews: RunningEws) -> AsyncIterator[AsyncEngine]:
    """Alice's pair over connection `ews`; Bob's over `ews-bob`, saved under another key."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    elsewhere = SecretBox(parse_secret_keys(Fernet.generate_key().decode()))
    async with engine.begin() as conn:
        good, _ = await save_connection(conn, BOX, service_account(ews))
        bad, _ = await save_connection(conn, elsewhere, service_account(ews, "ews-bob"))
        await conn.execute(
            sa.insert(connections).values(id="g", provider="google", name="google", settings={})
        )
        for mailbox, connection_id in ((ALICE, good.id), (BOB, bad.id)):
            user = mailbox.split("@")[0]
            await conn.execute(
                sa.insert(calendars),
                [
                    {"id": ref_of(mailbox), "connection_id": connection_id, "provider": "ews",
                     "owner": mailbox, "calendar": "primary"},
                    {"id": f"g-{user}", "connection_id": "g", "provider": "google",
                     "owner": f"{user}@example.org", "calendar": "primary"},
                ],
            )  # fmt: skip
            await conn.execute(
                sa.insert(pairs).values(
                    id=f"pair-{user}", google_calendar_id=f"g-{user}", microsoft_calendar_id=ref_of(mailbox),
                    state="active",
                )
            )  # fmt: skip
    yield engine
    await engine.dispose()


def streaming(ews: RunningEws, mailbox: str) -> bool:
    return ews.in_loop(
        lambda: any(s.mailbox == mailbox and s.waiters for s in ews.world.subscriptions.values())
    )


def create(ews: RunningEws, mailbox: str, subject: str) -> str:
    made = ews.control.create_item(
        mailbox, subject=subject, start=START.isoformat(), end=(START + timedelta(hours=1)).isoformat()
    )
    return str(made["id"])


@dataclasses.dataclass
class Running:
    listener: EwsListener
    folders: ListenerFolders
    stop: asyncio.Event
    task: asyncio.Task[None]


@pytest.fixture
async def running(engine: AsyncEngine, reader: BusReader) -> AsyncIterator[Running]:
    folders = ListenerFolders([], streams=4)

    async def learn() -> None:
        await folders.refresh(engine, BOX, listener.restart_streams)

    listener = EwsListener(engine, reader.bus, folders, quick_tuning(), before_round=learn)
    stop = asyncio.Event()
    task = asyncio.create_task(listener.run(stop))
    try:
        yield Running(listener, folders, stop, task)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        folders.close()


async def test_given_an_undecryptable_ews_connection_then_the_other_connections_keep_streaming(
    ews: RunningEws, reader: BusReader, running: Running
) -> None:
    await eventually(lambda: streaming(ews, ALICE), what="alice streaming")
    item = create(ews, ALICE, "Planning")
    await eventually(
        lambda: any(e.resource == item for e in reader.of(ref_of(ALICE), "ews-stream")), what="alice's change"
    )
    assert not streaming(ews, BOB)  # its connection cannot be opened: left out, nothing else
    assert not reader.of(ref_of(BOB))


async def test_given_a_password_replaced_in_the_store_then_the_streams_reopen_with_it(
    ews: RunningEws, engine: AsyncEngine, reader: BusReader, running: Running
) -> None:
    await eventually(lambda: streaming(ews, ALICE), what="alice streaming")

    # The service account's password is changed in Exchange, then entered with --replace.
    ews.in_loop(lambda: ews.world.add_basic_user("svc@example.com", "n3w-passw0rd"))
    async with engine.begin() as conn:
        await save_connection(conn, BOX, service_account(ews, password="n3w-passw0rd"), replace=True)
    ews.control.cut_streams(ALICE)  # whatever was open with the old password ends

    await eventually(lambda: streaming(ews, ALICE), what="alice streaming with the new password")
    item = create(ews, ALICE, "After the new password")
    await eventually(
        lambda: any(e.resource == item for e in reader.of(ref_of(ALICE), "ews-stream")),
        what="the change streamed",
    )
