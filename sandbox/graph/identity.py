"""The Microsoft identity platform's part the SDKs use: OIDC metadata and the v2.0 token
endpoint for the client-credentials grant, plus the bearer check on every Graph call."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from sandbox.graph.state import GraphWorld

__all__ = ["bearer_ok", "openid_configuration", "token"]

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


def _aad_error(status: int, error: str, code: int, description: str) -> web.Response:
    now = datetime.now(UTC)
    body = {
        "error": error,
        "error_description": f"AADSTS{code}: {description}\r\nTrace ID: {uuid.uuid4()}\r\n"
        f"Correlation ID: {uuid.uuid4()}\r\nTimestamp: {now:%Y-%m-%d %H:%M:%SZ}",
        "error_codes": [code],
        "timestamp": f"{now:%Y-%m-%d %H:%M:%SZ}",
        "trace_id": str(uuid.uuid4()),
        "correlation_id": str(uuid.uuid4()),
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }
    return web.json_response(body, status=status)


def openid_configuration(world: GraphWorld, origin: str) -> dict[str, Any]:
    base = f"{origin}/{world.tenant_id}"
    return {
        "token_endpoint": f"{base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{origin}/{world.tenant_id}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{origin}/{world.tenant_id}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid"],
        "kerberos_endpoint": f"{base}/kerberos",
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }


async def token(world: GraphWorld, tenant: str, form: Any) -> web.Response:
    if tenant.lower() != world.tenant_id.lower():
        return _aad_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
    if form.get("grant_type") != "client_credentials":
        return _aad_error(
            400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
        )
    if form.get("client_id") != world.client_id:
        return _aad_error(
            400, "unauthorized_client", 700016,
            f"Application with identifier '{form.get('client_id')}' was not found in the directory.",
        )  # fmt: skip
    if not world.accepts_secret(form.get("client_secret")):
        return _aad_error(
            401, "invalid_client", 7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client "
            f"secret value, not the client secret ID, for a secret added to app '{world.client_id}'.",
        )  # fmt: skip
    scopes = str(form.get("scope", "")).split()
    if not any(s.lower().endswith("/.default") for s in scopes):
        return _aad_error(
            400, "invalid_scope", 1002012, "The provided value for scope is not valid. Client credential "
            "flows must have a scope value with /.default suffixed to the resource identifier.",
        )  # fmt: skip
    access = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9." + world.new_hex(32)
    lifetime = int(world.token_lifetime.total_seconds())
    # Real time, not the sandbox clock: SDKs cache tokens by their own clock, so moving the
    # sandbox's time forward (to expire subscriptions) must not invalidate a cached token.
    world.tokens[access] = datetime.now(UTC) + world.token_lifetime
    return web.json_response(
        {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": access}
    )


def bearer_ok(world: GraphWorld, header: str | None) -> str | None:
    """None when the bearer token is valid, else the reason Graph would give."""
    if not header or not header.lower().startswith("bearer "):
        return "Access token is empty."
    expiry = world.tokens.get(header[7:].strip())
    if expiry is None:
        return "IDX14100: JWT is not well formed."
    if expiry <= datetime.now(UTC):
        return "Lifetime validation failed, the token is expired."
    return None
