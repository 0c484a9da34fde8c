"""The Microsoft-side emulators the sandbox serves when their packages are present.

Each is `sandbox.<name>.build_<name>_app(world, faults, clock, counters)` with its own world
class; here each world is filled with the sandbox people and the app registration, so the same
users exist on both sides. The imports are guarded: the sandbox runs without them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from sandbox.people import MicrosoftApp, SandboxUser

__all__ = ["MOUNTS", "Mount", "load"]


@dataclass(frozen=True)
class Mount:
    name: str  # also the control prefix: /_control/<name>/
    builder: str
    world_class: str
    populate: Callable[[Any, int, list[SandboxUser], MicrosoftApp], Any]  # (class, seed, users, app)
    endpoints: Callable[[str, MicrosoftApp], dict[str, str]]  # (base URL, app) -> named URLs


def _graph_world(world_class: Any, seed: int, users: list[SandboxUser], app: MicrosoftApp) -> Any:
    world = world_class(
        tenant_id=app.tenant_id, client_id=app.client_id, client_secret=app.client_secret, seed=seed
    )
    for user in users:
        world.add_mailbox(user.email, user.name)
    return world


def _graph_endpoints(base: str, app: MicrosoftApp) -> dict[str, str]:
    return {
        "graph_authority": base,  # azure-identity: authority=<this>, tenant_id=<tenant>
        "graph_url": f"{base}/v1.0",
        "graph_token_url": f"{base}/{app.tenant_id}/oauth2/v2.0/token",
    }


def _ews_world(world_class: Any, seed: int, users: list[SandboxUser], app: MicrosoftApp) -> Any:
    world = world_class(seed=seed)
    for user in users:
        world.add_mailbox(user.email, user.name)
    world.add_oauth_client(app.client_id, app.client_secret)
    world.allow_impersonation(app.client_id, *(u.email for u in users))
    world.add_basic_user(app.service_account, app.service_password)  # Basic and NTLM
    world.allow_impersonation(app.service_account, *(u.email for u in users))
    return world


def _ews_endpoints(base: str, app: MicrosoftApp) -> dict[str, str]:
    return {
        "ews_url": f"{base}/EWS/Exchange.asmx",
        "ews_token_url": f"{base}/ews-login/{app.tenant_id}/oauth2/v2.0/token",
        "ews_username": app.service_account,
        "ews_password": app.service_password,
    }


MOUNTS = (
    Mount("graph", "build_graph_app", "GraphWorld", _graph_world, _graph_endpoints),
    Mount("ews", "build_ews_app", "EwsWorld", _ews_world, _ews_endpoints),
)


def load(mount: Mount) -> tuple[ModuleType, Any] | None:
    """The emulator's module and world class, or None when it is not installed."""
    try:
        module = importlib.import_module(f"sandbox.{mount.name}")
        return module, getattr(module, mount.world_class)
    except (ImportError, AttributeError):
        return None
