"""The EWS adapter's access checks, throttling, autodiscover and recurring series, against the emulator."""

from __future__ import annotations

import socket
import ssl
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme
from exchangelib import CalendarItem, EWSDateTime, EWSTimeZone
from exchangelib.recurrence import Recurrence as EwsRecurrence
from exchangelib.recurrence import WeeklyPattern

from calbridge.errors import AccessDenied, NotFound, Throttled, TransientProviderError
from calbridge.model import AllDay, Event, InstanceOf, Recurrence
from calbridge.providers.base import CalendarAddress, Fetched, MirrorStamp
from calbridge.providers.ews.adapter import EwsProvider
from calbridge.providers.ews.client import EwsClient, EwsEndpoint
from calbridge.providers.ews.connection import EwsConnection
from calbridge.providers.registry import Registry
from calbridge.settings import load_settings
from sandbox.ews.testing import RunningEws, basic_account, sample_world, serve_in_thread
from sandbox.faults import OperationFaults

pytestmark = pytest.mark.integration
MAILBOX = "alice@example.com"
CAL = CalendarAddress(MAILBOX)


async def test_given_granted_and_refused_mailboxes_when_checking_access_then_ok_denied_and_not_found(
    ews: RunningEws, ews_provider: EwsProvider
) -> None:
    await ews_provider.check_access(CAL)
    with pytest.raises(AccessDenied):
        await ews_provider.check_access(CalendarAddress("carol@example.com"))  # not granted to svc
    with pytest.raises(NotFound):
        await ews_provider.check_access(CalendarAddress("nobody@example.com"))


async def test_given_a_stored_connection_with_the_default_ntlm_when_opened_then_exchange_saw_a_handshake(
    ews: RunningEws,
) -> None:
    connection = EwsConnection(
        name="exchange", auth="ntlm", password="s3cret", url=ews.ews_url, username="svc@example.com"
    )
    provider = Registry(load_settings()).open(connection)
    assert isinstance(provider, EwsProvider)
    try:
        await provider.check_access(CAL)
        made = await provider.create(
            CAL,
            Event(id="src-1", span=AllDay(date(2026, 12, 24), date(2026, 12, 25)), title="Eve"),
            MirrorStamp("p1", "src-1"),
        )
        assert (await provider.get(CAL, made.event.id)) is not None
    finally:
        await provider.aclose()
    assert ews.counters.calls[("ews.auth", 401)] >= 1  # the NTLM challenge, not Basic
    assert ews.counters.calls[("ews.CreateItem", 200)] == 1


@pytest.mark.parametrize("auth", ["ntlm", "basic"])
async def test_given_a_wrong_password_when_checking_access_then_access_denied(
    ews: RunningEws, auth: Any
) -> None:
    client = EwsClient(EwsEndpoint("svc@example.com", "wrong", auth=auth, ews_url=ews.ews_url), threads=1)
    try:
        with pytest.raises(AccessDenied):
            await EwsProvider(client).check_access(CAL)
    finally:
        client.close()


async def test_given_server_busy_when_syncing_then_throttled_with_the_servers_back_off(
    ews: RunningEws, ews_provider: EwsProvider
) -> None:
    await ews_provider.check_access(CAL)
    ews.faults.operations["ews.SyncFolderItems"] = OperationFaults(
        error_rate=1.0, error_status=500, retry_after=2.5
    )
    with pytest.raises(Throttled) as caught:
        async for _ in ews_provider.changes(CAL, None):
            pass
    assert caught.value.retry_after == 2.5
    assert ews.counters.calls[("ews.SyncFolderItems", 500)] == 1  # FailFast: no hidden retry


async def test_given_only_an_autodiscover_url_when_checking_access_then_the_endpoint_is_found(
    ews: RunningEws,
) -> None:
    connection = EwsEndpoint(
        "svc@example.com", "s3cret", autodiscover_url=f"{ews.base_url}/autodiscover/autodiscover.svc"
    )
    client = EwsClient(connection, threads=1)
    try:
        await EwsProvider(client).check_access(CAL)
        account = await client.run("account", lambda: client.account(MAILBOX))
        assert account.protocol.service_endpoint == ews.ews_url
        assert account.version.build.major_version == 15
    finally:
        client.close()


async def test_given_a_series_with_a_moved_and_a_deleted_occurrence_when_syncing_then_both_read_back(
    ews: RunningEws, ews_provider: EwsProvider
) -> None:
    utc = EWSTimeZone("UTC")
    acc: Any = basic_account(ews)
    master = CalendarItem(
        account=acc,
        folder=acc.calendar,
        subject="Weekly",
        start=EWSDateTime(2026, 5, 4, 9, tzinfo=utc),
        end=EWSDateTime(2026, 5, 4, 10, tzinfo=utc),
        recurrence=EwsRecurrence(
            pattern=WeeklyPattern(interval=1, weekdays=[1, 3]), start=datetime(2026, 5, 4).date(), number=6
        ),
    )
    master.save(send_meeting_invitations="SendToNone")
    second = master.occurrence(2)
    second.refresh()
    second.subject = "Moved once"
    second.start, second.end = second.start + timedelta(hours=2), second.end + timedelta(hours=2)
    second.save(update_fields=["subject", "start", "end"])
    third = master.occurrence(3)
    third.refresh()
    third.delete()

    changes = [c async for page in ews_provider.changes(CAL, None) for c in page.changes]

    events = {c.event.title: c.event for c in changes if isinstance(c, Fetched)}
    assert set(events) == {"Weekly", "Moved once"}
    assert events["Weekly"].recurrence == Recurrence(
        ("RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=6", "EXDATE;TZID=UTC:20260511T090000")
    )
    moved = events["Moved once"]
    assert moved.instance_of == InstanceOf(events["Weekly"].id, datetime(2026, 5, 6, 9, tzinfo=UTC))
    assert moved.span.start == datetime(2026, 5, 6, 11, tzinfo=UTC)  # type: ignore[union-attr]
    assert ews.counters.invitations == []


async def test_given_an_oauth_app_with_its_own_token_url_when_writing_then_bearer_calls_succeed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # oauthlib refuses plain http unless told it is a test; production endpoints are https.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    world = sample_world()
    world.add_oauth_client("app-id", "app-secret")
    world.allow_impersonation("app-id", MAILBOX)
    with serve_in_thread(world) as running:
        connection = EwsEndpoint(
            "app-id",
            "app-secret",
            auth="oauth",
            tenant_id="tenant-1",
            token_url=f"{running.base_url}/ews-login/tenant-1/oauth2/v2.0/token",
            ews_url=running.ews_url,
        )
        client = EwsClient(connection, threads=1)
        try:
            provider = EwsProvider(client)
            await provider.check_access(CAL)
            with pytest.raises(AccessDenied):
                await provider.check_access(CalendarAddress("bob@example.com"))  # not granted to the app
        finally:
            client.close()
        assert running.counters.calls[("ews.auth", 401)] == 0


async def test_given_a_stored_oauth_connection_with_a_private_ca_when_opened_then_it_works_over_https(
    tmp_path: Path,
) -> None:
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    world = sample_world()
    world.add_oauth_client("app-id", "app-secret")
    world.allow_impersonation("app-id", MAILBOX)
    with serve_in_thread(world, ssl_context=server_tls) as running:
        stored = EwsConnection(
            name="onprem",
            auth="oauth",
            password="app-secret",
            url=running.ews_url,
            tenant_id="tenant-1",
            client_id="app-id",
            token_url=f"{running.base_url}/ews-login/tenant-1/oauth2/v2.0/token",
            ca_pem=ca_file.read_text(),
        )
        provider = Registry(load_settings()).open(stored)
        assert isinstance(provider, EwsProvider)
        try:
            await provider.check_access(CAL)
            created = await provider.create(
                CAL, Event(id="s", span=AllDay(date(2026, 5, 14), date(2026, 5, 15))), MirrorStamp("p", "s")
            )
        finally:
            provider.client.close()
        assert running.ews_url.startswith("https://")
        assert created.event.span == AllDay(date(2026, 5, 14), date(2026, 5, 15))


async def test_given_nothing_listening_when_checking_access_then_a_transient_error_at_once() -> None:
    with socket.socket() as probe:  # a loopback port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = EwsClient(
        EwsEndpoint("svc@example.com", "pw", ews_url=f"http://127.0.0.1:{port}/EWS/Exchange.asmx")
    )
    try:
        with pytest.raises(TransientProviderError):
            await EwsProvider(client).check_access(CAL)
    finally:
        client.close()
