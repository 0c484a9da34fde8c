"""`calbridge connections ...`: provider credentials, stored with their secrets encrypted.

Secrets are read from files or environment variables, never from the command line (where shell
history and `ps` would keep them) and never printed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from calbridge_app.cli.common import console, err_console, fail, run, settings_or_exit

if TYPE_CHECKING:
    from calbridge.connections import Connection
    from calbridge.settings import Settings
    from calbridge.store.connection_records import StoredConnection

app = typer.Typer(help="Provider credentials (Google, Graph, EWS), stored encrypted.", no_args_is_help=True)
add_app = typer.Typer(help="Add a connection.", no_args_is_help=True)
app.add_typer(add_app, name="add")

NameOption = Annotated[str | None, typer.Option("--name", help="Connection name (default: the provider).")]
CaOption = Annotated[
    Path | None,
    typer.Option(
        "--ca-file",
        help="CA bundle (PEM) for non-public endpoints (e.g. the sandbox); its content is stored.",
    ),
]
NoVerifyOption = Annotated[
    bool,
    typer.Option(
        "--no-verify", help="Store the credential without trying it (by default: one token request first)."
    ),
]
ReplaceOption = Annotated[
    bool, typer.Option("--replace", help="Update an existing connection of this name (keeps its pairs).")
]


def read_secret(file: Path | None, env: str | None, what: str, file_flag: str, env_flag: str) -> str:
    """A secret from exactly one of a file or an environment variable, trailing newline removed."""
    if (file is None) == (env is None):
        fail(f"give the {what} with exactly one of {file_flag} FILE or {env_flag} VARIABLE")
    if file is not None:
        try:
            value = file.read_text().rstrip("\r\n")
            shared = file.stat().st_mode & 0o077
        except OSError as exc:
            fail(f"cannot read the {what} from {file}: {exc.strerror}")
        if shared:
            err_console.print(
                f"[yellow]warning:[/] {file} is readable by other users; `chmod 600 {file}`", highlight=False
            )
    else:
        assert env is not None
        value = os.environ.get(env, "")
        if not value:
            fail(f"the environment variable {env} (the {what}) is not set or empty")
    if not value:
        fail(f"the {what} is empty")
    return value


def _ca(path: Path | None) -> str | None:
    """The CA bundle's PEM text, read now: the store keeps the content, so no pod needs the file."""
    from calbridge.connections import ConnectionInvalid
    from calbridge.providers.ca import read_ca_file

    if path is None:
        return None
    try:
        return read_ca_file(path)
    except ConnectionInvalid as exc:
        fail(f"{exc}; give --ca-file the PEM bundle of the CA that signed the endpoint's certificate", 2)


async def _save(settings: Settings, connection: Connection, replace: bool) -> None:
    from calbridge.store.connection_records import save_connection
    from calbridge_app.cli.context import open_engine, secretbox

    box = secretbox(settings)
    async with open_engine(settings) as engine, engine.begin() as conn:
        saved, outcome = await save_connection(conn, box, connection, replace=replace)
    console.print(f"connection [bold]{saved.name}[/] ({saved.provider}): {outcome}", highlight=False)


def _store(connection: Connection, replace: bool, no_verify: bool) -> None:
    from calbridge.connections import ConnectionInvalid, validate
    from calbridge.errors import ConfigurationError
    from calbridge_app.cli.common import check_store
    from calbridge_app.cli.context import secretbox

    settings = settings_or_exit()
    try:
        validate(connection)
        secretbox(settings)  # a missing or malformed key is said before anything is tried
    except ConnectionInvalid as exc:
        fail(str(exc), 2)
    except ConfigurationError as exc:
        fail(str(exc), 2)
    if not no_verify:
        run(check_store(settings))  # a store that cannot take it is said before any provider call
        _verify_or_exit(connection, settings)
    try:
        run(_save(settings, connection, replace))
    except ConnectionInvalid as exc:
        fail(str(exc))


async def _awaited(pending: Awaitable[str]) -> str:
    return await pending


def _verify_or_exit(connection: Connection, settings: Settings) -> None:
    """Try the credential once (the provider's profile says how); a refusal exits 2 naming the
    problem and the fix, an endpoint that cannot be reached exits 1; nothing is stored then."""
    from calbridge.errors import AccessDenied, ProviderError
    from calbridge.providers.registry import profile_for

    verify = profile_for(connection.provider).verify_credentials
    unchecked = "nothing was stored (--no-verify stores it without trying)"
    try:
        proven: str = run(_awaited(verify(connection, settings.provider_timeout)))
    except AccessDenied as exc:
        fail(f"the credential was refused: {exc}; {unchecked}", 2)
    except ProviderError as exc:
        fail(f"could not try the credential: {exc}; {unchecked}", 1)
    err_console.print(f"credential checked: {proven}", highlight=False, markup=False)


@add_app.command("google")
def add_google(
    service_account: Annotated[
        Path,
        typer.Option("--service-account", help="The service account's JSON key (domain-wide delegation)."),
    ],
    name: NameOption = None,
    api_endpoint: Annotated[
        str | None, typer.Option("--api-endpoint", help="Calendar API base incl. /calendar/v3/ (non-Google).")
    ] = None,
    token_uri: Annotated[
        str | None, typer.Option("--token-uri", help="Override the key's token_uri.")
    ] = None,
    ca_file: CaOption = None,
    replace: ReplaceOption = False,
    no_verify: NoVerifyOption = False,
    gmail_settings: Annotated[
        bool,
        typer.Option(
            "--gmail-settings",
            help="The admin also delegated gmail.settings.basic: out of office is read from and "
            "mirrored to Gmail's vacation responder.",
        ),
    ] = False,
) -> None:
    """Add a Google service account that acts for each user through domain-wide delegation."""
    from calbridge.connections import ConnectionInvalid
    from calbridge.providers.google.connection import GoogleConnection, parse_service_account

    try:
        info = parse_service_account(
            service_account.read_text(), f"the service-account file {service_account}"
        )
    except OSError as exc:
        fail(f"cannot read {service_account}: {exc.strerror}")
    except ConnectionInvalid as exc:
        fail(str(exc))
    connection = GoogleConnection(
        name=name or "google",
        service_account=info,
        api_endpoint=api_endpoint,
        token_uri=token_uri,
        ca_pem=_ca(ca_file),
        gmail_settings=gmail_settings,
    )
    _store(connection, replace, no_verify)


@add_app.command("graph")
def add_graph(
    tenant: Annotated[str, typer.Option("--tenant", help="Directory (tenant) id or domain.")],
    client_id: Annotated[str, typer.Option("--client-id", help="Application (client) id.")],
    client_secret_file: Annotated[
        Path | None, typer.Option("--client-secret-file", help="File holding the client secret.")
    ] = None,
    client_secret_env: Annotated[
        str | None,
        typer.Option("--client-secret-env", help="Environment variable holding the client secret."),
    ] = None,
    name: NameOption = None,
    authority: Annotated[
        str | None, typer.Option("--authority", help="Login authority (https), if not Microsoft's.")
    ] = None,
    graph_url: Annotated[
        str | None, typer.Option("--graph-url", help="Graph base URL incl. /v1.0, if not Microsoft's.")
    ] = None,
    ca_file: CaOption = None,
    replace: ReplaceOption = False,
    no_verify: NoVerifyOption = False,
) -> None:
    """Add a Microsoft Entra app that uses client credentials against Microsoft Graph."""
    from calbridge.providers.graph.connection import GraphConnection

    secret = read_secret(
        client_secret_file, client_secret_env, "client secret", "--client-secret-file", "--client-secret-env"
    )
    connection = GraphConnection(
        name=name or "graph",
        tenant_id=tenant,
        client_id=client_id,
        client_secret=secret,
        authority=authority,
        graph_url=graph_url,
        ca_pem=_ca(ca_file),
    )
    _store(connection, replace, no_verify)


@add_app.command("ews")
def add_ews(
    url: Annotated[str | None, typer.Option("--url", help="EWS endpoint (…/EWS/Exchange.asmx).")] = None,
    autodiscover: Annotated[
        bool,
        typer.Option(
            "--autodiscover", help="Find each mailbox's endpoint by autodiscover (the default without --url)."
        ),
    ] = False,
    autodiscover_url: Annotated[
        str | None,
        typer.Option(
            "--autodiscover-url",
            help="A known SOAP Autodiscover endpoint (…/autodiscover/autodiscover.svc); "
            "default: the DNS steps of the mailbox's domain.",
        ),
    ] = None,
    username: Annotated[str | None, typer.Option("--username", help="Service account (ntlm/basic).")] = None,
    password_file: Annotated[
        Path | None, typer.Option("--password-file", help="File holding the password (oauth: client secret).")
    ] = None,
    password_env: Annotated[
        str | None, typer.Option("--password-env", help="Environment variable holding the password.")
    ] = None,
    auth: Annotated[str, typer.Option("--auth", help="ntlm | basic | oauth.")] = "ntlm",
    tenant: Annotated[str | None, typer.Option("--tenant", help="oauth: the tenant id.")] = None,
    client_id: Annotated[str | None, typer.Option("--client-id", help="oauth: the application id.")] = None,
    token_url: Annotated[
        str | None, typer.Option("--token-url", help="oauth: token endpoint override.")
    ] = None,
    name: NameOption = None,
    ca_file: CaOption = None,
    replace: ReplaceOption = False,
    no_verify: NoVerifyOption = False,
) -> None:
    """Add an Exchange Web Services account that impersonates the mailboxes it syncs."""
    from calbridge.providers.ews.connection import EWS_AUTHS, EwsConnection

    if auth not in EWS_AUTHS:
        fail(f"--auth must be one of {', '.join(EWS_AUTHS)}")
    if url is not None and (autodiscover or autodiscover_url is not None):
        fail("give either --url URL or autodiscover (--autodiscover, --autodiscover-url), not both")
    secret = read_secret(password_file, password_env, "password", "--password-file", "--password-env")
    connection = EwsConnection(
        name=name or "ews",
        auth=auth,  # type: ignore[arg-type]
        password=secret,
        url=url,
        username=username,
        autodiscover_url=autodiscover_url,
        tenant_id=tenant,
        client_id=client_id,
        token_url=token_url,
        ca_pem=_ca(ca_file),
    )
    _store(connection, replace, no_verify)


@app.command("add-sandbox")
def add_sandbox(
    connection_file: Annotated[
        Path, typer.Option("--connection-file", help="The file `calbridge sandbox --connection-file` wrote.")
    ],
    prefix: Annotated[
        str, typer.Option("--prefix", help="Names become PREFIX-google, PREFIX-graph, ...")
    ] = "sandbox",
    ews_auth: Annotated[
        str, typer.Option("--ews-auth", help="How the EWS connection signs in: ntlm | basic | oauth.")
    ] = "ntlm",
) -> None:
    """Register the sandbox's Google, Graph (and EWS, when present) connections in one step.

    Safe to repeat: a restarted sandbox (new CA, new key) updates the same connections in place."""
    from calbridge.providers.ews.connection import EWS_AUTHS
    from calbridge_app.sandbox_connections import SandboxFileInvalid, sandbox_connections

    if ews_auth not in EWS_AUTHS:
        fail(f"--ews-auth must be one of {', '.join(EWS_AUTHS)}")
    settings = settings_or_exit()
    try:
        data = json.loads(connection_file.read_text())
    except OSError as exc:
        fail(f"cannot read {connection_file}: {exc.strerror}")
    except json.JSONDecodeError as exc:
        fail(f"{connection_file} is not JSON ({exc.msg})")
    try:
        found = sandbox_connections(
            data,
            prefix,
            connection_file.resolve().parent / f"{prefix}-ca.pem",
            ews_auth=ews_auth,  # type: ignore[arg-type]
        )
    except SandboxFileInvalid as exc:
        fail(f"{connection_file}: {exc}")
    run(_save_all(settings, found))


async def _save_all(settings: Settings, found: list[Connection]) -> None:
    from calbridge.store.connection_records import save_connection
    from calbridge_app.cli.context import open_engine, secretbox

    box = secretbox(settings)
    async with open_engine(settings) as engine, engine.begin() as conn:
        for connection in found:
            saved, outcome = await save_connection(conn, box, connection, replace=True)
            console.print(f"connection [bold]{saved.name}[/] ({saved.provider}): {outcome}", highlight=False)


async def _load(settings: Settings, name: str | None) -> list[StoredConnection]:
    """The stored connections (or the one named), each opened on its own: one whose secret this
    key cannot decrypt comes back with its problem instead of failing the whole list."""
    from calbridge.store.connection_records import ConnectionNotFound, read_connections
    from calbridge_app.cli.context import open_engine, secretbox

    box = secretbox(settings)
    async with open_engine(settings) as engine, engine.connect() as conn:
        found = await read_connections(conn, box)
    if name is None:
        return found
    named = [s for s in found if name in (s.name, s.id)]
    if not named:
        raise ConnectionNotFound(f"no connection named {name!r} (see `calbridge connections list`)")
    return named[:1]


def _describe(stored: StoredConnection) -> dict[str, Any]:
    from calbridge.connections import describe

    if stored.connection is None:
        assert stored.problem is not None
        problem = stored.problem.reason
        return {"id": stored.id, "name": stored.name, "provider": stored.provider, "problem": problem}
    return describe(stored.connection)


@app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """List connections (settings only; secrets are never shown)."""
    settings = settings_or_exit()
    found = run(_load(settings, None))
    if as_json:
        typer.echo(json.dumps([_describe(c) for c in found], indent=2))
        return
    if not found:
        console.print("no connections yet: add one with `calbridge connections add google|graph|ews`")
        return
    table = Table("name", "provider", "identity", "endpoint", box=None, pad_edge=False)
    for stored in found:
        if stored.connection is None:
            table.add_row(stored.name, stored.provider, "[red]cannot be used[/]", "-")
            continue
        connection = stored.connection
        table.add_row(stored.name, stored.provider, connection.identity, connection.endpoint or "(default)")
    console.print(table)
    for stored in found:
        if stored.problem is not None:
            err_console.print(f"[red]{stored.problem.reason}[/]", highlight=False)


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Connection name or id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show one connection's settings (never its secrets)."""
    from calbridge.store.connection_records import ConnectionNotFound

    settings = settings_or_exit()
    try:
        (stored,) = run(_load(settings, name))
    except ConnectionNotFound as exc:
        fail(str(exc))
    info = _describe(stored)
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    table = Table(box=None, show_header=False, pad_edge=False)
    for key, value in info.items():
        table.add_row(key, "" if value is None else str(value))
    if stored.problem is None:
        table.add_row("secret", "stored encrypted")
    console.print(table)


@app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="Connection name or id.")]) -> None:
    """Remove a connection that no pair uses."""
    from calbridge.store.connection_records import ConnectionInUse, ConnectionNotFound, remove_connection
    from calbridge_app.cli.context import open_engine

    settings = settings_or_exit()

    async def go() -> None:
        async with open_engine(settings) as engine, engine.begin() as conn:
            await remove_connection(conn, name)

    try:
        run(go())
    except (ConnectionNotFound, ConnectionInUse) as exc:
        fail(str(exc))
    console.print(f"connection [bold]{name}[/] removed", highlight=False)


@app.command("generate-key")
def generate_key() -> None:
    """Print a new key for CALBRIDGE_SECRET_KEY (keep it in your secret store, not in the shell history)."""
    from calbridge.secretbox import generate_key as make

    typer.echo(make())


@app.command("rotate-key")
def rotate_key() -> None:
    """Re-encrypt every stored secret with the first key of CALBRIDGE_SECRET_KEY.

    Rotation: put the new key first (NEW,OLD), run this, then drop OLD."""
    from calbridge.store.connection_records import rotate_connection_secrets
    from calbridge_app.cli.context import open_engine, secretbox

    settings = settings_or_exit()

    async def go() -> int:
        box = secretbox(settings)
        async with open_engine(settings) as engine, engine.begin() as conn:
            return await rotate_connection_secrets(conn, box)

    console.print(f"{run(go())} connection secret(s) re-encrypted with the first key")
