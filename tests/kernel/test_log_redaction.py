"""Log lines never carry event content, addresses, tokens or secrets, whatever the call site passes."""

from __future__ import annotations

import orjson
import pytest
import structlog
from pydantic import SecretStr

from calbridge.logs import REDACTED, configure_logging


def test_sensitive_fields_are_redacted_in_json_logs(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "info")
    log = structlog.get_logger("test")
    log.info(
        "published",
        calendar="c1",
        count=3,
        channel_token="tok-123",
        client_state="cs-456",
        subject="Secret merger",
        attendee_emails=["a@example.com"],
        amqp=SecretStr("amqp://u:p@h/"),
    )
    structlog.reset_defaults()
    line = orjson.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["event"] == "published" and line["calendar"] == "c1" and line["count"] == 3
    for key in ("channel_token", "client_state", "subject", "attendee_emails", "amqp"):
        assert line[key] == REDACTED
    assert "tok-123" not in str(line) and "a@example.com" not in str(line)
