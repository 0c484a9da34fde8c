"""Connections the processor cannot use, end to end on the sandbox, RabbitMQ and the store:

- started with the wrong CALBRIDGE_SECRET_KEY it is not ready and takes no shard, and it starts
  on its own once the connections are entered again under its key (`connections add-sandbox`);
- one connection it cannot decrypt puts that pair in `error` (no retries, nothing dead-lettered)
  while the other pair goes on syncing;
- a Graph client secret rotated in Entra and entered with `connections add graph --replace` is
  used by the running processor at once, without a restart.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from processor_e2e import ALICE, SECRET_KEY, Stack, eventually, open_stack, publish_resyncs, titled
from typer.testing import CliRunner

from calbridge.bus.names import DLQ, shard_queue
from calbridge.events import Provider
from calbridge.pairs.records import fetch_pair
from calbridge.pairs.states import PairState
from calbridge.providers.graph.connection import GraphConnection
from calbridge.secretbox import SecretBox, open_secretbox, parse_secret_keys
from calbridge.store import create_engine
from calbridge.store.connection_records import get_connection, save_connection
from calbridge.store.migrate import upgrade
from calbridge.store.tables import calendars, pairs
from calbridge_app.cli import app
from calbridge_app.sandbox_connections import sandbox_connections
from sandbox.server import Sandbox

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq, pytest.mark.timeout(120)]

BOB = "bob@example.com"


def invoke(*args: str) -> tuple[int, str]:
    """A `calbridge` command, in-process (call it off the event loop); its output."""
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """What the CLI reads: the stack's store and secret key (processor_e2e's)."""
    monkeypatch.setenv("CALBRIDGE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("CALBRIDGE_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("CALBRIDGE_LOG_FORMAT", "console")
    monkeypatch.delenv("CALBRIDGE_AMQP_URL", raising=False)
    yield


async def queue_depth(amqp_url: str, name: str) -> tuple[int, int]:
    """(messages, consumers) of a queue, declared passively."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        result = queue.declaration_result
        return result.message_count or 0, result.consumer_count or 0
    finally:
        await connection.close()


async def shard_consumers(amqp_url: str, shards: int) -> int:
    return sum([(await queue_depth(amqp_url, shard_queue(i)))[1] for i in range(shards)])


def timed(title: str, day: int) -> dict[str, Any]:
    return {
        "summary": title,
        "start": {"dateTime": f"2026-12-{day:02d}T09:00:00Z"},
        "end": {"dateTime": f"2026-12-{day:02d}T10:00:00Z"},
    }


async def in_outlook(stack: Stack, title: str) -> bool:
    return bool(titled(await stack.outlook_events(), title))


# -- a processor whose key decrypts nothing ---------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


async def test_given_the_wrong_secret_key_then_the_processor_is_not_ready_and_takes_no_shard_until_fixed(
    amqp_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    await asyncio.to_thread(upgrade, database)
    right, wrong = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    async with Sandbox.start(seed=11) as sandbox:
        connection_file = tmp_path / "sandbox.json"
        connection_file.write_text(json.dumps(sandbox.info.as_json()))
        found = sandbox_connections(sandbox.info.as_json(), "sb", tmp_path / "sb-ca.pem")
        engine = create_engine(database)
        box = SecretBox(parse_secret_keys(right))
        async with engine.begin() as conn:
            ids = {c.provider: (await save_connection(conn, box, c))[0].id for c in found}
            await conn.execute(
                sa.insert(calendars),
                [
                    {"id": "ga", "connection_id": ids[Provider.GOOGLE], "provider": "google",
                     "owner": ALICE, "calendar": "primary"},
                    {"id": "ma", "connection_id": ids[Provider.GRAPH], "provider": "graph",
                     "owner": ALICE, "calendar": "primary"},
                ],
            )  # fmt: skip
            await conn.execute(
                sa.insert(pairs).values(
                    id="p1", google_calendar_id="ga", microsoft_calendar_id="ma", state="active"
                )
            )
        await engine.dispose()

        port = _free_port()
        log_path = tmp_path / "processor.log"
        env = {
            **os.environ,
            "CALBRIDGE_AMQP_URL": amqp_url,
            "CALBRIDGE_DATABASE_URL": database,
            "CALBRIDGE_SECRET_KEY": wrong,
            "CALBRIDGE_CONNECTION_RECHECK": "0.5",
            "CALBRIDGE_PROCESSOR_HTTP_HOST": "127.0.0.1",
            "CALBRIDGE_PROCESSOR_HEARTBEAT": "0.2",
            "CALBRIDGE_DRAIN_TIMEOUT": "3",
            "CALBRIDGE_LOG_FORMAT": "json",
        }
        with log_path.open("wb") as log_file:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "calbridge_app", "processor", "--port", str(port),
                env=env, stdout=log_file, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
        readyz = f"http://127.0.0.1:{port}/readyz"

        async def status() -> int:
            return await asyncio.to_thread(_status, readyz)

        def said(event: str) -> bool:
            assert process.returncode is None, log_path.read_text()
            return event in log_path.read_text()

        try:
            # Then: it says why it is not ready, answers 503, and no shard queue has its consumer.
            await eventually(lambda: said("processor_not_ready"), within=30, what="processor_not_ready")
            assert await status() == 503
            reason = next(
                json.loads(line)["reason"]
                for line in log_path.read_text().splitlines()
                if '"processor_not_ready"' in line
            )
            assert "CALBRIDGE_SECRET_KEY" in reason
            started = time.monotonic()
            while time.monotonic() - started < 1.5:  # a few membership heartbeats: still nothing taken
                assert await shard_consumers(amqp_url, 8) == 0
                assert await status() == 503
                await asyncio.sleep(0.2)

            # When the connections are entered again under the processor's key (the lost-key remedy):
            monkeypatch.setenv("CALBRIDGE_DATABASE_URL", database)
            monkeypatch.setenv("CALBRIDGE_SECRET_KEY", wrong)
            monkeypatch.setenv("CALBRIDGE_LOG_FORMAT", "console")
            code, out = await asyncio.to_thread(
                invoke,
                "connections",
                "add-sandbox",
                "--connection-file",
                str(connection_file),
                "--prefix",
                "sb",
            )
            assert code == 0 and "sb-google (google): replaced" in out and "sb-graph (graph): replaced" in out

            # Then it becomes ready and takes the shards, without a restart.
            async def ready() -> bool:
                return await status() == 200

            await eventually(ready, within=30, what="ready")
            await eventually(lambda: _has_consumers(amqp_url), within=30, what="shards taken")
        finally:
            if process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 15)
                except TimeoutError:
                    process.kill()
                    await process.wait()


async def _has_consumers(amqp_url: str) -> bool:
    return await shard_consumers(amqp_url, 8) > 0


# -- one connection it cannot decrypt --------------------------------------------------------------


async def test_given_one_undecryptable_connection_then_its_pair_is_in_error_and_the_other_pair_syncs(
    amqp_url: str, tmp_path: Path
) -> None:
    async with open_stack(amqp_url, tmp_path) as stack:
        # Bob's pair uses a Graph connection saved by a process with another key.
        elsewhere = SecretBox(parse_secret_keys(Fernet.generate_key().decode()))
        graph = next(
            c for c in sandbox_connections(stack.sandbox.info.as_json(), "x", tmp_path / "x.pem")
            if isinstance(c, GraphConnection)
        )  # fmt: skip
        async with stack.engine.begin() as conn:
            google = await get_connection(conn, open_secretbox(stack.settings), "sandbox-google")
            bad, _ = await save_connection(conn, elsewhere, dataclasses.replace(graph, name="graph-bob"))
            await conn.execute(
                sa.insert(calendars),
                [
                    {"id": "bob_g", "connection_id": google.id, "provider": "google", "owner": BOB,
                     "calendar": "primary"},
                    {"id": "bob_m", "connection_id": bad.id, "provider": "graph", "owner": BOB,
                     "calendar": "primary"},
                ],
            )  # fmt: skip
            await conn.execute(
                sa.insert(pairs).values(
                    id="p2", google_calendar_id="bob_g", microsoft_calendar_id="bob_m", state="active"
                )
            )

        # When a hint for Bob's calendar arrives (a reconciliation resync)
        await publish_resyncs(stack.settings, (Provider.GOOGLE, "bob_g"))

        async def bob_failed() -> bool:
            async with stack.engine.connect() as conn:
                return (await fetch_pair(conn, "p2")).state is PairState.ERROR

        await eventually(bob_failed, within=30, what="p2 in error")
        async with stack.engine.connect() as conn:
            p2, p1 = await fetch_pair(conn, "p2"), await fetch_pair(conn, "p1")
        assert p2.state_reason is not None and "'graph-bob'" in p2.state_reason
        assert "--replace" in p2.state_reason
        assert p1.state is PairState.ACTIVE

        # Alice's pair goes on; nothing was dead-lettered.
        await stack.google_create(timed("Still syncing", 3))
        await eventually(
            lambda: in_outlook(stack, "Still syncing"), within=30, what="Alice's event in Outlook"
        )
        assert stack.settings.amqp_url is not None
        assert (await queue_depth(stack.settings.amqp_url.get_secret_value(), DLQ))[0] == 0


# -- a rotated client secret -------------------------------------------------------------------------


async def test_given_a_rotated_graph_secret_entered_with_replace_then_the_running_processor_uses_it(
    amqp_url: str, tmp_path: Path, cli_env: None
) -> None:
    async with open_stack(amqp_url, tmp_path, connection_recheck=1.0) as stack:
        # Tokens live a second, so the processor fetches one for each call, as it would every hour.
        await stack.graph.set_app(token_lifetime_seconds=1)
        await stack.google_create(timed("Before rotation", 2))
        await eventually(lambda: in_outlook(stack, "Before rotation"), within=30, what="first event synced")

        # The admin rotates the client secret in Entra (the old one is removed at once) ...
        await stack.graph.set_app(client_secrets=["rotated-client-secret-0123456789"])
        secret_file = tmp_path / "new-secret.txt"
        secret_file.write_text("rotated-client-secret-0123456789\n")
        secret_file.chmod(0o600)
        microsoft = stack.sandbox.info.microsoft
        # ... and enters it while the processor runs.
        code, said = await asyncio.to_thread(
            invoke,
            "connections", "add", "graph", "--name", "sandbox-graph",
            "--tenant", microsoft["tenant_id"], "--client-id", microsoft["client_id"],
            "--client-secret-file", str(secret_file),
            "--authority", microsoft["graph_authority"], "--graph-url", microsoft["graph_url"],
            "--ca-file", str(tmp_path / "ca.pem"), "--replace",
        )  # fmt: skip
        assert code == 0 and "sandbox-graph (graph): replaced" in said

        replaced_at = time.monotonic()
        await stack.google_create(timed("After rotation", 4))
        await eventually(
            lambda: in_outlook(stack, "After rotation"), within=60, what="event synced after rotation"
        )
        assert time.monotonic() - replaced_at < 60
        assert stack.settings.amqp_url is not None
        assert (await queue_depth(stack.settings.amqp_url.get_secret_value(), DLQ))[0] == 0
