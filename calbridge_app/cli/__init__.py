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
    pairs,
    processor,
    receiver,
    renewer,
    sandbox,
)

app = typer.Typer(
    name="calbridge",
    help="Keep Google Workspace and Microsoft 365 / Exchange calendars in step.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)
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


def main() -> None:
    app()
