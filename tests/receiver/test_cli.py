"""`calbridge receiver`: refuses to start misconfigured, names the variables, serves with uvloop."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from receiver_fixtures import RecordingBus, make_settings
from starlette.testclient import TestClient
from typer.testing import CliRunner

from calbridge_app.cli import app as cli
from calbridge_app.cli.receiver import server_config, startup_problems

KEYS_ENV = "k1:" + "a" * 32


def output(result: object) -> str:
    text = getattr(result, "output", "")
    with contextlib.suppress(ValueError):  # older click: stderr not captured separately
        text += getattr(result, "stderr", "")
    return " ".join(text.split())


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in ("CALBRIDGE_SIGNING_KEYS", "CALBRIDGE_AMQP_URL", "CALBRIDGE_RECEIVER_PORT"):
        monkeypatch.delenv(name, raising=False)
    thresholds = gc.get_threshold()
    yield monkeypatch
    gc.unfreeze()  # the worker factory tunes the collector; the rest of the test run keeps the default
    gc.set_threshold(*thresholds)


def test_given_neither_keys_nor_broker_then_it_refuses_naming_both_variables(
    clean_env: pytest.MonkeyPatch,
) -> None:
    result = CliRunner().invoke(cli, ["receiver"])
    assert result.exit_code == 2
    assert "CALBRIDGE_SIGNING_KEYS" in output(result)
    assert "CALBRIDGE_AMQP_URL" in output(result)


def test_given_keys_but_the_memory_bus_then_it_refuses(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CALBRIDGE_SIGNING_KEYS", KEYS_ENV)
    result = CliRunner().invoke(cli, ["receiver"])
    assert result.exit_code == 2
    assert "CALBRIDGE_AMQP_URL" in output(result)
    assert "CALBRIDGE_SIGNING_KEYS" not in output(result)


def test_given_a_build_without_a_bus_implementation_then_it_says_so(clean_env: pytest.MonkeyPatch) -> None:
    import calbridge.bus

    clean_env.setenv("CALBRIDGE_SIGNING_KEYS", KEYS_ENV)
    clean_env.setenv("CALBRIDGE_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    clean_env.delattr(calbridge.bus, "open_bus", raising=False)
    result = CliRunner().invoke(cli, ["receiver"])
    assert result.exit_code == 2
    assert "calbridge.bus.open_bus" in output(result)


def test_given_flags_then_they_override_the_settings_in_the_server_config() -> None:
    settings = make_settings(receiver_port=9000, receiver_workers=3, receiver_host="127.0.0.1")
    config = server_config(settings)
    assert (config["host"], config["port"], config["workers"]) == ("127.0.0.1", 9000, 3)
    assert (config["loop"], config["http"], config["access_log"]) == ("uvloop", "httptools", False)
    assert config["app"] == "receiver.asgi:build_app" and config["factory"] is True
    assert config["timeout_graceful_shutdown"] >= settings.ack_budget


def test_given_a_complete_configuration_then_no_problems() -> None:
    settings = make_settings(amqp_url=SecretStr("amqp://guest:guest@127.0.0.1:5672/"))
    assert startup_problems(settings) == []


def test_given_a_bus_implementation_then_the_worker_factory_serves(clean_env: pytest.MonkeyPatch) -> None:
    import calbridge.bus
    from receiver.asgi import build_app

    bus = RecordingBus()
    clean_env.setenv("CALBRIDGE_SIGNING_KEYS", KEYS_ENV)
    clean_env.setattr(calbridge.bus, "open_bus", lambda settings: bus, raising=False)
    with TestClient(build_app()) as client:
        assert client.get("/readyz").status_code == 200
    assert (bus.connects, bus.closes) == (1, 1)


def test_the_worker_factory_freezes_start_up_objects_and_collects_less_often(
    clean_env: pytest.MonkeyPatch,
) -> None:
    import calbridge.bus
    from receiver.asgi import build_app

    clean_env.setenv("CALBRIDGE_SIGNING_KEYS", KEYS_ENV)
    clean_env.setattr(calbridge.bus, "open_bus", lambda settings: RecordingBus(), raising=False)
    build_app()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] >= 10_000
