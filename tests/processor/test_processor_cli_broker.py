"""`calbridge processor` started while the broker cannot be reached: one line, exit code 1 (runtime), no
traceback; the orchestrator starts it again (a running processor never exits for this)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from calbridge.store.migrate import upgrade
from calbridge_app.cli import app
from calbridge_app.cli.common import EXIT_UNAVAILABLE


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when this returns: nothing listens


def test_given_no_broker_listening_then_the_processor_exits_with_one_line_and_code_1(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CALBRIDGE_AMQP_URL", f"amqp://guest:guest@127.0.0.1:{closed_port()}/")
    monkeypatch.setenv("CALBRIDGE_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("CALBRIDGE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
    upgrade(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")  # the store is fine: only the broker is away
    result = CliRunner().invoke(app, ["processor", "--port", str(closed_port())])
    assert result.exit_code == EXIT_UNAVAILABLE == 1
    said = " ".join(result.output.split())
    assert "cannot reach RabbitMQ at amqp://guest@127.0.0.1" in said
    assert "Traceback" not in result.output
