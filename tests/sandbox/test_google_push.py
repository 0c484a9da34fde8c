"""Push channels through the real client: watch, the sync message, change messages, stop, expiry,
retries and notification faults."""

from __future__ import annotations

import asyncio
import ssl
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from googleapiclient.errors import HttpError
from sandbox_support import ALICE, Receiver, call, timed, wait_until

from sandbox.client import SandboxControl
from sandbox.server import Sandbox

pytestmark = pytest.mark.integration


def _watch_body(receiver: Receiver, channel_id: str = "chan-1", **extra: Any) -> dict[str, Any]:
    return {"id": channel_id, "type": "web_hook", "address": receiver.url, "token": "ref=cal1&v=1", **extra}


async def test_given_a_watch_when_events_change_then_sync_then_exists_messages_arrive_with_google_headers(
    alice_events: Any, receiver: Receiver, control: SandboxControl
) -> None:
    channel = await call(alice_events.watch(calendarId="primary", body=_watch_body(receiver)))
    assert channel["kind"] == "api#channel" and channel["id"] == "chan-1" and channel["resourceId"]
    await wait_until(lambda: receiver.states() == ["sync"])

    await call(
        alice_events.insert(
            calendarId="primary", body={"summary": "x", **timed("2026-12-01", "09:00", "10:00")}
        )
    )
    await control.google.create_event(
        ALICE, {"summary": "typed by Alice", **timed("2026-12-01", "11:00", "12:00")}
    )
    await wait_until(lambda: len(receiver.messages) == 3)

    sync = receiver.messages[0]
    assert receiver.states() == ["sync", "exists", "exists"]
    assert sync["X-Goog-Message-Number"] == "1"
    numbers = [int(m["X-Goog-Message-Number"]) for m in receiver.messages]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    for message in receiver.messages:
        assert message["X-Goog-Channel-ID"] == "chan-1"
        assert message["X-Goog-Channel-Token"] == "ref=cal1&v=1"
        assert message["X-Goog-Resource-ID"] == channel["resourceId"]
        assert message["X-Goog-Resource-URI"] == channel["resourceUri"]
        expires = parsedate_to_datetime(message["X-Goog-Channel-Expiration"])
        assert abs(expires.timestamp() * 1000 - int(channel["expiration"])) < 1000
    assert receiver.bodies == [b"", b"", b""]


async def test_given_a_ttl_when_watching_then_expiration_follows_it_and_defaults_to_a_week(
    sb: Sandbox, alice_events: Any, receiver: Receiver
) -> None:
    now_ms = datetime.now(UTC).timestamp() * 1000
    short = await call(
        alice_events.watch(
            calendarId="primary", body=_watch_body(receiver, "c-short", params={"ttl": "3600"})
        )
    )
    default = await call(alice_events.watch(calendarId="primary", body=_watch_body(receiver, "c-default")))
    assert abs(int(short["expiration"]) - now_ms - 3_600_000) < 5_000
    assert abs(int(default["expiration"]) - now_ms - 604_800_000) < 5_000

    with pytest.raises(HttpError) as caught:
        await call(alice_events.watch(calendarId="primary", body=_watch_body(receiver, "c-short")))
    assert caught.value.status_code == 400  # channel ids are unique


async def test_given_a_stopped_channel_when_events_change_then_nothing_more_arrives(
    sb: Sandbox, alice_events: Any, receiver: Receiver, control: SandboxControl
) -> None:
    channels = sb.google_service(ALICE).channels()
    watched = await call(alice_events.watch(calendarId="primary", body=_watch_body(receiver)))
    await wait_until(lambda: receiver.states() == ["sync"])

    await call(channels.stop(body={"id": watched["id"], "resourceId": watched["resourceId"]}))
    await call(
        alice_events.insert(
            calendarId="primary", body={"summary": "x", **timed("2026-12-01", "09:00", "10:00")}
        )
    )

    # the change is committed and the hub has no channel left to tell
    assert (await control.google.channels())["channels"] == []
    assert receiver.states() == ["sync"]
    with pytest.raises(HttpError) as caught:
        await call(channels.stop(body={"id": watched["id"], "resourceId": watched["resourceId"]}))
    assert caught.value.status_code == 404


async def test_given_an_expired_channel_when_events_change_then_it_is_silent(
    alice_events: Any, receiver: Receiver, control: SandboxControl
) -> None:
    await call(alice_events.watch(calendarId="primary", body=_watch_body(receiver, params={"ttl": "60"})))
    await wait_until(lambda: receiver.states() == ["sync"])
    await control.advance_clock(120)

    await control.google.create_event(ALICE, {"summary": "late", **timed("2026-12-01", "09:00", "10:00")})

    assert (await control.google.channels())["channels"] == []
    assert receiver.states() == ["sync"]


async def test_given_a_receiver_failing_with_503_when_notifying_then_delivery_is_retried_until_it_succeeds(
    sb: Sandbox, alice_events: Any
) -> None:
    from aiohttp import web

    answers = [503, 503, 200]
    seen: list[str] = []

    async def flaky(request: web.Request) -> web.Response:
        seen.append(request.headers["X-Goog-Message-Number"])
        return web.Response(status=answers.pop(0) if answers else 200)

    app = web.Application()
    app.router.add_post("/hook", flaky)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    sb.google.hub.backoff = 0.01
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
        await call(
            alice_events.watch(calendarId="primary", body={"id": "flaky", "type": "web_hook", "address": url})
        )
        await wait_until(lambda: len(seen) == 3)
        assert seen == ["1", "1", "1"]
    finally:
        await runner.cleanup()


async def test_given_notification_faults_when_events_change_then_messages_are_duplicated_or_dropped(
    alice_events: Any, receiver: Receiver, control: SandboxControl
) -> None:
    await control.set_notification_faults("google", duplicate_rate=1.0)
    await call(alice_events.watch(calendarId="primary", body=_watch_body(receiver)))
    await wait_until(lambda: len(receiver.messages) == 2)
    assert receiver.states() == ["sync", "sync"]

    await control.set_notification_faults("google", drop_rate=1.0)
    await control.google.create_event(ALICE, {"summary": "lost", **timed("2026-12-01", "09:00", "10:00")})
    await control.set_notification_faults("google")
    await control.google.create_event(ALICE, {"summary": "seen", **timed("2026-12-01", "11:00", "12:00")})
    await wait_until(lambda: len(receiver.messages) == 3)
    assert receiver.states() == ["sync", "sync", "exists"]


async def test_given_an_https_receiver_with_a_sandbox_certificate_when_watching_then_messages_arrive(
    sb: Sandbox, alice_events: Any
) -> None:
    from aiohttp import web

    seen: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        seen.append(request.headers["X-Goog-Resource-State"])
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    sb.tls.issue("127.0.0.1").configure_cert(context)
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context).start()
    try:
        url = f"https://127.0.0.1:{runner.addresses[0][1]}/hook"
        await call(
            alice_events.watch(calendarId="primary", body={"id": "tls", "type": "web_hook", "address": url})
        )
        await wait_until(lambda: seen == ["sync"])
    finally:
        await runner.cleanup()


async def test_given_the_reorder_fault_when_changes_queue_up_then_they_arrive_out_of_order(
    sb: Sandbox, alice_events: Any, control: SandboxControl
) -> None:
    from aiohttp import web

    release = asyncio.Event()
    numbers: list[int] = []
    holding: list[bool] = []

    async def slow_hook(request: web.Request) -> web.Response:
        if request.headers["X-Goog-Resource-State"] == "sync":
            holding.append(True)
            await release.wait()  # hold the deliverer so the next messages queue up
        numbers.append(int(request.headers["X-Goog-Message-Number"]))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", slow_hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
        await control.set_notification_faults("google", reorder=True)
        await call(
            alice_events.watch(
                calendarId="primary", body={"id": "reorder", "type": "web_hook", "address": url}
            )
        )
        for n in range(6):
            await control.google.create_event(
                ALICE, {"summary": f"e{n}", **timed("2026-12-01", "09:00", "10:00")}
            )
        release.set()
        await wait_until(lambda: len(numbers) == 7)
        assert numbers[0] == 1
        assert numbers[1:] != sorted(numbers[1:])
        assert len(set(numbers)) == 7
    finally:
        await runner.cleanup()
