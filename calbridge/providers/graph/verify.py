"""Try a Graph connection's credential with one token request, as `connections add` does.

The client-credentials grant against the connection's tenant is the cheapest call that proves
the tenant, the client id and the secret together; Entra ID's AADSTS code says which of them is
wrong, and the answer names what to change (a secret's *Value*, not its *Secret ID*, is the
usual mistake).
"""

from __future__ import annotations

import asyncio
import logging

from calbridge.connections import Connection
from calbridge.errors import CredentialRefused, TransientProviderError
from calbridge.providers.graph.client import SCOPES
from calbridge.providers.graph.connection import GraphConnection
from calbridge.providers.graph.errors import CREDENTIAL_CODES, token_refusal

__all__ = ["FIXES", "verify_graph"]

# What to change when Entra ID refuses the credential, by AADSTS code.
FIXES = {
    "7000215": "give the secret's Value from Entra ID (App registrations > Certificates & secrets), "
    "not its Secret ID, with --client-secret-file or --client-secret-env",
    "7000222": "create a new client secret for the app in Entra ID and give its Value",
    "700016": "check --client-id (the app's Application (client) ID) and that the app is registered in "
    "--tenant",
    "90002": "check --tenant (the Directory (tenant) ID or the tenant's domain)",
}


async def verify_graph(connection: Connection, seconds: float) -> str:
    """Request one token with the connection's credential; raise CredentialRefused (naming the
    problem and the fix), AccessDenied or TransientProviderError, or say what was proven."""
    from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
    from azure.identity.aio import ClientSecretCredential

    assert isinstance(connection, GraphConnection)
    extra: dict[str, object] = {}
    if connection.authority:
        extra.update(authority=connection.authority, disable_instance_discovery=True)
    if connection.ca_file:
        extra["connection_verify"] = connection.ca_file
    credential = ClientSecretCredential(
        connection.tenant_id, connection.client_id, connection.client_secret, **extra
    )
    # azure-identity logs each refusal as a warning of many lines; the refusal is raised below.
    quiet = logging.getLogger("azure.identity")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        async with credential:
            await asyncio.wait_for(credential.get_token(*SCOPES), seconds)
    except ClientAuthenticationError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if isinstance(status, int) and status >= 500:
            raise TransientProviderError(f"the microsoft token endpoint failed ({status})") from None
        refusal = token_refusal(str(exc))
        code = next((c for c in CREDENTIAL_CODES if f"AADSTS{c}:" in str(exc)), None)
        if code is not None:
            raise CredentialRefused(f"{refusal}: {FIXES[code]}") from None
        raise refusal from None
    except TimeoutError:
        raise TransientProviderError(
            f"the microsoft token endpoint did not answer in {seconds:g} s"
        ) from None
    except ServiceRequestError as exc:
        raise TransientProviderError(
            f"cannot reach the microsoft token endpoint: {_first_line(exc)}"
        ) from None
    finally:
        quiet.setLevel(level)
    return "a token was issued for the app"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__
