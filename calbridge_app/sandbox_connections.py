"""The sandbox's connection file as connection records (Google, Graph, and EWS when present).

The file is what `calbridge sandbox --connection-file FILE` writes: `google.service_account`,
`google.api_endpoint`, `google.token_uri`, `microsoft.{tenant_id, client_id, client_secret}`,
`microsoft.{graph_authority, graph_url}` with the Graph emulator, `microsoft.{ews_url,
ews_token_url, ews_username, ews_password}` with the EWS emulator, and `ca_pem` (the CA of its
HTTPS endpoints).

The EWS connection authenticates as `connections add ews` does by default, with NTLM as the
emulator's service account, so that the default path is the one the sandbox exercises; Basic
(the same account) and OAuth (the app registration, as Exchange Online wants) are a choice away.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from calbridge.connections import Connection
from calbridge.errors import CalbridgeError
from calbridge.providers.ews.connection import EwsAuth, EwsConnection
from calbridge.providers.google.connection import GoogleConnection
from calbridge.providers.graph.connection import GraphConnection

__all__ = ["SandboxFileInvalid", "sandbox_connections"]


class SandboxFileInvalid(CalbridgeError):
    """The connection file lacks something a connection needs."""


def _need(section: dict[str, Any], key: str, where: str) -> Any:
    value = section.get(key)
    if not value:
        raise SandboxFileInvalid(f"{where}.{key} is missing")
    return value


def sandbox_connections(
    data: dict[str, Any], prefix: str, ca_path: Path, *, ews_auth: EwsAuth = "ntlm"
) -> list[Connection]:
    """The connections the file describes, the EWS one authenticating with `ews_auth`; writes
    its CA to `ca_path` when it has one."""
    google = data.get("google")
    microsoft = data.get("microsoft")
    if not isinstance(google, dict) or not isinstance(microsoft, dict):
        raise SandboxFileInvalid("it has no google and microsoft sections; is it a sandbox connection file?")
    ca_pem: str | None = None
    if data.get("ca_pem"):
        ca_pem = str(data["ca_pem"])
        ca_path.write_text(ca_pem)  # for curl and the like; the connections hold the content
    found: list[Connection] = [
        GoogleConnection(
            name=f"{prefix}-google",
            service_account=dict(_need(google, "service_account", "google")),
            api_endpoint=_need(google, "api_endpoint", "google"),
            token_uri=google.get("token_uri"),
            ca_pem=ca_pem,
        )
    ]
    tenant = _need(microsoft, "tenant_id", "microsoft")
    client_id = _need(microsoft, "client_id", "microsoft")
    secret = _need(microsoft, "client_secret", "microsoft")
    if microsoft.get("graph_url"):
        found.append(
            GraphConnection(
                name=f"{prefix}-graph",
                tenant_id=tenant,
                client_id=client_id,
                client_secret=secret,
                authority=microsoft.get("graph_authority"),
                graph_url=microsoft["graph_url"],
                ca_pem=ca_pem,
            )
        )
    if microsoft.get("ews_url"):
        found.append(_ews(microsoft, f"{prefix}-ews", ews_auth, ca_pem))
    return found


def _ews(microsoft: dict[str, Any], name: str, auth: EwsAuth, ca_pem: str | None) -> EwsConnection:
    if auth == "oauth":
        return EwsConnection(
            name=name,
            auth="oauth",
            password=_need(microsoft, "client_secret", "microsoft"),
            url=microsoft["ews_url"],
            tenant_id=_need(microsoft, "tenant_id", "microsoft"),
            client_id=_need(microsoft, "client_id", "microsoft"),
            token_url=microsoft.get("ews_token_url"),
            ca_pem=ca_pem,
        )
    return EwsConnection(
        name=name,
        auth=auth,
        username=_need(microsoft, "ews_username", "microsoft"),
        password=_need(microsoft, "ews_password", "microsoft"),
        url=microsoft["ews_url"],
        ca_pem=ca_pem,
    )
