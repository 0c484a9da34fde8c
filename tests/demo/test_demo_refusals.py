"""`calbridge demo` never writes into an operator's store or broker unless told to on purpose."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from calbridge_app.cli import app


@pytest.mark.parametrize("variable", ["CALBRIDGE_DATABASE_URL", "CALBRIDGE_AMQP_URL"])
def test_given_an_operators_shell_when_the_demo_runs_then_it_refuses_and_touches_nothing(
    tmp_path: Path, variable: str
) -> None:
    # Given a shell where an operator exported the real store's (or broker's) URL
    store = tmp_path / "operator.db"
    env = {
        "CALBRIDGE_DATABASE_URL": f"sqlite:///{store}",
        "CALBRIDGE_AMQP_URL": "amqp://ops:secret@127.0.0.1:5672/prod",
    }
    env = {variable: env[variable]}
    # When the demo is started without naming that store on purpose
    result = CliRunner().invoke(app, ["demo"], env=env)
    # Then it refuses in one line that says how to go ahead, and the store was never created
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0] and "--" in lines[0]
    assert "secret" not in result.output
    assert not store.exists()


def test_given_a_malformed_database_url_when_the_demo_runs_then_it_exits_2_without_a_traceback() -> None:
    result = CliRunner().invoke(app, ["demo", "--database-url", "::not a url::"], env={})
    assert result.exit_code == 2
    assert "CALBRIDGE_DATABASE_URL" in result.output and "Traceback" not in result.output
