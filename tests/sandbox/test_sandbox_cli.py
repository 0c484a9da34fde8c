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

GRAPH_CLIENT = """
import asyncio, json, ssl, sys, tempfile
import httpx
from azure.identity.aio import ClientSecretCredential
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
from msgraph.generated.models.event import Event
from msgraph.graph_request_adapter import options as graph_options
from msgraph_core import GraphClientFactory

info = json.load(open(sys.argv[1]))
ms = info["microsoft"]
ca = tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False)
ca.write(info["ca_pem"]); ca.close()

async def main():
    credential = ClientSecretCredential(ms["tenant_id"], ms["client_id"], ms["client_secret"],
        authority=ms["graph_authority"], disable_instance_discovery=True, connection_verify=ca.name)
    auth = AzureIdentityAuthenticationProvider(credential, scopes=["https://graph.microsoft.com/.default"])
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(verify=ssl.create_default_context(cafile=ca.name)), options=graph_options)
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = ms["graph_url"]
    client = GraphServiceClient(request_adapter=adapter)
    user = info["users"][0]["email"]
    await client.users.by_user_id(user).events.post(Event(subject="from another process",
        start=DateTimeTimeZone(date_time="2026-12-01T09:00:00", time_zone="UTC"),
        end=DateTimeTimeZone(date_time="2026-12-01T10:00:00", time_zone="UTC")))
    page = await client.users.by_user_id(user).events.get()
    print(json.dumps([event.subject for event in page.value]))
    await credential.close()

asyncio.run(main())
"""


def test_given_the_sandbox_command_when_another_process_reads_the_connection_file_then_both_sdks_connect(
    tmp_path: Path,
) -> None:
    connection = tmp_path / "x.json"
    command = [
        sys.executable,
        "-m",
        "calbridge_app",
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

        graph = subprocess.run(
            [sys.executable, "-c", GRAPH_CLIENT, str(connection)], capture_output=True, text=True, timeout=60
        )
        assert graph.returncode == 0, graph.stderr
        assert json.loads(graph.stdout.strip().splitlines()[-1]) == ["from another process"]
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert server.returncode == 0
