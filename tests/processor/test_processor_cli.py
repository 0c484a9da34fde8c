"""`calbridge processor` as an SRE runs it: refuses the memory bus, serves probes and metrics,
and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from calbridge.store.migrate import upgrade
from calbridge_app.cli import app


def test_given_no_broker_and_no_secret_key_then_it_refuses_naming_both(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CALBRIDGE_AMQP_URL", raising=False)
    monkeypatch.delenv("CALBRIDGE_SECRET_KEY", raising=False)
    result = CliRunner().invoke(app, ["processor"])
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert "CALBRIDGE_AMQP_URL" in said and "CALBRIDGE_SECRET_KEY" in said


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.integration
@pytest.mark.rabbitmq
def test_given_a_broker_and_a_store_then_it_serves_probes_and_stops_on_sigterm(
    amqp_url: str, tmp_path: Path
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    upgrade(database)
    port = _free_port()
    env = {
        **os.environ,
        "CALBRIDGE_AMQP_URL": amqp_url,
        "CALBRIDGE_DATABASE_URL": database,
        "CALBRIDGE_PROCESSOR_HTTP_HOST": "127.0.0.1",
        "CALBRIDGE_PROCESSOR_HEARTBEAT": "0.2",
        "CALBRIDGE_DRAIN_TIMEOUT": "3",
        "CALBRIDGE_SECRET_KEY": Fernet.generate_key().decode(),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "calbridge_app", "processor", "--port", str(port), "--shards", "0-7"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                status, _ = _get(f"http://127.0.0.1:{port}/readyz")
            except OSError:
                status = 0
            if status == 200:
                break
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            assert time.monotonic() < deadline, "the processor never became ready"
            time.sleep(0.05)
        assert _get(f"http://127.0.0.1:{port}/healthz")[0] == 200
        status, body = _get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200 and b"calbridge_hints_total" in body

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        log = process.stdout.read().decode() if process.stdout else ""
        assert "processor_stopped" in log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
