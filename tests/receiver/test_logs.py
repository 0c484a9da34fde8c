"""Logs carry trace ids and reasons, never tokens, clientState or bodies; crashes log no content."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
import structlog
from receiver_fixtures import RecordingBus, flip_last, google_token, graph_state, make_settings
from structlog.testing import LogCapture

from calbridge.logs import configure_logging
from receiver import create_app

SECRETS = [google_token("cal_1", "chan-1"), graph_state("cal_2"), flip_last(graph_state("cal_3"))]
BODY_MARKER = "body-marker-7c1e"
HANDSHAKE = "handshake-token-0b5d"


@pytest.fixture
def captured() -> Iterator[LogCapture]:
    """Everything logged, as the event dicts a renderer would see (before redaction)."""
    capture = LogCapture()
    previous = structlog.get_config()
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, capture],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),  # whatever ran before
        cache_logger_on_first_use=False,
    )
    yield capture
    structlog.configure(**previous)


async def exercise(bus: RecordingBus, *, crash_clock: bool = False) -> list[httpx.Response]:
    def clock() -> Any:
        if crash_clock:
            raise RuntimeError(f"boom {SECRETS[1]} {BODY_MARKER}")
        from receiver_fixtures import NOW

        return NOW

    app = create_app(make_settings(), bus, clock=clock)
    responses = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r") as client:
        google = {"X-Goog-Channel-ID": "chan-1", "X-Goog-Resource-State": "exists"}
        responses.append(
            await client.post("/notifications/google", headers={**google, "X-Goog-Channel-Token": SECRETS[0]})
        )
        responses.append(
            await client.post(
                "/notifications/google", headers={**google, "X-Goog-Channel-Token": flip_last(SECRETS[0])}
            )
        )
        items = [
            {"changeType": "updated", "clientState": SECRETS[1], "resourceData": {"id": BODY_MARKER}},
            {"changeType": "updated", "clientState": SECRETS[2], "subject": BODY_MARKER},
        ]
        responses.append(
            await client.post(
                "/notifications/graph",
                content=orjson.dumps({"value": items}),
                headers={"Content-Type": "application/json", "X-Request-ID": "trace-77"},
            )
        )
        responses.append(await client.post("/notifications/graph", params={"validationToken": HANDSHAKE}))
        responses.append(
            await client.post(
                "/notifications/graph",
                content=b"{" + BODY_MARKER.encode(),
                headers={"Content-Type": "application/json"},
            )
        )
    return responses


def assert_clean(text: str) -> None:
    for secret in [*SECRETS, flip_last(SECRETS[0]), BODY_MARKER, HANDSHAKE]:
        assert secret not in text


@pytest.mark.parametrize("fail", [False, True])
async def test_given_accepted_forged_and_unavailable_requests_then_logs_hold_no_token_or_body(
    captured: LogCapture, fail: bool
) -> None:
    bus = RecordingBus()
    bus.fail = fail
    await exercise(bus)
    assert captured.entries, "the refusals must have been logged"
    assert_clean(repr(captured.entries))
    refused = [e for e in captured.entries if e["event"] == "graph_items_dropped"]
    assert refused and refused[0]["trace_id"] == "trace-77" and refused[0]["forged"] == 1


async def test_given_an_unexpected_error_then_500_is_logged_by_type_without_content(
    captured: LogCapture,
) -> None:
    responses = await exercise(RecordingBus(), crash_clock=True)
    assert 500 in {r.status_code for r in responses}
    crashes = [e for e in captured.entries if e["event"] == "unhandled_error"]
    assert crashes and crashes[0]["error_type"] == "RuntimeError"
    assert_clean(repr(captured.entries))


async def test_given_production_json_logging_then_rendered_lines_hold_no_token(
    capsys: pytest.CaptureFixture[str],
) -> None:
    previous = structlog.get_config()
    configure_logging("json", "debug")
    try:
        await exercise(RecordingBus())
    finally:
        structlog.configure(**previous)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert any(line["event"] == "notification_refused" for line in lines)
    assert_clean(json.dumps(lines))
