"""A connection the renewer cannot open affects its own pairs only: the others are renewed and
resynced on schedule, its pairs show the reason and the remedy in `calbridge pairs list/show`,
and once it is entered again with `connections add ... --replace` they come back and catch up.

The whole path: the sandbox (Google + Graph), the receiver and a real RabbitMQ, the store, the
renewer as `calbridge renewer --once` runs it (`serve_renewer`), and the CLI as a person types it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from pydantic import SecretStr
from renewer_harness import ALICE, BOB, KEYS, World, keys_setting, open_world, wait_for
from typer.testing import CliRunner

from calbridge.events import ChangeKind, Provider
from calbridge.pairs.admin import remove_pair
from calbridge.pairs.records import fetch_pair
from calbridge.pairs.states import PairState
from calbridge.providers.graph.connection import GraphConnection
from calbridge.secretbox import SecretBox, parse_secret_keys
from calbridge.settings import Settings, load_settings
from calbridge.store.connection_records import save_connection
from calbridge.store.tables import links, subscriptions
from calbridge_app.cli import app
from calbridge_app.sandbox_connections import sandbox_connections
from subscriptions.service import serve_renewer

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq]


@dataclass
class Faulty:
    world: World
    settings: Settings
    graph: GraphConnection  # the sandbox's Graph app, as `connections add graph` would take it
    secret_file: Path

    async def renewer_pass(self) -> None:
        await serve_renewer(self.settings, once=True)

    async def pair(self, pair_id: str) -> tuple[PairState, str | None]:
        async with self.world.engine.connect() as conn:
            record = await fetch_pair(conn, pair_id)
        return record.state, record.state_reason


def invoke(*args: str) -> tuple[int, str]:
    """Run a command in-process (off the test's event loop); its output, line wrapping undone."""
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture
async def faulty(
    amqp_url: str, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Faulty]:
    """Alice's pair p1 over the sandbox's connections; Bob's pair p2 whose Microsoft side uses
    `graph-bob`, a connection saved by a process with another CALBRIDGE_SECRET_KEY."""
    async for world in open_world(amqp_url, sqlite_url):
        key = Fernet.generate_key().decode()
        settings = load_settings(
            amqp_url=SecretStr(amqp_url),
            database_url=SecretStr(sqlite_url),
            signing_keys=keys_setting(KEYS),
            secret_key=SecretStr(key),
            public_url=world.receiver_url,
            provider_timeout=10,
        )
        box = SecretBox(parse_secret_keys(key))
        elsewhere = SecretBox(parse_secret_keys(Fernet.generate_key().decode()))
        found = {
            c.provider: c for c in sandbox_connections(world.sb.info.as_json(), "sb", tmp_path / "ca.pem")
        }
        graph = found[Provider.GRAPH]
        assert isinstance(graph, GraphConnection)
        async with world.engine.begin() as conn:
            google_id = (await save_connection(conn, box, found[Provider.GOOGLE]))[0].id
            graph_id = (await save_connection(conn, box, graph))[0].id
            bob_id = (await save_connection(conn, elsewhere, dataclasses.replace(graph, name="graph-bob")))[
                0
            ].id
        await world.add_pair(
            "p1", "g_alice", "m_alice", google_connection=google_id, graph_connection=graph_id
        )
        await world.add_pair(
            "p2", "g_bob", "m_bob", owner=BOB, google_connection=google_id, graph_connection=bob_id
        )
        secret_file = tmp_path / "client-secret.txt"
        secret_file.write_text(graph.client_secret)
        secret_file.chmod(0o600)
        monkeypatch.setenv("CALBRIDGE_DATABASE_URL", sqlite_url)
        monkeypatch.setenv("CALBRIDGE_SECRET_KEY", key)
        monkeypatch.setenv("CALBRIDGE_LOG_FORMAT", "console")
        monkeypatch.delenv("CALBRIDGE_AMQP_URL", raising=False)
        yield Faulty(world, settings, graph, secret_file)


async def test_given_an_undecryptable_connection_then_the_other_pairs_are_renewed_and_its_pair_says_why(
    faulty: Faulty,
) -> None:
    world = faulty.world
    await faulty.renewer_pass()

    # Alice's pair is watched on both sides; Bob's pair is in error, with the remedy.
    assert world.live_channels(ALICE) and world.live_graph_subscriptions(ALICE)
    assert not world.live_channels(BOB) and not world.live_graph_subscriptions(BOB)
    state, reason = await faulty.pair("p2")
    assert state is PairState.ERROR and reason is not None and "'graph-bob'" in reason
    assert await faulty.pair("p1") == (PairState.ACTIVE, None)
    code, shown = await asyncio.to_thread(invoke, "pairs", "show", "p2")
    assert code == 0 and "error" in shown and "graph-bob" in shown and "CALBRIDGE_SECRET_KEY" in shown
    assert "--replace" in shown
    code, listed = await asyncio.to_thread(invoke, "pairs", "list", "--state", "error")
    assert code == 0 and "1 pair(s): 1 error" in listed and "connection '" in listed
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["pairs", "list", "--state", "error", "--json"], catch_exceptions=False
    )
    [listed_pair] = json.loads(result.output)
    assert listed_pair["id"] == "p2" and listed_pair["last_error"] == reason

    # Alice's Graph subscription falls due for renewal and her Google calendar for its scheduled
    # resync: both happen, with Bob's connection still unreadable, and Bob's pair removed with
    # its mirrors (which must wait for a connection that opens).
    async with world.engine.begin() as conn:  # one mirror of Bob's, in Outlook (over graph-bob)
        await conn.execute(
            sa.insert(links).values(
                pair_id="p2", origin="google", google_event_id="g1", microsoft_event_id="m1"
            )
        )
    await remove_pair(world.engine, "p2", delete_mirrors=True)
    renewed_before = world.calls("graph.subscriptions.update")
    now = datetime.now(UTC)
    async with world.engine.begin() as conn:
        rows = subscriptions.c
        await conn.execute(sa.update(subscriptions).where(rows.calendar_id == "m_alice").values(renew_at=now))
        await conn.execute(
            sa.update(subscriptions).where(rows.calendar_id == "g_alice").values(resync_at=now)
        )
    await faulty.renewer_pass()
    assert world.calls("graph.subscriptions.update") == renewed_before + 1
    await wait_for(lambda: world.tap.of("g_alice", ChangeKind.RESYNC, "reconcile"))
    assert (await faulty.pair("p2"))[0] is PairState.REMOVING  # waits for its mirrors


async def test_when_the_connection_is_entered_again_with_replace_then_its_pair_comes_back_and_catches_up(
    faulty: Faulty,
) -> None:
    world, graph = faulty.world, faulty.graph
    await faulty.renewer_pass()
    assert (await faulty.pair("p2"))[0] is PairState.ERROR

    code, said = await asyncio.to_thread(
        invoke,
        "connections", "add", "graph", "--name", "graph-bob",
        "--tenant", graph.tenant_id, "--client-id", graph.client_id,
        "--client-secret-file", str(faulty.secret_file),
        "--authority", str(graph.authority), "--graph-url", str(graph.graph_url),
        "--ca-file", str(graph.ca_file), "--replace",
    )  # fmt: skip
    assert code == 0 and "graph-bob (graph): replaced" in said
    await faulty.renewer_pass()

    assert await faulty.pair("p2") == (PairState.ACTIVE, None)
    assert world.live_channels(BOB) and world.live_graph_subscriptions(BOB)
    # A full catch-up of both calendars: what happened while the pair was out is synced.
    await wait_for(lambda: world.tap.of("g_bob", ChangeKind.RESYNC, "resume"))
    await wait_for(lambda: world.tap.of("m_bob", ChangeKind.RESYNC, "resume"))
