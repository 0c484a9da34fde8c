"""`calbridge connections add` against the sandbox: the credential is tried with one token request
before anything is stored (a refusal is one line naming the problem and the fix), and a CA bundle
is stored as its content, so no pod needs the file it was read from."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from calbridge.secretbox import SecretBox, parse_secret_keys
from calbridge.store.connection_records import read_connections
from calbridge.store.engine import create_engine
from calbridge.store.migrate import upgrade
from calbridge.store.tables import connections
from calbridge_app.cli import app
from sandbox.graph.client import GraphControl
from sandbox.server import Sandbox

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.running(seed=17) as running:
        yield running


@pytest.fixture
def env(sqlite_url: str, secret_key: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    upgrade(sqlite_url)
    values = {"CALBRIDGE_DATABASE_URL": sqlite_url, "CALBRIDGE_SECRET_KEY": secret_key}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CALBRIDGE_AMQP_URL", raising=False)
    return values


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def secret_file(tmp_path: Path, value: str, name: str = "secret.txt") -> Path:
    path = tmp_path / name
    path.write_text(value + "\n")
    path.chmod(0o600)
    return path


def graph_args(sandbox: Sandbox, secret: Path, *extra: str) -> list[str]:
    ms = sandbox.info.microsoft
    return [
        "connections", "add", "graph", "--tenant", ms["tenant_id"], "--client-id", ms["client_id"],
        "--client-secret-file", str(secret), "--authority", ms["graph_authority"],
        "--graph-url", ms["graph_url"], "--ca-file", str(sandbox.ca_file), *extra,
    ]  # fmt: skip


def stored_names(url: str) -> list[str]:
    async def read() -> list[str]:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return [row.name for row in await conn.execute(sa.select(connections.c.name))]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def one_line_error(code: int, stdout: str, stderr: str, expected_code: int) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == expected_code, (stdout, stderr)
    assert "Traceback" not in stdout + stderr
    assert 1 <= len(lines) <= 3, stderr
    return " ".join(stderr.split())


def test_given_a_wrong_graph_secret_when_added_then_one_line_names_it_and_nothing_is_stored(
    sandbox: Sandbox, env: dict[str, str], tmp_path: Path
) -> None:
    code, out, err = invoke(*graph_args(sandbox, secret_file(tmp_path, "not-the-secret")))
    said = one_line_error(code, out, err, 2)
    assert "AADSTS7000215" in said and "invalid client secret" in said
    assert "Value" in said and "not its Secret ID" in said  # the fix
    assert "--no-verify" in said and "nothing was stored" in said
    assert stored_names(env["CALBRIDGE_DATABASE_URL"]) == []


def test_given_a_wrong_graph_secret_when_added_with_no_verify_then_it_is_stored_untried(
    sandbox: Sandbox, env: dict[str, str], tmp_path: Path
) -> None:
    calls = sandbox.counters.calls_to("graph.token")
    code, out, err = invoke(*graph_args(sandbox, secret_file(tmp_path, "not-the-secret"), "--no-verify"))
    assert code == 0 and "connection graph (graph): added" in out, err
    assert stored_names(env["CALBRIDGE_DATABASE_URL"]) == ["graph"]
    assert sandbox.counters.calls_to("graph.token") == calls  # no token was asked for


@pytest.mark.parametrize(
    ("flag", "value", "names", "fix"),
    [
        ("--tenant", "no-such-tenant", "AADSTS90002", "check --tenant"),
        ("--client-id", "no-such-app", "AADSTS700016", "check --client-id"),
    ],
)
def test_given_an_unknown_tenant_or_app_when_added_then_the_line_says_which(
    sandbox: Sandbox, env: dict[str, str], tmp_path: Path, flag: str, value: str, names: str, fix: str
) -> None:
    args = graph_args(sandbox, secret_file(tmp_path, sandbox.info.microsoft["client_secret"]))
    args[args.index(flag) + 1] = value
    said = one_line_error(*invoke(*args), 2)
    assert names in said and fix in said
    assert stored_names(env["CALBRIDGE_DATABASE_URL"]) == []


def test_given_a_rotated_secret_then_the_old_one_is_refused_on_add_and_the_new_one_is_stored(
    sandbox: Sandbox, env: dict[str, str], tmp_path: Path
) -> None:
    old = sandbox.info.microsoft["client_secret"]
    new = "rotated-secret-for-the-add-check-0123"
    ca = ssl.create_default_context(cafile=str(sandbox.ca_file))

    async def set_secrets(values: list[str]) -> None:
        async with GraphControl(sandbox.info.microsoft["graph_authority"], ca) as control:
            await control.set_app(client_secrets=values)

    asyncio.run(set_secrets([new]))  # PUT /_control/graph/app: the old secret is removed in Entra
    try:
        said = one_line_error(*invoke(*graph_args(sandbox, secret_file(tmp_path, old, "old.txt"))), 2)
        assert "AADSTS7000215" in said
        code, out, err = invoke(*graph_args(sandbox, secret_file(tmp_path, new, "new.txt")))
        assert code == 0 and "added" in out and "credential checked" in err
    finally:
        asyncio.run(set_secrets([old]))
    assert stored_names(env["CALBRIDGE_DATABASE_URL"]) == ["graph"]


def test_given_a_google_key_the_token_endpoint_refuses_when_added_then_one_line_and_nothing_stored(
    sandbox: Sandbox, env: dict[str, str], tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = dict(sandbox.info.google_service_account)
    key["private_key"] = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    path = secret_file(tmp_path, json.dumps(key), "sa.json")
    args = ["connections", "add", "google", "--service-account", str(path)]
    said = one_line_error(*invoke(*args, "--token-uri", sandbox.info.google_token_uri), 2)
    assert "google refused the service account key" in said and "new JSON key" in said
    assert stored_names(env["CALBRIDGE_DATABASE_URL"]) == []


def test_given_an_unreachable_token_endpoint_when_added_then_exit_1_and_nothing_stored(
    env: dict[str, str], tmp_path: Path
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        unused_port = probe.getsockname()[1]
    args = [
        "connections", "add", "graph", "--tenant", "t", "--client-id", "c",
        "--client-secret-file", str(secret_file(tmp_path, "s")),
        "--authority", f"https://127.0.0.1:{unused_port}",
    ]  # fmt: skip
    said = one_line_error(*invoke(*args), 1)
    assert "could not try the credential" in said and "--no-verify" in said
    assert stored_names(env["CALBRIDGE_DATABASE_URL"]) == []


def test_given_a_ca_file_when_added_then_its_content_is_stored_and_used_after_the_file_is_gone(
    sandbox: Sandbox, env: dict[str, str], tmp_path: Path
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text(sandbox.ca_file.read_text())
    args = graph_args(sandbox, secret_file(tmp_path, sandbox.info.microsoft["client_secret"]))
    args[args.index("--ca-file") + 1] = str(ca)
    code, _, err = invoke(*args)
    assert code == 0, err
    ca.unlink()  # another pod: the file is not there

    stored = asyncio.run(_read(env))
    (connection,) = [s.connection for s in stored]
    assert connection is not None and connection.ca_pem == sandbox.ca_file.read_text()
    assert connection.ca_file is not None and Path(connection.ca_file).read_text() == connection.ca_pem
    shown = json.loads(invoke("connections", "show", "graph", "--json")[1])
    assert shown["ca"].startswith("1 certificate(s), sha256 ") and "ca_pem" not in shown
    # ... and the record works without the file: a token over TLS checked against the stored CA
    from calbridge.providers.registry import profile_for

    verify = profile_for(connection.provider).verify_credentials
    assert asyncio.run(verify(connection, 10)) == "a token was issued for the app"


@pytest.mark.parametrize(
    ("content", "names"),
    [(None, "cannot read the CA file"), ("hello", "not PEM"), (b"\x30\x82\x01\xff", "not PEM text")],
)
def test_given_a_ca_file_that_is_missing_or_not_pem_then_one_line_and_nothing_stored(
    env: dict[str, str], tmp_path: Path, content: str | bytes | None, names: str
) -> None:
    ca = tmp_path / "ca.pem"
    if isinstance(content, str):
        ca.write_text(content)
    elif isinstance(content, bytes):
        ca.write_bytes(content)
    args = [
        "connections", "add", "graph", "--tenant", "t", "--client-id", "c",
        "--client-secret-file", str(secret_file(tmp_path, "s")), "--ca-file", str(ca),
    ]  # fmt: skip
    said = one_line_error(*invoke(*args), 2)
    assert names in said and "--ca-file" in said
    assert stored_names(env["CALBRIDGE_DATABASE_URL"]) == []


def test_given_a_record_holding_a_ca_path_then_it_keeps_working_and_the_migration_moves_the_content(
    sandbox: Sandbox, sqlite_url: str, secret_key: str, tmp_path: Path
) -> None:
    """Records saved before the content was stored hold `ca_file`: read while the file exists,
    told as a problem (with the remedy) when it does not, inlined by migration 0009."""
    from alembic import command

    from calbridge.store.migrate import alembic_config

    box = SecretBox(parse_secret_keys(secret_key))
    ca = tmp_path / "old-ca.pem"
    ca.write_text(sandbox.ca_file.read_text())
    upgrade(sqlite_url)

    async def seed(name: str, path: str) -> None:
        engine = create_engine(sqlite_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    connections.insert().values(
                        id=f"id-{name}",
                        provider="graph",
                        name=name,
                        settings={"tenant_id": "t", "client_id": "c", "ca_file": path},
                        secret=box.seal({"client_secret": "s"}),
                    )
                )
        finally:
            await engine.dispose()

    asyncio.run(seed("old", str(ca)))
    asyncio.run(seed("gone", str(tmp_path / "nowhere.pem")))
    found = {s.name: s for s in asyncio.run(_read({"CALBRIDGE_DATABASE_URL": sqlite_url}, box))}
    old = found["old"].connection
    assert old is not None and old.ca_pem == ca.read_text()  # the path still works
    assert found["gone"].problem is not None
    assert "--replace --ca-file" in found["gone"].problem.reason

    config = alembic_config(sqlite_url)
    command.downgrade(config, "0008_pair_meeting_links")
    command.upgrade(config, "head")
    ca.unlink()
    found = {s.name: s for s in asyncio.run(_read({"CALBRIDGE_DATABASE_URL": sqlite_url}, box))}
    migrated = found["old"].connection
    assert migrated is not None and migrated.ca_pem == sandbox.ca_file.read_text()  # no file needed
    assert found["gone"].problem is not None  # left as it was: its file is not here


async def _read(env: dict[str, str], box: SecretBox | None = None) -> list[object]:
    import os

    box = box or SecretBox(parse_secret_keys(os.environ["CALBRIDGE_SECRET_KEY"]))
    engine = create_engine(env["CALBRIDGE_DATABASE_URL"])
    try:
        async with engine.connect() as conn:
            return list(await read_connections(conn, box))
    finally:
        await engine.dispose()


def test_given_the_secret_key_lost_when_the_runbook_is_followed_then_the_connection_works_and_keeps_its_pairs(
    sandbox: Sandbox, env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/operations.md, "A lost or wrong secret key": a new key, `connections list` and `show`
    name the connection nobody can decrypt, `connections add ... --replace` enters it again without
    the old secret, and it keeps its id (so its pairs stay attached)."""
    from cryptography.fernet import Fernet

    secret = secret_file(tmp_path, sandbox.info.microsoft["client_secret"])
    assert invoke(*graph_args(sandbox, secret, "--name", "graph-emea"))[0] == 0
    before = json.loads(invoke("connections", "show", "graph-emea", "--json")[1])["id"]

    # When the key is lost for good: a new one
    monkeypatch.setenv("CALBRIDGE_SECRET_KEY", Fernet.generate_key().decode())
    code, out, err = invoke("connections", "list")
    assert code == 0 and "graph-emea" in out and "cannot be used" in out
    code, out, _ = invoke("connections", "show", "graph-emea")
    flat = " ".join(out.split())
    assert code == 0 and "cannot be decrypted with CALBRIDGE_SECRET_KEY" in flat
    assert "connections add graph --name graph-emea ... --replace" in flat
    code, _, err = invoke(*graph_args(sandbox, secret, "--name", "graph-emea"))  # without --replace
    assert code == 1 and "pass --replace" in err

    code, out, err = invoke(*graph_args(sandbox, secret, "--name", "graph-emea", "--replace"))
    assert code == 0 and "connection graph-emea (graph): replaced" in out, err

    shown = json.loads(invoke("connections", "show", "graph-emea", "--json")[1])
    assert shown["id"] == before and "problem" not in shown
    code, out, err = invoke("connections", "list")
    assert code == 0 and "cannot be used" not in out + err
    code, out, _ = invoke("connections", "rotate-key")
    assert code == 0 and "1 connection secret(s)" in out
