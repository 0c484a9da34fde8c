"""The shared RabbitMQ as tests reach it: its management API and throwaway vhosts."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import urllib.error
import urllib.parse
import urllib.request
import uuid

__all__ = ["RABBIT_HOST", "consumers_by_queue", "drop_vhost", "live_connections", "make_vhost", "rabbit_api"]

RABBIT_HOST = os.environ.get("CALBRIDGE_TEST_RABBIT_HOST", "127.0.0.1")
RABBIT_API = f"http://{RABBIT_HOST}:15672/api"


def rabbit_api(method: str, path: str, body: object | None = None) -> object:
    """Call RabbitMQ's management API (loopback only), bounded by a timeout."""
    request = urllib.request.Request(
        f"{RABBIT_API}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": "Basic " + base64.b64encode(b"guest:guest").decode(),
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        payload = response.read()
    return json.loads(payload) if payload else None


def _quoted(vhost: str) -> str:
    return urllib.parse.quote(vhost, safe="")


def consumers_by_queue(vhost: str) -> dict[str, list[str]]:
    """Queue name -> the connection of each of its consumers, as the management API lists them
    (refreshed every statistics interval, ~5 s: poll, never read once)."""
    found: dict[str, list[str]] = {}
    for consumer in rabbit_api("GET", f"/consumers/{_quoted(vhost)}") or []:  # type: ignore[union-attr]
        queue = consumer["queue"]["name"]
        # A consumer whose channel just closed is listed with `channel_details: []` until the next
        # statistics refresh: no live connection holds it (an empty name never is one).
        channel = consumer.get("channel_details") or {}
        found.setdefault(queue, []).append(channel.get("connection_name", ""))
    return found


def live_connections(vhost: str) -> set[str]:
    """Names of the connections open on `vhost` now, as the management API lists them."""
    listed = rabbit_api("GET", f"/vhosts/{_quoted(vhost)}/connections") or []
    return {connection["name"] for connection in listed}  # type: ignore[union-attr]


def make_vhost() -> str:
    name = f"calbridge-test-{uuid.uuid4().hex[:10]}"
    rabbit_api("PUT", f"/vhosts/{name}", {})
    rabbit_api("PUT", f"/permissions/{name}/guest", {"configure": ".*", "write": ".*", "read": ".*"})
    return name


def drop_vhost(name: str) -> None:
    # The broker may be down after a fault test; a leftover empty vhost is harmless.
    with contextlib.suppress(urllib.error.URLError):
        rabbit_api("DELETE", f"/vhosts/{name}")
