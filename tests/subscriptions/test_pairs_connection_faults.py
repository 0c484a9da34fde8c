"""A connection that cannot be opened, in the store and in the pair domain: read one row at a
time (the others stay usable), the remedy named, the key's fault told apart from a connection's,
`--replace` over a secret nobody can decrypt, and which pairs fail and come back (pure)."""

from __future__ import annotations

import asyncio
import json

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from pair_fakes import seed_connections
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from calbridge.connections import ConnectionInvalid
from calbridge.pairs.connection_faults import (
    PairConnections,
    apply_connection_faults,
    plan_connection_faults,
    read_pair_connections,
)
from calbridge.pairs.records import fetch_pair
from calbridge.pairs.states import InvalidTransition, PairAction, PairState, next_state
from calbridge.providers.graph.connection import GraphConnection
from calbridge.secretbox import SecretBox, SecretUnreadable, parse_secret_keys
from calbridge.store.connection_records import (
    Saved,
    connection_versions,
    is_unusable_reason,
    read_connections,
    rotate_connection_secrets,
    save_connection,
    secret_key_mismatch,
    unusable_reason,
)
from calbridge.store.engine import create_engine
from calbridge.store.migrate import upgrade
from calbridge.store.tables import calendars, pairs
from calbridge_app.cli import app

OTHER_KEY = SecretBox(parse_secret_keys(Fernet.generate_key().decode()))
LOST = unusable_reason("graph-b", "graph", SecretUnreadable("x"))
ALSO_LOST = unusable_reason("google-b", "google", SecretUnreadable("x"))


def pair(
    pair_id: str, state: PairState, google: str, microsoft: str, reason: str | None = None
) -> PairConnections:
    return PairConnections(pair_id, state, reason, google, microsoft)


# -- the decision (pure) ---------------------------------------------------------------------------


def test_active_pairs_over_an_unusable_connection_fail_with_its_reason_and_no_other_pair_moves() -> None:
    found = [
        pair("p1", PairState.ACTIVE, "google-a", "graph-a"),
        pair("p2", PairState.ACTIVE, "google-a", "graph-b"),
        pair("p3", PairState.PAUSED, "google-a", "graph-b"),
        pair("p4", PairState.ERROR, "google-a", "graph-b", "Google calendar x: access denied"),
    ]
    plan = plan_connection_faults(found, {"graph-b": LOST}, {"google-a", "graph-a"})
    assert plan.fail == {"p2": LOST}
    assert plan.recover == ()


def test_a_pair_failed_for_a_connection_comes_back_only_when_both_its_connections_open() -> None:
    found = [
        pair("p1", PairState.ERROR, "google-a", "graph-b", LOST),
        pair("p2", PairState.ERROR, "google-b", "graph-b", LOST),
        pair("p3", PairState.ERROR, "google-a", "graph-b", "Google calendar x: access denied"),
    ]
    plan = plan_connection_faults(found, {"google-b": ALSO_LOST}, {"google-a", "graph-b"})
    assert plan.recover == ("p1",)
    assert plan.fail == {"p2": ALSO_LOST}  # still out, now for the connection that is at fault


def test_a_pair_with_two_unusable_connections_keeps_one_reason_from_pass_to_pass() -> None:
    found = [pair("p1", PairState.ACTIVE, "google-b", "graph-b")]
    unusable = {"google-b": ALSO_LOST, "graph-b": LOST}
    first = plan_connection_faults(found, unusable, set())
    assert first.fail == {"p1": ALSO_LOST}
    again = plan_connection_faults(
        [pair("p1", PairState.ERROR, "google-b", "graph-b", ALSO_LOST)], unusable, set()
    )
    assert again.fail == {} and again.recover == ()


def test_the_reason_names_the_connection_the_variable_and_the_command_and_is_recognised() -> None:
    assert "'graph-b'" in LOST and "CALBRIDGE_SECRET_KEY" in LOST
    assert "calbridge connections add graph --name graph-b ... --replace" in LOST
    assert is_unusable_reason(LOST)
    assert not is_unusable_reason("Google calendar alice@example.com: access denied")
    assert not is_unusable_reason(None)


def test_an_active_pair_may_fail_and_come_back_through_the_state_machine() -> None:
    assert next_state(PairState.ACTIVE, PairAction.FAIL) is PairState.ERROR
    assert next_state(PairState.ERROR, PairAction.ACTIVATE) is PairState.ACTIVE
    with pytest.raises(InvalidTransition):
        next_state(PairState.PAUSED, PairAction.FAIL)


# -- the store -----------------------------------------------------------------------------------


async def _sealed_elsewhere(engine: AsyncEngine, name: str = "graph-b") -> str:
    """A Graph connection saved by a process with another key (what a lost key leaves behind)."""
    async with engine.begin() as conn:
        saved, _ = await save_connection(
            conn,
            OTHER_KEY,
            GraphConnection(name=name, tenant_id="tenant-2", client_id="client-2", client_secret="s" * 30),
        )
    return saved.id


@pytest.mark.integration
async def test_one_unreadable_secret_leaves_every_other_connection_readable(
    engine: AsyncEngine, box: SecretBox
) -> None:
    good = await seed_connections(engine, box)
    bad = await _sealed_elsewhere(engine)
    async with engine.connect() as conn:
        stored = {s.id: s for s in await read_connections(conn, box)}
    assert {c.id for c in good} <= {i for i, s in stored.items() if s.connection is not None}
    assert stored[bad].connection is None and stored[bad].undecryptable
    assert stored[bad].problem is not None and "'graph-b'" in stored[bad].problem.reason
    assert secret_key_mismatch(stored.values()) is None  # some decrypt: the connection is at fault


@pytest.mark.integration
async def test_when_no_secret_decrypts_the_key_is_blamed_not_the_connections(
    engine: AsyncEngine, box: SecretBox
) -> None:
    await seed_connections(engine, OTHER_KEY)
    async with engine.connect() as conn:
        stored = await read_connections(conn, box)
    mismatch = secret_key_mismatch(stored)
    assert mismatch is not None and "CALBRIDGE_SECRET_KEY" in str(mismatch)


@pytest.mark.integration
async def test_replace_overwrites_a_secret_this_key_cannot_decrypt_and_changes_its_version(
    engine: AsyncEngine, box: SecretBox
) -> None:
    bad = await _sealed_elsewhere(engine)
    async with engine.connect() as conn:
        before = await connection_versions(conn, [bad])
    again = GraphConnection(
        name="graph-b", tenant_id="tenant-2", client_id="client-2", client_secret="n" * 30
    )
    async with engine.begin() as conn:
        with pytest.raises(ConnectionInvalid, match="cannot decrypt; pass --replace"):
            await save_connection(conn, box, again)
    async with engine.begin() as conn:
        saved, outcome = await save_connection(conn, box, again, replace=True)
    async with engine.connect() as conn:
        (stored,) = await read_connections(conn, box, ids=[bad])
        after = await connection_versions(conn, [bad])
    assert outcome is Saved.REPLACED and saved.id == bad  # same id: its pairs stay attached
    assert stored.connection is not None and stored.problem is None
    assert after[bad] != before[bad]


@pytest.mark.integration
async def test_rotate_key_names_the_connection_it_cannot_decrypt_and_changes_nothing(
    engine: AsyncEngine, box: SecretBox
) -> None:
    await seed_connections(engine, box)
    await _sealed_elsewhere(engine)
    with pytest.raises(SecretUnreadable, match="connection 'graph-b'"):
        async with engine.begin() as conn:
            await rotate_connection_secrets(conn, box)


@pytest.mark.integration
async def test_failing_and_recovering_writes_only_the_pairs_that_have_not_moved_on(
    engine: AsyncEngine, box: SecretBox
) -> None:
    google, graph = await seed_connections(engine, box)
    bad = await _sealed_elsewhere(engine)
    async with engine.begin() as conn:
        for ref, connection_id, provider, owner in (
            ("ga", google.id, "google", "a@example.com"),
            ("ma", graph.id, "graph", "a@example.com"),
            ("gb", google.id, "google", "b@example.com"),
            ("mb", bad, "graph", "b@example.com"),
        ):
            await conn.execute(
                sa.insert(calendars).values(
                    id=ref, connection_id=connection_id, provider=provider, owner=owner, calendar="primary"
                )
            )
        await conn.execute(
            sa.insert(pairs),
            [
                {"id": "pa", "google_calendar_id": "ga", "microsoft_calendar_id": "ma", "state": "active"},
                {"id": "pb", "google_calendar_id": "gb", "microsoft_calendar_id": "mb", "state": "active"},
            ],
        )
    async with engine.begin() as conn:
        found = await read_pair_connections(conn, {bad})
        plan = plan_connection_faults(found, {bad: LOST}, {google.id, graph.id})
        failed, recovered = await apply_connection_faults(conn, found, plan)
    async with engine.connect() as conn:
        pa, pb = await fetch_pair(conn, "pa"), await fetch_pair(conn, "pb")
    assert failed == ["pb"] and recovered == []
    assert pa.state is PairState.ACTIVE
    assert pb.state is PairState.ERROR and pb.state_reason == LOST and pb.last_error == LOST

    async with engine.connect() as conn:  # the connection opens again
        found = await read_pair_connections(conn, set())
    plan = plan_connection_faults(found, {}, {google.id, graph.id, bad})
    assert plan.recover == ("pb",)
    async with engine.begin() as conn:  # meanwhile an operator removes the pair
        await conn.execute(sa.update(pairs).where(pairs.c.id == "pb").values(state="removing"))
    async with engine.begin() as conn:
        assert await apply_connection_faults(conn, found, plan) == ([], [])
    async with engine.connect() as conn:
        assert (await fetch_pair(conn, "pb")).state is PairState.REMOVING


@pytest.mark.integration
def test_connections_list_marks_a_connection_this_key_cannot_read_and_lists_the_others(
    sqlite_url: str, secret_key: str, box: SecretBox, monkeypatch: pytest.MonkeyPatch
) -> None:
    upgrade(sqlite_url)
    for name, value in (("CALBRIDGE_DATABASE_URL", sqlite_url), ("CALBRIDGE_SECRET_KEY", secret_key)):
        monkeypatch.setenv(name, value)

    async def seed() -> None:
        engine = create_engine(sqlite_url)
        await seed_connections(engine, box)
        await _sealed_elsewhere(engine)
        await engine.dispose()

    asyncio.run(seed())
    listed = CliRunner().invoke(app, ["connections", "list"], catch_exceptions=False)
    as_json = CliRunner().invoke(app, ["connections", "list", "--json"], catch_exceptions=False)
    shown = CliRunner().invoke(app, ["connections", "show", "graph-b"], catch_exceptions=False)

    assert listed.exit_code == 0 and as_json.exit_code == 0 and shown.exit_code == 0
    text = " ".join(listed.output.split())
    assert "google" in text and "cannot be used" in text and "--name graph-b ... --replace" in text
    by_name = {c["name"]: c for c in json.loads(as_json.stdout)}
    assert "problem" in by_name["graph-b"] and "problem" not in by_name["graph"]
    assert "CALBRIDGE_SECRET_KEY" in " ".join(shown.output.split())
