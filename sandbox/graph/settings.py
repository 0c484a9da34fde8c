"""The world's tunable behaviour, as the control route `GET/PUT /_control/graph/settings` shows
and changes it: Exchange's notification echoes, and the one named kindness for a local demo
(plain-http webhooks on loopback, which real Graph refuses)."""

from __future__ import annotations

from typing import Any

from sandbox.graph.errors import GraphError
from sandbox.graph.state import GraphWorld

__all__ = ["settings_view", "update_settings"]


def settings_view(world: GraphWorld) -> dict[str, Any]:
    return {
        "plainHttpLoopbackWebhooks": world.plain_http_loopback_webhooks,
        "updateEchoes": list(world.update_echoes),
        "createEchoes": list(world.create_echoes),
        "echoDelay": list(world.echo_delay),
    }


def _pair(value: Any, name: str, kind: type[int] | type[float]) -> Any:
    if not isinstance(value, list) or len(value) != 2 or not 0 <= value[0] <= value[1]:
        raise GraphError(400, "BadRequest", f"{name} must be [low, high] with 0 <= low <= high.")
    return (kind(value[0]), kind(value[1]))


def update_settings(world: GraphWorld, body: dict[str, Any]) -> None:
    unknown = set(body) - set(settings_view(world))
    if unknown:
        raise GraphError(400, "BadRequest", f"Unknown settings {sorted(unknown)}.")
    if "plainHttpLoopbackWebhooks" in body:
        world.plain_http_loopback_webhooks = bool(body["plainHttpLoopbackWebhooks"])
    if "updateEchoes" in body:
        world.update_echoes = _pair(body["updateEchoes"], "updateEchoes", int)
    if "createEchoes" in body:
        world.create_echoes = _pair(body["createEchoes"], "createEchoes", int)
    if "echoDelay" in body:
        world.echo_delay = _pair(body["echoDelay"], "echoDelay", float)
