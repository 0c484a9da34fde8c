"""The processor and the renewer that cannot start say why in one line and leave nothing behind:
no "Task was destroyed but it is pending!", no "Task exception was never retrieved", no traceback.

The port case is the race the command's own check cannot see (something takes the port between
the check and the bind): the check is switched off in the child process, so the service's own bind
meets the taken port, as it would in that race.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from calbridge.store.migrate import upgrade

pytestmark = [pytest.mark.integration, pytest.mark.rabbitmq]

NOISE = ("Task was destroyed", "never retrieved", "Traceback", "Exception ignored")

# The command with its port check switched off (the race), then run as `calbridge`.
RACE = """
import sys
import calbridge_app.cli.processor as processor, calbridge_app.cli.renewer as renewer
processor.ensure_port_free = renewer.ensure_port_free = lambda *args, **kwargs: None
from calbridge_app.cli import app
sys.argv = ["calbridge", *sys.argv[1:]]
app()
"""


def _env(amqp_url: str, tmp_path: Path) -> dict[str, str]:
    database = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    upgrade(database)
    return {
        **os.environ,
        "CALBRIDGE_AMQP_URL": amqp_url,
        "CALBRIDGE_DATABASE_URL": database,
        "CALBRIDGE_SECRET_KEY": Fernet.generate_key().decode(),
        "CALBRIDGE_SIGNING_KEYS": "k1:" + "s" * 32,
        "CALBRIDGE_PUBLIC_URL": "https://127.0.0.1:9/",
        "CALBRIDGE_LOG_LEVEL": "warning",
    }


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", RACE, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(("service", "variable"), [("processor", "PROCESSOR"), ("renewer", "RENEWER")])
def test_given_the_probe_port_taken_after_the_check_then_one_line_names_it_and_no_task_is_left(
    amqp_url: str, tmp_path: Path, service: str, variable: str
) -> None:
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _run(_env(amqp_url, tmp_path), service, "--port", str(port))
    assert done.returncode == 2, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert f"port {port}" in last and "already in use" in last and f"CALBRIDGE_{variable}_HTTP_PORT" in last
    assert not [noise for noise in NOISE if noise in done.stderr], done.stderr


@pytest.mark.parametrize("service", ["processor", "renewer"])
@pytest.mark.parametrize(
    ("broker", "code", "names"),
    [
        ("amqp://guest:guest@127.0.0.1:1/", 1, "cannot reach RabbitMQ"),
        ("amqp://guest:wrong-password@127.0.0.1:5672/", 2, "refused the login"),
    ],
)
def test_given_a_broker_down_or_refusing_then_one_line_and_no_task_is_left(
    amqp_url: str, tmp_path: Path, service: str, broker: str, code: int, names: str
) -> None:
    env = {**_env(amqp_url, tmp_path), "CALBRIDGE_AMQP_URL": broker}
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    done = _run(env, service, "--port", str(port))
    assert done.returncode == code, done.stderr
    assert names in done.stderr.strip().splitlines()[-1]
    assert not [noise for noise in NOISE if noise in done.stderr], done.stderr
