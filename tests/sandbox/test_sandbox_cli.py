"""`calbridge sandbox` as a separate process: its connection file lets another process connect."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CLIENT = """
import json, sys
from google.api_core.client_options import ClientOptions
from google.oauth2 import service_account
from googleapiclient.discovery import build

info = json.load(open(sys.argv[1]))
google = info["google"]
creds = service_account.Credentials.from_service_account_info(
    google["service_account"], scopes=google["scopes"], subject=info["users"][0]["email"])
service = build("calendar", "v3", credentials=creds, static_discovery=True, cache_discovery=False,
                client_options=ClientOptions(api_endpoint=google["api_endpoint"]))
events = service.events()
created = events.insert(calendarId="primary", body={"summary": "from another process",
    "start": {"dateTime": "2026-12-01T09:00:00Z"}, "end": {"dateTime": "2026-12-01T10:00:00Z"}}).execute()
listed = events.list(calendarId="primary").execute()
print(json.dumps([item["summary"] for item in listed["items"]]))
"""


def test_given_the_sandbox_command_when_another_process_reads_the_connection_file_then_the_sdk_connects(
    tmp_path: Path,
) -> None:
    connection = tmp_path / "x.json"
    command = [
        sys.executable,
        "-m",
        "calbridge",
        "sandbox",
        "--seed",
        "3",
        "--connection-file",
        str(connection),
    ]
    server = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"}
    )
    try:
        deadline = time.monotonic() + 20
        while not connection.exists():
            assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
            assert time.monotonic() < deadline, "no connection file in time"
            time.sleep(0.05)
        info = json.loads(connection.read_text())
        assert info["google"]["service_account"]["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
        assert info["ca_pem"].startswith("-----BEGIN CERTIFICATE-----")
        assert {"tenant_id", "client_id", "client_secret"} <= set(info["microsoft"])

        client = subprocess.run(
            [sys.executable, "-c", CLIENT, str(connection)], capture_output=True, text=True, timeout=60
        )

        assert client.returncode == 0, client.stderr
        assert json.loads(client.stdout.strip().splitlines()[-1]) == ["from another process"]
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert server.returncode == 0
