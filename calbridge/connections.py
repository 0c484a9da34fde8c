"""Connections: calbridge's credential for one tenant of one provider, as typed records.

A record splits into non-secret settings (stored as JSON: tenant, client id, URLs) and secrets
(stored only as Fernet ciphertext: the service-account private key, the client secret, the EWS
password). Validation is pure and its errors say what to fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from calbridge.errors import CalbridgeError
from calbridge.events import Provider

__all__ = [
    "Connection",
    "ConnectionInvalid",
    "EwsAuth",
    "EwsConnection",
    "GoogleConnection",
    "GraphConnection",
    "connection_from_parts",
    "connection_parts",
    "describe",
    "parse_service_account",
    "validate",
]

EwsAuth = Literal["ntlm", "basic", "oauth"]
EWS_AUTHS: tuple[str, ...] = ("ntlm", "basic", "oauth")

# What google-auth's `from_service_account_info` needs, and which of it is secret.
SERVICE_ACCOUNT_REQUIRED = ("client_email", "private_key", "token_uri")
SERVICE_ACCOUNT_SECRET = ("private_key", "private_key_id")


class ConnectionInvalid(CalbridgeError):
    """A connection's settings or credentials are incomplete or malformed; the message says which."""


@dataclass(frozen=True, slots=True)
class GoogleConnection:
    """A Google service account with domain-wide delegation (it acts as each user it syncs)."""

    name: str
    service_account: dict[str, Any] = field(repr=False)  # the key JSON, private key included
    api_endpoint: str | None = None  # full base incl. /calendar/v3/, for non-Google endpoints
    token_uri: str | None = None  # overrides the key's token_uri
    ca_file: str | None = None
    id: str = ""
    provider: Provider = Provider.GOOGLE

    @property
    def client_email(self) -> str:
        return str(self.service_account.get("client_email", ""))

    @property
    def effective_token_uri(self) -> str:
        return self.token_uri or str(self.service_account["token_uri"])

    def service_account_info(self) -> dict[str, Any]:
        """The key JSON for `Credentials.from_service_account_info`, with the token URI override."""
        return {**self.service_account, "token_uri": self.effective_token_uri}


@dataclass(frozen=True, slots=True)
class GraphConnection:
    """A Microsoft Entra app using client credentials against Microsoft Graph."""

    name: str
    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)
    authority: str | None = None  # e.g. https://login.microsoftonline.com (azure-identity default)
    graph_url: str | None = None  # e.g. https://graph.microsoft.com/v1.0
    ca_file: str | None = None
    id: str = ""
    provider: Provider = Provider.GRAPH


@dataclass(frozen=True, slots=True)
class EwsConnection:
    """An Exchange Web Services account that impersonates the mailboxes it syncs.

    `ntlm`/`basic`: `username` + `password` (on-premises Exchange). `oauth`: app-only client
    credentials (`tenant_id`, `client_id`, the client secret in `password`).
    """

    name: str
    auth: EwsAuth
    password: str = field(repr=False)
    url: str | None = None  # None: autodiscover
    username: str | None = None
    autodiscover_url: str | None = None  # a known SOAP Autodiscover endpoint; None: DNS steps
    tenant_id: str | None = None
    client_id: str | None = None
    token_url: str | None = None  # oauth token endpoint override
    ca_file: str | None = None
    id: str = ""
    provider: Provider = Provider.EWS

    @property
    def autodiscover(self) -> bool:
        return self.url is None


Connection = GoogleConnection | GraphConnection | EwsConnection


def _check_url(value: str | None, what: str, *, https: bool = False) -> None:
    if value is None:
        return
    parsed = urlparse(value)
    schemes = ("https",) if https else ("http", "https")
    if parsed.scheme not in schemes or not parsed.netloc:
        raise ConnectionInvalid(f"{what} must be an {' or '.join(schemes)} URL, got {value!r}")


def _check_ca_file(value: str | None) -> None:
    if value is not None and not Path(value).is_file():
        raise ConnectionInvalid(f"CA file {value} does not exist")


def _check_name(name: str) -> None:
    if not name or len(name) > 200 or not all(c.isalnum() or c in "-_." for c in name):
        raise ConnectionInvalid(f"connection name {name!r} must be 1-200 letters, digits, '-', '_' or '.'")


def parse_service_account(text: str, source: str = "the service-account file") -> dict[str, Any]:
    """The key JSON of a service account; ConnectionInvalid naming what is missing."""
    try:
        info = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConnectionInvalid(f"{source} is not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(info, dict):
        raise ConnectionInvalid(f"{source} is not a JSON object")
    if info.get("type", "service_account") != "service_account":
        raise ConnectionInvalid(
            f"{source} is a {info.get('type')!r} key; domain-wide delegation needs a service_account key"
        )
    missing = [key for key in SERVICE_ACCOUNT_REQUIRED if not info.get(key)]
    if missing:
        raise ConnectionInvalid(f"{source} lacks {', '.join(missing)}")
    if "PRIVATE KEY" not in str(info["private_key"]):
        raise ConnectionInvalid(f"{source}: private_key is not a PEM private key")
    return info


def validate(connection: Connection) -> Connection:
    """Return the connection unchanged, or raise ConnectionInvalid saying what to fix."""
    _check_name(connection.name)
    _check_ca_file(connection.ca_file)
    if isinstance(connection, GoogleConnection):
        parse_service_account(json.dumps(connection.service_account))
        _check_url(connection.api_endpoint, "the API endpoint")
        _check_url(connection.token_uri, "the token URI")
        if connection.api_endpoint and not connection.api_endpoint.endswith("/"):
            raise ConnectionInvalid("the API endpoint must end with '/' (e.g. https://host/calendar/v3/)")
    elif isinstance(connection, GraphConnection):
        for value, what in ((connection.tenant_id, "tenant"), (connection.client_id, "client id")):
            if not value.strip():
                raise ConnectionInvalid(f"the {what} is empty")
        if not connection.client_secret:
            raise ConnectionInvalid("the client secret is empty")
        _check_url(connection.authority, "the authority", https=True)  # azure-identity insists
        _check_url(connection.graph_url, "the Graph URL")
    else:
        if connection.auth not in EWS_AUTHS:
            raise ConnectionInvalid(f"EWS auth must be one of {', '.join(EWS_AUTHS)}")
        _check_url(connection.url, "the EWS URL")
        _check_url(connection.autodiscover_url, "the autodiscover URL")
        if connection.url is not None and connection.autodiscover_url is not None:
            raise ConnectionInvalid("give either the EWS URL or an autodiscover URL, not both")
        _check_url(connection.token_url, "the token URL")
        if not connection.password:
            raise ConnectionInvalid("the EWS password (or client secret) is empty")
        if connection.auth == "oauth":
            if not connection.tenant_id or not connection.client_id:
                raise ConnectionInvalid("EWS oauth needs a tenant and a client id")
        elif not connection.username:
            raise ConnectionInvalid(f"EWS {connection.auth} needs a username")
        if connection.url is None and connection.auth == "oauth":
            raise ConnectionInvalid("EWS oauth needs --url (autodiscover needs a username)")
    return connection


def connection_parts(connection: Connection) -> tuple[dict[str, Any], dict[str, Any]]:
    """(non-secret settings, secrets) as stored: settings in JSON, secrets only encrypted."""
    if isinstance(connection, GoogleConnection):
        account = connection.service_account
        public = {k: v for k, v in account.items() if k not in SERVICE_ACCOUNT_SECRET}
        secret = {k: account[k] for k in SERVICE_ACCOUNT_SECRET if k in account}
        settings = {
            "service_account": public,
            "api_endpoint": connection.api_endpoint,
            "token_uri": connection.token_uri,
            "ca_file": connection.ca_file,
        }
        return settings, secret
    if isinstance(connection, GraphConnection):
        settings = {
            "tenant_id": connection.tenant_id,
            "client_id": connection.client_id,
            "authority": connection.authority,
            "graph_url": connection.graph_url,
            "ca_file": connection.ca_file,
        }
        return settings, {"client_secret": connection.client_secret}
    settings = {
        "auth": connection.auth,
        "url": connection.url,
        "username": connection.username,
        "autodiscover_url": connection.autodiscover_url,
        "tenant_id": connection.tenant_id,
        "client_id": connection.client_id,
        "token_url": connection.token_url,
        "ca_file": connection.ca_file,
    }
    return settings, {"password": connection.password}


def connection_from_parts(
    id: str, provider: str, name: str, settings: dict[str, Any], secret: dict[str, Any]
) -> Connection:
    """Rebuild the typed record from a stored row (settings JSON + decrypted secrets)."""
    if provider == Provider.GOOGLE:
        return GoogleConnection(
            id=id,
            name=name,
            service_account={**settings["service_account"], **secret},
            api_endpoint=settings.get("api_endpoint"),
            token_uri=settings.get("token_uri"),
            ca_file=settings.get("ca_file"),
        )
    if provider == Provider.GRAPH:
        return GraphConnection(
            id=id,
            name=name,
            tenant_id=settings["tenant_id"],
            client_id=settings["client_id"],
            client_secret=secret["client_secret"],
            authority=settings.get("authority"),
            graph_url=settings.get("graph_url"),
            ca_file=settings.get("ca_file"),
        )
    if provider == Provider.EWS:
        return EwsConnection(
            id=id,
            name=name,
            auth=settings["auth"],
            password=secret["password"],
            url=settings.get("url"),
            username=settings.get("username"),
            autodiscover_url=settings.get("autodiscover_url"),
            tenant_id=settings.get("tenant_id"),
            client_id=settings.get("client_id"),
            token_url=settings.get("token_url"),
            ca_file=settings.get("ca_file"),
        )
    raise ConnectionInvalid(f"unknown provider {provider!r} in the store")


def describe(connection: Connection) -> dict[str, Any]:
    """What a person may see of a connection: settings, never secrets."""
    settings, _ = connection_parts(connection)
    summary: dict[str, Any] = {
        "id": connection.id,
        "name": connection.name,
        "provider": str(connection.provider),
    }
    if isinstance(connection, GoogleConnection):
        summary["client_email"] = connection.client_email
        summary["token_uri"] = connection.effective_token_uri
        summary["api_endpoint"] = connection.api_endpoint
        summary["ca_file"] = connection.ca_file
    else:
        summary.update({k: v for k, v in settings.items()})
    return summary
