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


async def test_given_a_rotated_secret_then_the_old_one_is_refused_but_its_tokens_live_until_they_expire(
    graph: GraphSandbox,
) -> None:
    old = graph.world.client_secret
    issued = await graph.credential(secret=old).get_token(*SCOPES)

    # An admin adds a second secret (both valid while the new one is rolled out), then removes the old.
    both = await graph.control.set_app(client_secrets=[old, "rotated-secret"])
    assert both["clientSecrets"] == [old, "rotated-secret"]
    assert (await graph.credential(secret=old).get_token(*SCOPES)).token
    app = await graph.control.set_app(client_secrets=["rotated-secret"], token_lifetime_seconds=60)

    with pytest.raises(ClientAuthenticationError) as refused:
        await graph.credential(secret=old).get_token(*SCOPES)
    assert "AADSTS7000215" in str(refused.value)
    fresh = await graph.credential(secret="rotated-secret").get_token(*SCOPES)
    assert app == {"clientSecrets": ["rotated-secret"], "tokenLifetimeSeconds": 60}
    assert fresh.expires_on < issued.expires_on  # issued under the new, shorter lifetime
    async with httpx.AsyncClient(verify=graph.client_ssl) as http:  # a token issued before still works
        listed = await http.get(
            f"{graph.origin}/v1.0/users/{ALICE}/events", headers={"Authorization": f"Bearer {issued.token}"}
        )
    assert listed.status_code == 200


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
