"""The Graph client's transport (httpx over aiohttp) and its token cache."""

from __future__ import annotations

import gc
import socket
import time
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from providers_support import ALICE, meeting, stamp

from calbridge.errors import TransientProviderError
from calbridge.providers.base import CalendarAddress
from calbridge.providers.graph.adapter import GraphCalendar
from calbridge.providers.graph.client import CachedToken
from sandbox.client import SandboxControl
from sandbox.server import Sandbox

HERE = CalendarAddress(ALICE)


@dataclass(frozen=True)
class Token:
    token: str
    expires_on: int


class CountingCredential:
    """An inner credential that hands out numbered tokens with a given lifetime."""

    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        self.calls: list[dict[str, Any]] = []
        self.closed = False

    async def get_token(self, *scopes: str, **kwargs: Any) -> Token:
        self.calls.append({"scopes": scopes, **kwargs})
        return Token(f"t{len(self.calls)}", int(time.time() + self.lifetime))

    async def close(self) -> None:
        self.closed = True


async def test_given_a_fresh_token_when_asked_again_then_the_inner_credential_is_not_called() -> None:
    inner = CountingCredential(lifetime=3600)
    cached = CachedToken(inner)
    first = await cached.get_token("scope/.default")
    second = await cached.get_token("scope/.default")
    assert first is second
    assert len(inner.calls) == 1


async def test_given_a_token_inside_the_margin_when_asked_then_a_new_one_is_fetched() -> None:
    inner = CountingCredential(lifetime=60)  # expires within the 300 s margin
    cached = CachedToken(inner)
    first = await cached.get_token("scope/.default")
    second = await cached.get_token("scope/.default")
    assert (first.token, second.token) == ("t1", "t2")


async def test_given_claims_or_another_tenant_when_asked_then_the_cache_is_bypassed() -> None:
    inner = CountingCredential(lifetime=3600)
    cached = CachedToken(inner)
    await cached.get_token("scope/.default")
    challenged = await cached.get_token("scope/.default", claims='{"access_token":{}}')
    other = await cached.get_token("scope/.default", tenant_id="other")
    assert (challenged.token, other.token) == ("t2", "t3")
    assert inner.calls[1]["claims"] and inner.calls[2]["tenant_id"] == "other"
    assert (await cached.get_token("scope/.default")).token == "t1"  # the plain token is kept


async def test_given_different_scopes_when_asked_then_each_has_its_own_token() -> None:
    inner = CountingCredential(lifetime=3600)
    cached = CachedToken(inner)
    assert (await cached.get_token("a")).token != (await cached.get_token("b")).token
    await cached.close()
    assert inner.closed


@asynccontextmanager
async def opened(
    sandbox: Sandbox, graph_url: str | None = None, seconds: float = 10
) -> AsyncIterator[GraphCalendar]:
    adapter = connect(sandbox, graph_url, seconds)
    try:
        yield adapter
    finally:
        await adapter.aclose()


async def write_fails_transiently(adapter: GraphCalendar) -> None:
    with pytest.raises(TransientProviderError):
        await adapter.create(HERE, meeting(), stamp())


def connect(sandbox: Sandbox, graph_url: str | None = None, timeout: float = 10) -> GraphCalendar:
    ms = sandbox.info.microsoft
    return GraphCalendar.connect(
        ms["tenant_id"],
        ms["client_id"],
        ms["client_secret"],
        authority=ms["graph_authority"],
        graph_url=graph_url or ms["graph_url"],
        ca_file=str(sandbox.ca_file),
        timeout=timeout,
    )


@pytest.mark.integration
async def test_given_many_calls_when_sending_then_one_token_is_fetched(
    sandbox: Sandbox, control: SandboxControl
) -> None:
    async with opened(sandbox) as adapter:
        for _ in range(3):
            await adapter.create(HERE, meeting(), stamp())
    calls = {c["operation"]: c["count"] for c in (await control.counters())["calls"]}
    assert calls.get("graph.events.create") == 3
    assert sum(count for name, count in calls.items() if "token" in name) == 1


@pytest.mark.integration
async def test_given_no_server_when_writing_then_transient(sandbox: Sandbox) -> None:
    with socket.socket() as unused:  # a loopback port that nothing listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    async with opened(sandbox, graph_url=f"https://127.0.0.1:{port}/v1.0") as adapter:
        await write_fails_transiently(adapter)


@pytest.mark.integration
async def test_given_a_slow_answer_past_the_timeout_when_writing_then_transient(
    sandbox: Sandbox, control: SandboxControl
) -> None:
    await control.set_fault("graph.events.create", latency=(1.0, 1.0))
    async with opened(sandbox, seconds=0.3) as adapter:
        await write_fails_transiently(adapter)


@pytest.mark.integration
async def test_given_a_used_client_when_closed_then_no_connection_is_left_open(sandbox: Sandbox) -> None:
    adapter = connect(sandbox)
    await adapter.create(HERE, meeting(), stamp())
    await adapter.aclose()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        del adapter
        gc.collect()
    assert not [w for w in caught if "Unclosed" in str(w.message)]
