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


def test_given_a_library_logs_a_url_with_a_token_then_our_lines_keep_only_its_path(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import logging

    from calbridge.logs import configure_logging

    # Given our logging, and a library (the broker client) that logs a URL with a token in it
    configure_logging("json", "info")
    logging.getLogger("aio_pika.test").warning("GET https://h/notify?validationToken=abc123secret done")
    # And a chatty HTTP client that logs every request at INFO
    logging.getLogger("httpx").info("HTTP Request: POST https://h/x?token=zzz999")
    err = capsys.readouterr().err
    # Then the library's line comes out as JSON, with the query redacted, and the INFO chatter not at all
    assert '"logger": "aio_pika.test"' in err and "?[redacted]" in err
    assert "abc123secret" not in err and "zzz999" not in err
