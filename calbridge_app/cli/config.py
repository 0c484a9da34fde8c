"""`calbridge config ...`: what the process would run with, and the reference table of settings."""

from __future__ import annotations

from datetime import timedelta

import typer
from pydantic import SecretStr
from pydantic.fields import FieldInfo
from rich.table import Table

from calbridge.settings import ENV_PREFIX, Settings, format_duration
from calbridge_app.cli.common import console, settings_or_exit

app = typer.Typer(help="Inspect configuration.", no_args_is_help=True)


def _default(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "(unset)"
    if isinstance(value, SecretStr):
        return f"`{value.get_secret_value()}`"
    if isinstance(value, timedelta):
        return f"`{format_duration(value)}`"
    if isinstance(value, tuple):
        return "`" + ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value) + "`"
    return f"`{value}`"


def settings_reference() -> str:
    """The Markdown table of every setting; docs/configuration.md must contain it verbatim."""
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{ENV_PREFIX}{name.upper()}` | {_default(field)} | {description} |")
    return "\n".join(rows) + "\n"


@app.command()
def show() -> None:
    """Print the effective settings, secrets masked."""
    settings = settings_or_exit()
    table = Table("variable", "value", box=None)
    for name in Settings.model_fields:
        table.add_row(f"{ENV_PREFIX}{name.upper()}", _shown(name, getattr(settings, name)))
    console.print(table)


_URLS = {"database_url", "amqp_url"}


def _shown(name: str, value: object) -> str:
    """A setting as a person wrote it: URLs with only their password masked, durations as `1d`."""
    if value is None:
        return "(unset)"
    if isinstance(value, SecretStr):
        if name in _URLS:
            from calbridge.store.urls import masked

            return masked(value.get_secret_value())
        return "********"
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, tuple):
        return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return str(value)


@app.command()
def reference() -> None:
    """Print the Markdown reference table of all settings (as in docs/configuration.md)."""
    typer.echo(settings_reference(), nl=False)
