"""Every command meets every class of bad configuration with one clear line, never a traceback.

The commands come from the `calbridge` command tree itself, so a new command is covered without
touching this file; its required arguments get sample values by parameter name (`SAMPLES`), and a
command with a parameter nobody gave a sample for fails `test_every_command_has_sample_arguments`.
Each case breaks one thing (the database URL, the broker, the secret key, a port) and expects:
exit 2 for configuration (the operator must change something) or 1 for a runtime failure, one to
three lines that name the problem, and no traceback. A command that does not use what a case
breaks may succeed. Services (which would otherwise run) start as processes with a time limit.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from calbridge.store.migrate import upgrade
from calbridge_app.cli import app

pytestmark = pytest.mark.integration

# Commands that serve until stopped: run as processes, bounded in time.
SERVICES = {("processor",), ("receiver",), ("renewer",), ("ews-listener",)}
# Services that read the store at start (the receiver authenticates notifications without it).
USES_STORE = {("processor",), ("renewer",), ("ews-listener",)}
# Commands that need no configuration at all (they never read CALBRIDGE_* settings).
NO_SETTINGS = {("connections", "generate-key"), ("config", "reference"), ("demo",), ("sandbox",)}
# The demo and the sandbox have their own tests of their refusals (tests/demo, tests/sandbox).
ELSEWHERE = {("demo",), ("sandbox",)}

SAMPLES: dict[str, list[str]] = {
    "addresses": ["ann@example.com"],
    "address": ["ann@example.com"],
    "name": ["some-connection"],
    "message_id": ["0123abcd"],
    "pair_id": ["p-nosuch"],
    "file": ["{tmp}/pairs.csv"],
    "--connection-file": ["--connection-file", "{tmp}/missing.json"],
    "--service-account": ["--service-account", "{tmp}/missing.json"],
    "--tenant": ["--tenant", "tenant-id"],
    "--client-id": ["--client-id", "client-id"],
    "--google": ["--google", "ann@example.com"],
    "--microsoft": ["--microsoft", "bob@example.org"],
}

PORT_SETTINGS = (
    "CALBRIDGE_PROCESSOR_HTTP_PORT",
    "CALBRIDGE_RENEWER_HTTP_PORT",
    "CALBRIDGE_RECEIVER_PORT",
    "CALBRIDGE_EWS_LISTENER_METRICS_PORT",
)
FERNET_KEY = "bXlfc2VjcmV0X2tleV9mb3JfY2xpX2Vycm9yc19fISE="  # 32 bytes, base64: a valid key shape
SIGNING_KEYS = "k1:" + "s" * 32


@dataclass(frozen=True)
class Case:
    name: str
    env: dict[str, str]
    names: str  # what the one line must mention
    code: int  # exit code when the command uses what is broken


def commands() -> Iterator[tuple[tuple[str, ...], object]]:
    def walk(command: object, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], object]]:
        children = getattr(command, "commands", None)
        if children:
            for name, child in sorted(children.items()):
                yield from walk(child, (*path, name))
        else:
            yield path, command

    yield from walk(get_command(app), ())


def sample_arguments(command: object) -> list[str]:
    values: list[str] = []
    for param in getattr(command, "params", []):
        if not param.required:
            continue
        key = param.opts[0] if param.opts[0].startswith("--") else param.name
        if key not in SAMPLES:
            raise KeyError(key)
        values.extend(SAMPLES[key])
    return values


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> list[Case]:
    folder = tmp_path_factory.mktemp("cli-errors")
    (folder / "pairs.csv").write_text("google,microsoft\nann@example.com,bob@example.org\n")
    closed = _free_port()
    return [
        Case(
            "unparsable database URL",
            {"CALBRIDGE_DATABASE_URL": "::not a url::"},
            "CALBRIDGE_DATABASE_URL",
            2,
        ),
        Case("unsupported database", {"CALBRIDGE_DATABASE_URL": "mysql://h/db"}, "CALBRIDGE_DATABASE_URL", 2),
        Case(
            "missing database",
            {"CALBRIDGE_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/calbridge_no_such_db"},
            "no database",
            2,
        ),
        Case(
            "unknown database role",
            {"CALBRIDGE_DATABASE_URL": "postgresql://no_such_role:pw@127.0.0.1:5432/postgres"},
            "refused the login",
            2,
        ),
        Case(
            "unreachable database",
            {"CALBRIDGE_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{closed}/x"},
            "cannot reach the database",
            1,
        ),
        Case(
            "broker URL of another scheme",
            {"CALBRIDGE_AMQP_URL": "http://127.0.0.1:5672/"},
            "CALBRIDGE_AMQP_URL",
            2,
        ),
        Case(
            "wrong broker password",
            {"CALBRIDGE_AMQP_URL": "amqp://guest:wrong@127.0.0.1:5672/"},
            "refused the login",
            2,
        ),
        Case(
            "unknown broker vhost",
            {"CALBRIDGE_AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/calbridge-no-such-vhost"},
            "virtual host",
            2,
        ),
        Case(
            "unreachable broker",
            {"CALBRIDGE_AMQP_URL": f"amqp://guest:guest@127.0.0.1:{closed}/"},
            "cannot reach RabbitMQ",
            1,
        ),
        Case("malformed secret key", {"CALBRIDGE_SECRET_KEY": "not-a-key"}, "CALBRIDGE_SECRET_KEY", 2),
    ]


def base_env(folder: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CALBRIDGE_")}
    env.update(
        {
            "CALBRIDGE_DATABASE_URL": f"sqlite:///{folder / 'calbridge.db'}",
            "CALBRIDGE_SECRET_KEY": FERNET_KEY,
            "CALBRIDGE_SIGNING_KEYS": SIGNING_KEYS,
            "CALBRIDGE_PUBLIC_URL": "https://calbridge.example.com",
            "CALBRIDGE_PROCESSOR_HTTP_PORT": str(_free_port()),
            "CALBRIDGE_RENEWER_HTTP_PORT": str(_free_port()),
            "CALBRIDGE_RECEIVER_PORT": str(_free_port()),
            "CALBRIDGE_EWS_LISTENER_METRICS_PORT": str(_free_port()),
        }
    )
    return env


def check(path: tuple[str, ...], case: Case, code: int, output: str) -> None:
    lines = [line for line in output.strip().splitlines() if line.strip()]
    where = f"`calbridge {' '.join(path)}` with {case.name}"
    assert "Traceback" not in output, f"{where} printed a traceback:\n{output[-3000:]}"
    if code == 0:
        return
    assert code in (1, 2), f"{where} exited {code}:\n{output[-2000:]}"
    assert 1 <= len(lines) <= 3, f"{where} said {len(lines)} lines:\n{output[-2000:]}"
    if path in NO_SETTINGS:
        return
    if case.names in output:
        assert code == case.code, f"{where} exited {code}, expected {case.code}:\n{output}"


def test_every_command_has_sample_arguments() -> None:
    missing = []
    for path, command in commands():
        try:
            sample_arguments(command)
        except KeyError as exc:
            missing.append(f"{' '.join(path)}: {exc}")
    assert not missing, f"add sample values to SAMPLES for: {missing}"


def test_admin_commands_explain_every_bad_configuration(
    cases: list[Case], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    seen = 0
    for path, command in commands():
        if path in SERVICES or path in ELSEWHERE:
            continue
        arguments = [a.replace("{tmp}", str(tmp_path)) for a in sample_arguments(command)]
        for case in cases:
            env = {**base_env(tmp_path), **case.env}
            for key in [k for k in os.environ if k.startswith("CALBRIDGE_")]:
                monkeypatch.delenv(key)
            result = runner.invoke(app, [*path, *arguments], env=env, input="")
            output = result.output  # stdout and stderr, as a terminal shows them
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                raise AssertionError(
                    f"`calbridge {' '.join(path)}` with {case.name} raised"
                ) from result.exception
            check(path, case, result.exit_code, output)
            seen += 1
    assert seen >= 20 * 10  # every admin command met every case


@pytest.mark.timeout(400)
def test_services_explain_every_bad_configuration_and_a_taken_port(
    cases: list[Case], tmp_path: Path, amqp_url: str
) -> None:
    env = {**base_env(tmp_path), "CALBRIDGE_AMQP_URL": amqp_url}
    upgrade(f"sqlite+aiosqlite:///{tmp_path / 'calbridge.db'}")  # the store is fine: one thing at a time
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = str(taken.getsockname()[1])
    port_case = Case("port in use", {}, "port", 2)
    runs: list[tuple[tuple[str, ...], Case, dict[str, str]]] = []
    for path in sorted(SERVICES):
        # one case of each kind: the settings, the database, the broker, the port
        chosen = ("malformed secret key", "missing database", "wrong broker password")
        for case in [c for c in cases if c.name in chosen] + [port_case]:
            if "database" in case.name and path not in USES_STORE:
                continue  # the receiver authenticates without the store: it has nothing to say
            extra = dict(case.env)
            if case is port_case:
                extra = {
                    "CALBRIDGE_PROCESSOR_HTTP_PORT": port,
                    "CALBRIDGE_RENEWER_HTTP_PORT": port,
                    "CALBRIDGE_RECEIVER_PORT": port,
                    "CALBRIDGE_EWS_LISTENER_METRICS_PORT": port,
                    "CALBRIDGE_RECEIVER_HOST": "127.0.0.1",
                    "CALBRIDGE_PROCESSOR_HTTP_HOST": "127.0.0.1",
                    "CALBRIDGE_RENEWER_HTTP_HOST": "127.0.0.1",
                    "CALBRIDGE_AMQP_URL": os.environ.get(
                        "CALBRIDGE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"
                    ),
                }
            own_ports = {name: str(_free_port()) for name in PORT_SETTINGS}
            runs.append((path, case, {**env, **own_ports, **extra}))

    def run(
        item: tuple[tuple[str, ...], Case, dict[str, str]],
    ) -> tuple[tuple[str, ...], Case, int | None, str]:
        path, case, run_env = item
        try:
            done = subprocess.run(
                [sys.executable, "-m", "calbridge_app", *path],
                env=run_env,
                capture_output=True,
                text=True,
                timeout=90,  # generous: a busy 2-core machine starts Python slowly
                stdin=subprocess.DEVNULL,
                cwd=tmp_path,
            )
        except subprocess.TimeoutExpired as exc:
            return path, case, None, str(exc.stderr or "")
        return path, case, done.returncode, done.stdout + done.stderr

    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(run, runs))
    finally:
        taken.close()
    for path, case, code, output in results:
        assert code is not None, (
            f"`calbridge {' '.join(path)}` with {case.name} kept running:\n{output[-2000:]}"
        )
        assert code != 0, f"`calbridge {' '.join(path)}` with {case.name} exited 0"
        check(path, case, code, output)
        assert case.names in output, (
            f"`calbridge {' '.join(path)}` with {case.name} did not say so:\n{output}"
        )
