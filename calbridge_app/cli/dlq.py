"""`calbridge dlq ...`: inspect, replay and purge dead-lettered change events.

Every command first moves the messages waiting in calbridge.dlq into the store's dead_letters
table (idempotent), then works on the table.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import typer

from calbridge.settings import Settings
from calbridge_app.cli.common import console, fail, run, settings_or_exit

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from processor.deadletters import DeadLetterFilter

__all__ = ["app", "parse_since"]

app = typer.Typer(help="Dead-lettered change events: list, show, replay, purge.", no_args_is_help=True)

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str | None, now: datetime) -> datetime | None:
    """`30m`, `2h`, `7d` (ago) or an ISO timestamp (UTC when no zone is given)."""
    if text is None:
        return None
    match = _DURATION.match(text.strip())
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(f"{text!r} is neither a duration like 2h nor an ISO timestamp") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


_PAIR = typer.Option(None, "--pair", help="Only this pair.")
_CALENDAR = typer.Option(None, "--calendar", help="Only this calendar ref.")
_ERROR = typer.Option(None, "--error-contains", help="Only errors containing this text.")
_SINCE = typer.Option(None, "--since", help="Only failures since: a duration (30m, 2h, 7d) or an ISO time.")
_IDS = typer.Option(None, "--id", help="Only these ids (repeatable).")


def _filter(
    ids: list[str] | None, pair: str | None, calendar: str | None, error: str | None, since: str | None
) -> DeadLetterFilter:
    from processor.deadletters import DeadLetterFilter

    return DeadLetterFilter(
        ids=ids or None,
        pair=pair,
        calendar=calendar,
        error_contains=error,
        since=parse_since(since, datetime.now(UTC)),
    )


async def _collected(settings: Settings) -> AsyncEngine:
    """The store engine, after moving calbridge.dlq's messages into it."""
    from calbridge.store import create_engine
    from processor.deadletters import collect_amqp

    if settings.amqp_url is None:
        fail("CALBRIDGE_AMQP_URL is not set: the dead-letter queue lives on RabbitMQ")
    engine = create_engine(settings.database_url.get_secret_value())
    moved = await collect_amqp(settings.amqp_url.get_secret_value(), engine)
    if moved:
        console.print(f"moved {moved} message(s) from calbridge.dlq into the store")
    return engine


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


@app.command("list")
def list_(
    pair: str | None = _PAIR,
    calendar: str | None = _CALENDAR,
    error_contains: str | None = _ERROR,
    since: str | None = _SINCE,
    ids: list[str] | None = _IDS,
) -> None:
    """List dead-lettered change events (oldest last failure first)."""
    settings = settings_or_exit()
    where = _filter(ids, pair, calendar, error_contains, since)

    async def main() -> None:
        from rich.table import Table

        from processor.deadletters import find_dead_letters

        engine = await _collected(settings)
        try:
            rows = await find_dead_letters(engine, where)
        finally:
            await engine.dispose()
        table = Table(
            "id", "pair", "calendar", "error", "attempts", "first failure", "last failure", "replayed"
        )
        for row in rows:
            table.add_row(
                row.id,
                row.pair_id or "-",
                row.calendar_id or "-",
                row.error if len(row.error) <= 80 else row.error[:79] + "…",
                str(row.attempts),
                _when(row.first_failed_at),
                _when(row.last_failed_at),
                _when(row.replayed_at),
            )
        console.print(table)
        console.print(f"{len(rows)} dead-lettered change event(s)")

    run(main())


@app.command()
def show(message_id: str = typer.Argument(..., help="The id from `dlq list`.")) -> None:
    """Show one dead-lettered change event: its error, attempts and envelope."""
    settings = settings_or_exit()

    async def main() -> None:
        from processor.deadletters import DeadLetterFilter, find_dead_letters

        engine = await _collected(settings)
        try:
            rows = await find_dead_letters(engine, DeadLetterFilter(ids=[message_id]))
        finally:
            await engine.dispose()
        if not rows:
            fail(f"no dead-lettered message with id {message_id}")
        row = rows[0]
        for label, value in (
            ("id", row.id),
            ("queue", row.queue),
            ("pair", row.pair_id or "-"),
            ("calendar", row.calendar_id or "-"),
            ("error", row.error),
            ("attempts", str(row.attempts)),
            ("first failure", _when(row.first_failed_at)),
            ("last failure", _when(row.last_failed_at)),
            ("replayed", _when(row.replayed_at)),
        ):
            console.print(f"[bold]{label:>14}[/] {value}", highlight=False)
        console.print(f"[bold]{'envelope':>14}[/] {row.body.decode(errors='replace')}", highlight=False)

    run(main())


@app.command()
def replay(
    pair: str | None = _PAIR,
    calendar: str | None = _CALENDAR,
    error_contains: str | None = _ERROR,
    since: str | None = _SINCE,
    ids: list[str] | None = _IDS,
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be replayed; publish nothing."),
) -> None:
    """Publish matching change events again (safe to repeat: the processor re-reads the calendar)."""
    settings = settings_or_exit()
    where = _filter(ids, pair, calendar, error_contains, since)

    async def main() -> None:
        from rich.progress import Progress

        from calbridge.bus import open_bus
        from processor.deadletters import find_dead_letters, replay_dead_letters

        engine = await _collected(settings)
        bus = open_bus(settings)
        try:
            total = len(await find_dead_letters(engine, where))
            await bus.connect()
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task("replaying" if not dry_run else "checking", total=total)
                report = await replay_dead_letters(
                    engine, bus, where, dry_run=dry_run, progress=lambda _row: progress.advance(task)
                )
        finally:
            await bus.close()
            await engine.dispose()
        verb = "would replay" if dry_run else "replayed"
        console.print(
            f"{verb} {report.replayed} change event(s); {report.skipped} not replayable (malformed)"
        )
        if report.replayed and not dry_run:
            console.print("watch them with `calbridge dlq list --since 10m`: one that fails again comes back")

    run(main())


@app.command()
def purge(
    pair: str | None = _PAIR,
    calendar: str | None = _CALENDAR,
    error_contains: str | None = _ERROR,
    since: str | None = _SINCE,
    ids: list[str] | None = _IDS,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Delete matching dead-lettered change events for good."""
    settings = settings_or_exit()
    where = _filter(ids, pair, calendar, error_contains, since)

    async def count_then_purge() -> None:
        from processor.deadletters import find_dead_letters, purge_dead_letters

        engine = await _collected(settings)
        try:
            matching = len(await find_dead_letters(engine, where))
            if matching == 0:
                console.print("nothing matches; nothing purged")
                return
            if not yes and not typer.confirm(f"purge {matching} dead-lettered change event(s)?"):
                console.print("nothing purged")
                return
            purged = await purge_dead_letters(engine, where)
        finally:
            await engine.dispose()
        console.print(f"purged {purged} dead-lettered change event(s)")

    run(count_then_purge())
