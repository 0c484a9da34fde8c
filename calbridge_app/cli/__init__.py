"""The `calbridge` command. Each area registers its commands from its own module; heavy
imports happen inside the commands so that `calbridge --help` stays instant."""

from __future__ import annotations

import typer

from calbridge_app.cli import (
    config,
    connections,
    db,
    demo,
    dlq,
    ews_listener,
    freebusy,
    meetings,
    pairs,
    processor,
    receiver,
    renewer,
    sandbox,
)
from calbridge_app.cli.common import LOG_CHOICE, LogChoice, console
from calbridge_app.cli.failures import ExplainingGroup

app = typer.Typer(
    cls=ExplainingGroup,
    name="calbridge",
    help="Keep Google Workspace and Microsoft 365 / Exchange calendars in step.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        console.print(f"calbridge {version('calbridge')}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: int = typer.Option(
        0, "--verbose", "-v", count=True, help="Log more: -v info, -vv debug (commands log warnings only)."
    ),
    log_format: str | None = typer.Option(
        None, "--log-format", help="console or json; services log as CALBRIDGE_LOG_FORMAT says."
    ),
    _show_version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    if log_format not in (None, "console", "json"):
        raise typer.BadParameter("choose console or json", param_hint="--log-format")
    LOG_CHOICE.set(LogChoice(verbose, log_format))


app.add_typer(config.app, name="config")
app.add_typer(db.app, name="db")
app.add_typer(connections.app, name="connections")
app.add_typer(dlq.app, name="dlq")
app.add_typer(pairs.app, name="pairs")
app.command("demo")(demo.demo)
app.command("processor")(processor.processor)
app.command("receiver")(receiver.receiver)
app.command("ews-listener")(ews_listener.ews_listener)
app.command("renewer")(renewer.renewer)
app.command("sandbox")(sandbox.sandbox)
app.command("freebusy")(freebusy.freebusy)
app.command("meetings")(meetings.meetings)


def main() -> None:
    app()
