"""The Microsoft identity endpoint as azure-identity uses it, and the bearer check on Graph."""

# ruff: noqa: F811  (pytest fixtures imported from graph_harness are parameters here)

from __future__ import annotations

import asyncio

import httpx
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential as SyncClientSecretCredential
from graph_harness import ALICE, SCOPES, GraphSandbox, graph  # noqa: F401

pytestmark = pytest.mark.integration  # the emulator over HTTPS on loopback


async def test_a_wrong_secret_is_refused_and_the_right_one_gets_a_token(graph: GraphSandbox) -> None:
    with pytest.raises(ClientAuthenticationError) as refused:
        await graph.credential(secret="not-the-secret").get_token(*SCOPES)
    assert "AADSTS7000215" in str(refused.value)

    token = await graph.credential().get_token(*SCOPES)

    assert token.token and token.expires_on > 0
    assert graph.counters.calls[("graph.token", 401)] == 1


async def test_the_sync_credential_discovers_the_token_endpoint_through_openid_metadata(
    graph: GraphSandbox,
) -> None:
    credential = SyncClientSecretCredential(
        graph.world.tenant_id, graph.world.client_id, graph.world.client_secret,
        authority=graph.origin, disable_instance_discovery=True, connection_verify=str(graph.ca_path),
    )  # fmt: skip
    # the sync client blocks: run it off the loop that serves the sandbox
    assert (await asyncio.to_thread(credential.get_token, *SCOPES)).token


async def test_graph_calls_without_a_valid_bearer_token_get_401(graph: GraphSandbox) -> None:
    async with httpx.AsyncClient(verify=graph.client_ssl) as http:
        missing = await http.get(f"{graph.origin}/v1.0/users/{ALICE}/events")
        forged = await http.get(
            f"{graph.origin}/v1.0/users/{ALICE}/events", headers={"Authorization": "Bearer forged"}
        )
    assert (missing.status_code, forged.status_code) == (401, 401)
    assert forged.json()["error"]["code"] == "InvalidAuthenticationToken"
