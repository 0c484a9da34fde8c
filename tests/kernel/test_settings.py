"""Settings fail at start with the variable's name, and never print secrets."""

from __future__ import annotations

import pytest

from calbridge.errors import ConfigurationError
from calbridge.settings import load_settings

GOOD_KEY = "k1:" + "s" * 40


def test_defaults_need_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CALBRIDGE_AMQP_URL", "CALBRIDGE_DATABASE_URL", "CALBRIDGE_SIGNING_KEYS"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.amqp_url is None
    assert settings.database_url.get_secret_value().startswith("sqlite+aiosqlite:///")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CALBRIDGE_SHARD_COUNT", "zero"),
        ("CALBRIDGE_SHARD_COUNT", "0"),
        ("CALBRIDGE_RECEIVER_PORT", "70000"),
        ("CALBRIDGE_LOG_FORMAT", "xml"),
        ("CALBRIDGE_SIGNING_KEYS", "nokid"),
        ("CALBRIDGE_SIGNING_KEYS", "k1:tooshort"),
        ("CALBRIDGE_SIGNING_KEYS", f"{GOOD_KEY},{GOOD_KEY}"),
        ("CALBRIDGE_RETRY_DELAYS", "1,x"),
        ("CALBRIDGE_PUBLIC_URL", "not a url"),
    ],
)
def test_bad_configuration_names_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert name in str(caught.value)


def test_given_a_plain_http_public_url_when_starting_then_one_line_says_it_must_be_https(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CALBRIDGE_PUBLIC_URL", "http://hooks.example.com")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    (line,) = [x for x in str(caught.value).splitlines() if "CALBRIDGE_PUBLIC_URL" in x]
    assert "https://" in line


@pytest.mark.parametrize(
    "url",
    ["https://hooks.example.com", "http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080"],
)
def test_given_https_or_a_loopback_receiver_when_starting_then_the_public_url_is_taken(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("CALBRIDGE_PUBLIC_URL", url)
    assert str(load_settings().public_url).rstrip("/") == url


def test_a_bad_secret_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALBRIDGE_SIGNING_KEYS", "k1:hunter2hunter2")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert "hunter2" not in str(caught.value)


def test_secrets_are_masked_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALBRIDGE_AMQP_URL", "amqp://u:very-secret@127.0.0.1/")
    monkeypatch.setenv("CALBRIDGE_SIGNING_KEYS", GOOD_KEY)
    settings = load_settings()
    assert "very-secret" not in repr(settings) and "s" * 40 not in repr(settings)
    assert settings.signing_key_map() == {"k1": b"s" * 40}


def test_retry_delays_parse_from_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALBRIDGE_RETRY_DELAYS", "0.5, 2,10")
    assert load_settings().retry_delays == (0.5, 2.0, 10.0)


def test_configuration_doc_lists_every_setting() -> None:
    from pathlib import Path

    from calbridge_app.cli.config import settings_reference

    doc = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text()
    assert settings_reference() in doc, "regenerate the table with `calbridge config reference`"
