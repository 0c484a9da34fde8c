"""The shared RabbitMQ as tests reach it: its management API and throwaway vhosts."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import urllib.error
import urllib.request
import uuid

__all__ = ["RABBIT_HOST", "drop_vhost", "make_vhost", "rabbit_api"]

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


def make_vhost() -> str:
    name = f"calbridge-test-{uuid.uuid4().hex[:10]}"
    rabbit_api("PUT", f"/vhosts/{name}", {})
    rabbit_api("PUT", f"/permissions/{name}/guest", {"configure": ".*", "write": ".*", "read": ".*"})
    return name


def drop_vhost(name: str) -> None:
    # The broker may be down after a fault test; a leftover empty vhost is harmless.
    with contextlib.suppress(urllib.error.URLError):
        rabbit_api("DELETE", f"/vhosts/{name}")
