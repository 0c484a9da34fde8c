"""Connections: secrets only as ciphertext in the store (both engines), clear errors for a missing
or malformed key and for incomplete credentials, idempotent add, key rotation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from pair_fakes import CLIENT_SECRET, private_key_pem, service_account
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.connections import ConnectionInvalid, validate
from calbridge.errors import ConfigurationError
from calbridge.events import Provider
from calbridge.providers.ews.connection import EwsConnection
from calbridge.providers.google.connection import GoogleConnection, parse_service_account
from calbridge.providers.graph.connection import GraphConnection
from calbridge.secretbox import SecretBox, open_secretbox, parse_secret_keys
from calbridge.settings import load_settings
from calbridge.store.connection_records import (
    ConnectionInUse,
    Saved,
    get_connection,
    list_connections,
    remove_connection,
    rotate_connection_secrets,
    save_connection,
)
from calbridge.store.tables import calendars, connections
from calbridge_app.sandbox_connections import SandboxFileInvalid, sandbox_connections

KEY_BODY = private_key_pem().splitlines()[1]  # a line of the private key's base64


@pytest.mark.integration
async def test_given_connections_saved_then_the_store_holds_no_secret_in_plain_text(
    engine: AsyncEngine, box: SecretBox
) -> None:
    async with engine.begin() as conn:
        await save_connection(conn, box, GoogleConnection(name="google", service_account=service_account()))
        await save_connection(
            conn,
            box,
            GraphConnection(name="graph", tenant_id="t", client_id="c", client_secret=CLIENT_SECRET),
        )
        await save_connection(
            conn,
            box,
            EwsConnection(
                name="ews",
                auth="ntlm",
                password="ews-password-42",
                url="https://mail.example.com/EWS/Exchange.asmx",
                username="svc",
            ),
        )
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(connections))).all()
        restored = {c.name: c for c in await list_connections(conn, box)}
    stored = repr(rows)
    for secret in (KEY_BODY, CLIENT_SECRET, "ews-password-42"):
        assert secret not in stored
    assert all(row.secret.startswith(b"gAAAAA") for row in rows)  # Fernet tokens
    # ... and it all comes back intact
    google = restored["google"]
    assert isinstance(google, GoogleConnection) and google.service_account["private_key"] == private_key_pem()
    graph = restored["graph"]
    assert isinstance(graph, GraphConnection) and graph.client_secret == CLIENT_SECRET
    # the non-secret settings stay readable JSON for operators
    assert json.loads(json.dumps(rows[0].settings))


async def test_given_no_secret_key_then_the_error_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CALBRIDGE_SECRET_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="CALBRIDGE_SECRET_KEY is not set"):
        open_secretbox(load_settings())


def test_given_a_malformed_secret_key_then_settings_refuse_it_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CALBRIDGE_SECRET_KEY", "not-a-fernet-key-hunter2")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert "CALBRIDGE_SECRET_KEY" in str(caught.value) and "hunter2" not in str(caught.value)


async def test_given_a_secret_under_an_old_key_when_rotated_then_only_the_new_key_is_needed(
    engine: AsyncEngine,
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    async with engine.begin() as conn:
        await save_connection(
            conn,
            SecretBox(parse_secret_keys(old)),
            GraphConnection(name="graph", tenant_id="t", client_id="c", client_secret=CLIENT_SECRET),
        )
        assert await rotate_connection_secrets(conn, SecretBox(parse_secret_keys(f"{new},{old}"))) == 1
    async with engine.connect() as conn:
        graph = await get_connection(conn, SecretBox(parse_secret_keys(new)), "graph")
        assert isinstance(graph, GraphConnection) and graph.client_secret == CLIENT_SECRET
        with pytest.raises(ConfigurationError, match="cannot be decrypted"):
            await get_connection(conn, SecretBox(parse_secret_keys(old)), "graph")


async def test_adding_the_same_connection_twice_changes_nothing_and_other_settings_need_replace(
    engine: AsyncEngine, box: SecretBox
) -> None:
    graph = GraphConnection(name="graph", tenant_id="t", client_id="c", client_secret=CLIENT_SECRET)
    async with engine.begin() as conn:
        first, outcome = await save_connection(conn, box, graph)
        assert outcome is Saved.ADDED
        assert (await save_connection(conn, box, graph))[1] is Saved.UNCHANGED
        rotated = GraphConnection(name="graph", tenant_id="t", client_id="c", client_secret="a-new-secret")
        with pytest.raises(ConnectionInvalid, match="--replace"):
            await save_connection(conn, box, rotated)
        replaced, outcome = await save_connection(conn, box, rotated, replace=True)
    assert outcome is Saved.REPLACED and replaced.id == first.id


async def test_a_connection_used_by_a_calendar_cannot_be_removed(engine: AsyncEngine, box: SecretBox) -> None:
    async with engine.begin() as conn:
        graph, _ = await save_connection(
            conn,
            box,
            GraphConnection(name="graph", tenant_id="t", client_id="c", client_secret=CLIENT_SECRET),
        )
        await conn.execute(
            calendars.insert().values(
                id="cal1", connection_id=graph.id, provider="graph", owner="a@b.c", calendar="primary"
            )
        )
        with pytest.raises(ConnectionInUse, match="used by 1 calendar"):
            await remove_connection(conn, "graph")
        await conn.execute(calendars.delete())
        assert await remove_connection(conn, "graph") == graph.id


@pytest.mark.parametrize(
    ("info", "missing"),
    [
        ({"type": "service_account", "private_key": "x", "token_uri": "https://t"}, "client_email"),
        ({"type": "service_account", "client_email": "a@b", "token_uri": "https://t"}, "private_key"),
        ({"client_email": "a@b"}, "private_key, token_uri"),
    ],
)
def test_a_service_account_file_missing_fields_names_them(info: dict[str, str], missing: str) -> None:
    with pytest.raises(ConnectionInvalid, match=f"lacks {missing}$"):
        parse_service_account(json.dumps(info))


@pytest.mark.parametrize(
    ("connection", "message"),
    [
        (
            GraphConnection(
                name="g", tenant_id="t", client_id="c", client_secret="s", authority="http://login"
            ),
            "https",
        ),
        (GraphConnection(name="g", tenant_id=" ", client_id="c", client_secret="s"), "tenant"),
        (
            GraphConnection(name="has space", tenant_id="t", client_id="c", client_secret="s"),
            "connection name",
        ),
        (
            EwsConnection(name="e", auth="ntlm", password="p", url="https://x/EWS/Exchange.asmx"),
            "needs a username",
        ),
        (EwsConnection(name="e", auth="oauth", password="p", url="https://x/EWS/Exchange.asmx"), "tenant"),
        (
            GoogleConnection(
                name="g", service_account=service_account(), api_endpoint="http://h/calendar/v3"
            ),
            "end with '/'",
        ),
        (
            GoogleConnection(name="g", service_account=service_account(), ca_pem="not a certificate"),
            "not PEM",
        ),
    ],
)
def test_invalid_connections_say_what_to_fix(
    connection: GoogleConnection | GraphConnection | EwsConnection, message: str
) -> None:
    with pytest.raises(ConnectionInvalid, match=message):
        validate(connection)


def test_the_sandbox_file_gives_google_graph_and_ews_connections(tmp_path: Path) -> None:
    data = {
        "google": {
            "api_endpoint": "http://127.0.0.1:9001/calendar/v3/",
            "token_uri": "http://127.0.0.1:9001/token",
            "service_account": service_account(),
        },
        "microsoft": {
            "tenant_id": "tenant",
            "client_id": "client",
            "client_secret": "secret",
            "graph_authority": "https://127.0.0.1:9002",
            "graph_url": "https://127.0.0.1:9002/v1.0",
            "ews_url": "https://127.0.0.1:9003/EWS/Exchange.asmx",
            "ews_token_url": "https://127.0.0.1:9003/ews-login/tenant/oauth2/v2.0/token",
            "ews_username": "svc@example.com",
            "ews_password": "service-password",
        },
        "ca_pem": "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n",
    }
    found = sandbox_connections(data, "sandbox", tmp_path / "ca.pem")
    assert [(c.name, c.provider.value) for c in found] == [
        ("sandbox-google", "google"),
        ("sandbox-graph", "graph"),
        ("sandbox-ews", "ews"),
    ]
    assert (tmp_path / "ca.pem").read_text() == data["ca_pem"]  # beside the file, for curl
    for connection in found:
        assert connection.ca_pem == data["ca_pem"]  # the content travels with the connection
    google = found[0]
    assert isinstance(google, GoogleConnection)
    assert google.service_account_info()["token_uri"] == "http://127.0.0.1:9001/token"
    # EWS as `connections add ews` does by default: NTLM as the service account
    ews = found[2]
    assert isinstance(ews, EwsConnection)
    assert (ews.auth, ews.username, ews.password) == ("ntlm", "svc@example.com", "service-password")
    oauth = sandbox_connections(data, "sandbox", tmp_path / "ca.pem", ews_auth="oauth")[2]
    assert isinstance(oauth, EwsConnection)
    assert (oauth.auth, oauth.client_id, oauth.tenant_id, oauth.password) == (
        "oauth",
        "client",
        "tenant",
        "secret",
    )
    assert oauth.token_url == "https://127.0.0.1:9003/ews-login/tenant/oauth2/v2.0/token"


def test_a_sandbox_file_without_an_ews_service_account_names_what_is_missing(tmp_path: Path) -> None:
    data = {
        "google": {
            "api_endpoint": "http://127.0.0.1:9001/calendar/v3/",
            "service_account": service_account(),
        },
        "microsoft": {
            "tenant_id": "t",
            "client_id": "c",
            "client_secret": "s",
            "ews_url": "https://127.0.0.1:9003/EWS/Exchange.asmx",
        },
    }
    with pytest.raises(SandboxFileInvalid, match=r"microsoft\.ews_username is missing"):
        sandbox_connections(data, "sandbox", tmp_path / "ca.pem")
    assert (
        sandbox_connections(data, "sandbox", tmp_path / "ca.pem", ews_auth="oauth")[-1].provider
        == Provider.EWS
    )
