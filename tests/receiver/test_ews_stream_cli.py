"""`calbridge ews-listener` as a process: it starts on a migrated store and RabbitMQ, and a
SIGTERM stops it cleanly (streams ended, leases released, exit 0)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from calbridge.store.migrate import upgrade

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq, pytest.mark.timeout(60)]


def test_given_a_store_and_a_broker_when_the_listener_gets_sigterm_then_it_exits_cleanly(
    amqp_url: str, tmp_path: Path
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    upgrade(database)
    env = {
        **os.environ,
        "CALBRIDGE_DATABASE_URL": database,
        "CALBRIDGE_AMQP_URL": amqp_url,
        "CALBRIDGE_SECRET_KEY": Fernet.generate_key().decode(),
        "CALBRIDGE_EWS_LISTENER_METRICS_PORT": "0",
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
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
