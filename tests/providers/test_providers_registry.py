"""A process's registry opens the real adapters for stored connections (here: the sandbox's)."""

from __future__ import annotations

from pathlib import Path

import pytest
from providers_support import ALICE

from calbridge.providers.base import CalendarAddress
from calbridge.providers.ews.adapter import EwsProvider
from calbridge.providers.ews.connection import EwsAuth, EwsConnection
from calbridge.providers.google.adapter import GoogleCalendar
from calbridge.providers.google.connection import GoogleConnection
from calbridge.providers.graph.adapter import GraphCalendar
from calbridge.providers.graph.connection import GraphConnection
from calbridge.providers.registry import Registry
from calbridge.settings import load_settings
from calbridge_app.sandbox_connections import sandbox_connections
from sandbox.client import SandboxControl
from sandbox.server import Sandbox

pytestmark = pytest.mark.integration


async def test_given_sandbox_connections_when_opened_through_the_registry_then_the_adapters_check_access(
    sandbox: Sandbox, control: SandboxControl, tmp_path: Path
) -> None:
    connections = sandbox_connections(sandbox.info.as_json(), "sbx", tmp_path / "ca.pem")
    google = next(c for c in connections if isinstance(c, GoogleConnection))
    graph = next(c for c in connections if isinstance(c, GraphConnection))
    registry = Registry(load_settings())
    opened = [registry.open(google), registry.open(graph), registry.open(graph)]
    try:
        assert isinstance(opened[0], GoogleCalendar) and isinstance(opened[1], GraphCalendar)
        assert opened[1].limits is opened[2].limits  # one mailbox cap per process
        for provider in opened[:2]:
            await provider.check_access(CalendarAddress(ALICE))
    finally:
        for provider in opened:
            await provider.aclose()  # type: ignore[attr-defined]


@pytest.mark.parametrize("auth", ["ntlm", "oauth"])
async def test_given_the_sandboxs_ews_connection_when_opened_through_the_registry_then_it_signs_in(
    sandbox: Sandbox, control: SandboxControl, tmp_path: Path, auth: EwsAuth
) -> None:
    connections = sandbox_connections(sandbox.info.as_json(), "sbx", tmp_path / "ca.pem", ews_auth=auth)
    ews = next(c for c in connections if isinstance(c, EwsConnection))
    assert ews.auth == auth
    provider = Registry(load_settings()).open(ews)
    try:
        assert isinstance(provider, EwsProvider)
        await provider.check_access(CalendarAddress(ALICE))
    finally:
        await provider.aclose()
