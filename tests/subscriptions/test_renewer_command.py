"""`calbridge renewer --once` as an operator runs it: stored connections (credentials sealed
in the store), the adapters' SDK clients, one pass."""

# ruff: noqa: F811  (fixtures imported from renewer_harness are parameters here)

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr
from renewer_harness import KEYS, World, keys_setting, world  # noqa: F401

from calbridge.events import Provider
from calbridge.sandbox_connections import sandbox_connections
from calbridge.secretbox import generate_key, open_secretbox
from calbridge.settings import load_settings
from calbridge.store.connection_records import save_connection
from subscriptions.service import serve_renewer

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq]


async def test_given_stored_connections_when_the_renewer_runs_once_then_the_pairs_are_subscribed(
    world: World, tmp_path: Path
) -> None:
    settings = load_settings(
        amqp_url=world.settings.amqp_url,
        database_url=SecretStr(world.database_url),
        signing_keys=keys_setting(KEYS),
        public_url=world.receiver_url,
        secret_key=SecretStr(generate_key()),
    )
    box = open_secretbox(settings)
    found = sandbox_connections(world.sb.info.as_json(), "sandbox", tmp_path / "ca.pem")
    async with world.engine.begin() as conn:
        saved = {c.provider: (await save_connection(conn, box, c))[0].id for c in found}
    await world.add_pair(
        "p1",
        "g_alice",
        "m_alice",
        google_connection=saved[Provider.GOOGLE],
        graph_connection=saved[Provider.GRAPH],
    )

    await serve_renewer(settings, once=True)

    assert len(world.live_channels()) == 1 and len(world.live_graph_subscriptions()) == 1
    assert {r["calendar_id"] for r in await world.rows()} == {"g_alice", "m_alice"}
