"""`calbridge ews-listener` as a process: it starts on a migrated store and RabbitMQ, and a
SIGTERM stops it cleanly (streams ended, leases released, exit 0)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from calbridge.store.migrate import upgrade


def _first_answer(url: str, within: float) -> tuple[int, str] | None:
    """Poll `url` until something answers, for at most `within` seconds."""
    deadline = time.monotonic() + within
    while (answer := _get(url)) is None and time.monotonic() < deadline:
        time.sleep(0.05)  # between polls of a bounded wait, not a wait by itself
    return answer


def _get(url: str) -> tuple[int, str] | None:
    """(status, body), or None while nothing listens yet."""
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return None


pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq, pytest.mark.timeout(60)]


def test_given_a_store_and_a_broker_when_the_listener_gets_sigterm_then_it_exits_cleanly(
    amqp_url: str, tmp_path: Path
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    upgrade(database)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "CALBRIDGE_DATABASE_URL": database,
        "CALBRIDGE_AMQP_URL": amqp_url,
        "CALBRIDGE_SECRET_KEY": Fernet.generate_key().decode(),
        "CALBRIDGE_EWS_LISTENER_METRICS_PORT": str(port),
        "CALBRIDGE_EWS_LISTENER_REFRESH": "0.2",
        "CALBRIDGE_LOG_FORMAT": "json",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "calbridge_app", "ews-listener"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # printed once the bus and the store are open
        assert "streaming" in line, line + (process.stderr.read() if process.poll() is not None else "")
        # Its probes answer as probes (not the metrics page on every path)
        base = f"http://127.0.0.1:{port}"
        assert _first_answer(f"{base}/healthz", within=20) == (200, "ok")
        status, body = _get(f"{base}/readyz")
        assert status == 200 and json.loads(body) == {"bus": True, "store": True}
        status, body = _get(f"{base}/metrics")
        assert status == 200 and "calbridge_" in body
        assert _get(f"{base}/nothing-here")[0] == 404
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
