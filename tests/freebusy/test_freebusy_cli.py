"""`calbridge freebusy`: a timeline an admin can read at 100 columns, errors shown per row."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import uvicorn
from freebusy_doubles import KEY, KEYS, make_lookup, three_sources
from rich.console import Console
from typer.testing import CliRunner

from calbridge.freebusy.app import create_freebusy_app
from calbridge.freebusy.models import FreeBusyResponse
from calbridge.freebusy.timeline import render_timeline
from calbridge_app.cli import app
from calbridge_app.cli.freebusy import choose_window

UTC = ZoneInfo("UTC")
ANSWER = {
    "start": "2026-11-23T00:00:00Z",
    "end": "2026-11-24T00:00:00Z",
    "timeZone": "UTC",
    "results": {
        "ada@example.com": {
            "busy": [
                {"start": "2026-11-23T09:00:00Z", "end": "2026-11-23T11:00:00Z", "status": "busy"},
                {"start": "2026-11-23T14:00:00Z", "end": "2026-11-23T15:00:00Z", "status": "tentative"},
            ]
        },
        "linus@fabrikam.com": {
            "busy": [{"start": "2026-11-23T00:00:00Z", "end": "2026-11-24T00:00:00Z", "status": "oof"}]
        },
        "a-very-long-address-of-a-meeting-room@rooms.contoso.com": {"busy": []},
        "nobody@nowhere.org": {
            "error": {"code": "unknownAddress", "message": "no connection serves this address"}
        },
    },
}


def draw(answer: dict, width: int = 100) -> list[str]:  # type: ignore[type-arg]
    console = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(render_timeline(FreeBusyResponse.model_validate(answer), width))
    return console.export_text().rstrip("\n").split("\n")


def test_given_an_answer_when_drawn_at_100_columns_then_every_line_fits_and_each_address_has_a_row() -> None:
    lines = draw(ANSWER)
    assert all(len(line) <= 100 for line in lines)
    assert len(lines) == 1 + 4 + 1  # header, one row per address, legend
    assert lines[1].startswith("ada@example.com")
    assert lines[3].startswith("a-very-long-address-of-a-me…")  # long names are cut, not wrapped
    assert "unknownAddress: no connection serves this address" in lines[4]


def test_given_busy_blocks_then_they_are_drawn_where_they_fall_in_the_window() -> None:
    lines = draw(ANSWER)
    bar = lines[1][-71:]  # 100 columns less the 28 of the names and a space
    per_hour = len(bar) / 24
    assert bar[int(10 * per_hour)] == "█"  # busy at 10:00
    assert bar[int(14.5 * per_hour)] == "▒"  # tentative at 14:30
    assert bar[int(12 * per_hour)] == "·"  # free at noon
    assert set(lines[2][-71:]) == {"▓"}  # a whole day out of office


def test_given_a_day_then_the_header_marks_hours() -> None:
    header = draw(ANSWER)[0]
    assert "Mon 23" in header and "06:00" in header and "12:00" in header


def test_given_a_week_then_the_header_marks_days_and_still_fits() -> None:
    week = {**ANSWER, "end": "2026-11-30T00:00:00Z"}
    lines = draw(week)
    assert "Tue 24" in lines[0] or "Wed 25" in lines[0]
    assert all(len(line) <= 100 for line in lines)


def test_given_options_then_the_window_is_chosen_as_documented() -> None:
    now = datetime(2026, 11, 23, 9, 41, tzinfo=UTC)
    assert choose_window(None, None, None, UTC, now) == (
        datetime(2026, 11, 23, tzinfo=UTC),
        datetime(2026, 11, 24, tzinfo=UTC),
    )
    assert choose_window(None, None, 2, UTC, now) == (
        datetime(2026, 11, 23, 9, tzinfo=UTC),
        datetime(2026, 11, 25, 9, tzinfo=UTC),
    )
    berlin = ZoneInfo("Europe/Berlin")
    start, end = choose_window("2026-11-23T08:00", "2026-11-23T18:00", None, berlin, now)
    assert start == datetime(2026, 11, 23, 8, tzinfo=berlin) and end == datetime(
        2026, 11, 23, 18, tzinfo=berlin
    )


@contextmanager
def serving(app: object) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread on a free loopback port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


@pytest.mark.integration
def test_given_a_running_api_when_the_command_asks_it_then_the_timeline_shows_every_address() -> None:
    api = create_freebusy_app(make_lookup(three_sources()), keys=KEYS)
    with serving(api) as url:
        result = CliRunner().invoke(
            app,
            [
                "freebusy",
                "ada@example.com",
                "grace@contoso.com",
                "x@nowhere.org",
                "--start",
                "2026-11-23T06:00:00Z",
                "--end",
                "2026-11-23T20:00:00Z",
                "--url",
                url,
                "--width",
                "100",
            ],
            env={"CALBRIDGE_FREEBUSY_TOKEN": KEY, "COLUMNS": "100"},
        )
    assert result.exit_code == 0, result.output
    # The server runs in this process: leave its log lines out of what the command printed.
    lines = [line for line in result.output.splitlines() if "freebusy_answered" not in line]
    assert all(len(line) <= 100 for line in lines)
    assert any(line.startswith("ada@example.com") and "█" in line for line in lines)
    assert any(line.startswith("grace@contoso.com") and "▒" in line for line in lines)
    assert any(line.startswith("x@nowhere.org") and "unknownAddress" in line for line in lines)
    assert "1 of 3 addresses could not be answered" in result.output


@pytest.mark.integration
def test_given_a_wrong_token_then_the_command_fails_with_the_servers_reason() -> None:
    api = create_freebusy_app(make_lookup(three_sources()), keys=KEYS)
    with serving(api) as url:
        result = CliRunner().invoke(
            app,
            ["freebusy", "ada@example.com", "--url", url, "--token-file", "-"],
            env={"COLUMNS": "100"},
            input="w" * 40 + "\n",
        )
    assert result.exit_code == 1
    assert "403" in result.output and "this key is not accepted" in result.output


def test_given_bad_options_then_the_command_says_what_is_wrong() -> None:
    runner = CliRunner()
    assert (
        "not an IANA time zone"
        in runner.invoke(app, ["freebusy", "a@example.com", "--zone", "Nowhere/X"]).output
    )
    both = runner.invoke(app, ["freebusy", "a@example.com", "--end", "2026-11-24", "--days", "1"])
    assert both.exit_code == 2 and "not both" in both.output  # a usage error
    no_token = runner.invoke(
        app,
        ["freebusy", "a@example.com", "--url", "http://127.0.0.1:9"],
        env={"CALBRIDGE_FREEBUSY_TOKEN": ""},
    )
    assert "needs a bearer key" in no_token.output


def test_given_no_url_and_no_connections_store_then_the_command_says_to_use_url(tmp_path: object) -> None:
    result = CliRunner().invoke(app, ["freebusy", "a@example.com"], env={"CALBRIDGE_FREEBUSY_URL": ""})
    assert result.exit_code == 2
    assert "--url" in result.output


def test_given_a_missing_key_file_when_asking_a_remote_api_then_one_line_names_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "freebusy",
            "ada@example.com",
            "--url",
            "https://fb.example",
            "--token-file",
            str(tmp_path / "nope"),
        ],
    )
    assert result.exit_code == 2
    assert "cannot read the key file" in result.output and len(result.output.strip().splitlines()) == 1
