"""`connections add ews` and `pairs add --via ews` from the command line, against the EWS emulator.

The EWS side goes through the real adapter (exchangelib): activation is a GetFolder of the
mailbox's calendar through impersonation. The Google side is the fake adapter (not under test).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pair_fakes import Access, RecordingBus, service_account
from typer.testing import CliRunner

from calbridge.events import ChangeKind, Provider
from calbridge.store.migrate import upgrade
from calbridge_app.cli import app
from calbridge_app.cli.context import LazyBus
from sandbox.ews.testing import RunningEws, sample_world, serve_in_thread

pytestmark = pytest.mark.integration


@pytest.fixture
def ews() -> Iterator[RunningEws]:
    with serve_in_thread(sample_world()) as running:
        yield running


@pytest.fixture
def env(sqlite_url: str, secret_key: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    upgrade(sqlite_url)
    for name, value in {
        "CALBRIDGE_DATABASE_URL": sqlite_url,
        "CALBRIDGE_SECRET_KEY": secret_key,
        "CALBRIDGE_LOG_FORMAT": "console",
    }.items():
        monkeypatch.setenv(name, value)
    password = tmp_path / "ews-password"
    password.write_text("s3cret\n")
    return password


@pytest.fixture
def recording_bus(monkeypatch: pytest.MonkeyPatch) -> RecordingBus:
    recorded = RecordingBus()

    async def open_recording(self: LazyBus) -> RecordingBus:
        return recorded

    monkeypatch.setenv("CALBRIDGE_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/unused")
    monkeypatch.setattr(LazyBus, "_open", open_recording)
    return recorded


def invoke(*args: str) -> tuple[int, str]:
    """Run a command in-process: exit code and standard output (logs go to stderr)."""
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, " ".join((result.stdout if result.exit_code == 0 else result.output).split())


def add_google(tmp_path: Path) -> None:
    key = tmp_path / "sa.json"
    key.write_text(json.dumps(service_account()))
    assert invoke("connections", "add", "google", "--service-account", str(key), "--no-verify")[0] == 0


def test_given_an_ews_connection_when_pairs_are_added_via_ews_then_access_is_checked_by_impersonation(
    ews: RunningEws, env: Path, access: Access, recording_bus: RecordingBus, tmp_path: Path
) -> None:
    add_google(tmp_path)
    code, out = invoke(
        "connections", "add", "ews", "--url", ews.ews_url, "--username", "svc@example.com",
        "--password-file", str(env), "--no-verify",
    )  # fmt: skip
    assert code == 0, out
    assert "s3cret" not in out
    assert json.loads(invoke("connections", "show", "ews", "--json")[1])["auth"] == "ntlm"  # the default

    code, out = invoke("pairs", "add", "--google", "a@example.com", "--microsoft", "alice@example.com",
                       "--via", "ews", "--json")  # fmt: skip
    assert code == 0, out
    pair = json.loads(out)["pair"]
    assert pair["state"] == "active"
    assert ews.counters.calls_to("ews.GetFolder") >= 1  # the access check reached Exchange
    assert ews.counters.calls[("ews.auth", 401)] >= 1  # signed in by an NTLM handshake
    baselines = [(h.provider, h.kind) for h in recording_bus.published]
    assert (Provider.EWS, ChangeKind.RESYNC) in baselines and (
        Provider.GOOGLE,
        ChangeKind.RESYNC,
    ) in baselines

    # carol's mailbox exists, but the service account may not impersonate her
    code, out = invoke("pairs", "add", "--google", "c@example.com", "--microsoft", "carol@example.com",
                       "--via", "ews")  # fmt: skip
    assert code != 0
    assert "access denied" in out and "impersonation rights" in out


def test_given_no_url_when_an_ews_connection_is_added_then_mailboxes_are_found_by_autodiscover(
    ews: RunningEws, env: Path, access: Access, recording_bus: RecordingBus, tmp_path: Path
) -> None:
    add_google(tmp_path)
    autodiscover = ews.base_url + "/autodiscover/autodiscover.svc"
    code, out = invoke(
        "connections", "add", "ews", "--autodiscover-url", autodiscover, "--username", "svc@example.com",
        "--password-file", str(env), "--auth", "basic", "--name", "exchange",
    )  # fmt: skip
    assert code == 0, out
    shown = json.loads(invoke("connections", "show", "exchange", "--json")[1])
    assert shown["url"] is None and shown["autodiscover_url"] == autodiscover

    code, out = invoke("pairs", "add", "--google", "b@example.com", "--microsoft", "bob@example.com",
                       "--via", "ews", "--json")  # fmt: skip
    assert code == 0, out
    assert json.loads(out)["pair"]["state"] == "active"

    code, out = invoke(
        "connections", "add", "ews", "--url", ews.ews_url, "--autodiscover", "--username", "svc@example.com",
        "--password-file", str(env), "--auth", "basic", "--name", "both",
    )  # fmt: skip
    assert code != 0 and "not both" in out
