"""`calbridge db ...`: database migrations."""

from __future__ import annotations

import typer

from calbridge_app.cli.common import console, fail, settings_or_exit

app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Migrate the database (CALBRIDGE_DATABASE_URL) to the newest schema. Safe to repeat."""
    from sqlalchemy.exc import OperationalError

    from calbridge.store.migrate import current_revision_sync
    from calbridge.store.migrate import upgrade as do_upgrade

    settings = settings_or_exit()
    url = settings.database_url.get_secret_value()
    try:
        before = current_revision_sync(url)
        do_upgrade(url, revision)
        after = current_revision_sync(url)
    except (OperationalError, OSError) as exc:
        fail(
            f"cannot reach the database at {_redacted(url)}: {exc.__class__.__name__}: {exc}".splitlines()[0]
        )
    if before == after:
        console.print(f"database {_redacted(url)} is already at revision [bold]{after}[/]")
    else:
        console.print(f"database {_redacted(url)} migrated from {before or 'empty'} to [bold]{after}[/]")


@app.command()
def current() -> None:
    """Print the database's schema revision and the newest one this build knows."""
    from calbridge.store.migrate import current_revision_sync, head_revision

    settings = settings_or_exit()
    url = settings.database_url.get_secret_value()
    console.print(f"current: {current_revision_sync(url) or 'empty'}   head: {head_revision()}")
