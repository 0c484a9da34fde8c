"""`calbridge dlq ...`: inspect, replay and purge dead-lettered change events.

Every command first moves the messages waiting in calbridge.dlq into the store's dead_letters
table (idempotent), then works on the table. Wherever an id is taken, an unambiguous prefix of
it will do: `dlq list` shows each id as its shortest such prefix (at least 8 characters), so
the table fits 80 columns, and `--json` has the whole ids.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from calbridge.errors import ConfigurationError
from calbridge.settings import ENV_PREFIX, Settings
from calbridge_app.cli.common import EXIT_CONFIG, console, err_console, fail, run, settings_or_exit
from calbridge_app.cli.humanize import relative

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from processor.deadletters import DeadLetterFilter, DeadLetterRow

__all__ = ["app", "dead_letters_table", "parse_since"]

app = typer.Typer(help="Dead-lettered change events: list, show, replay, purge.", no_args_is_help=True)

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
STATE_STYLES = {"waiting": "yellow", "replayed": "green", "failed": "bold red"}


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


_Pair = Annotated[str | None, typer.Option("--pair", help="Only this pair (its id or a prefix).")]
_Calendar = Annotated[str | None, typer.Option("--calendar", help="Only this calendar ref.")]
_ErrorContains = Annotated[
    str | None, typer.Option("--error-contains", help="Only errors containing this text.")
]
_Since = Annotated[
    str | None,
    typer.Option("--since", help="Only failures since: a duration (30m, 2h, 7d) or an ISO time."),
]
_IdOptions = Annotated[
    list[str] | None, typer.Option("--id", help="Only these ids or id prefixes (repeatable).")
]
_IdArguments = Annotated[
    list[str] | None,
    typer.Argument(help="Ids from `dlq list`, or unambiguous prefixes of them.", show_default=False),
]
_States = Annotated[
    list[str] | None,
    typer.Option(
        "--state",
        help="Only entries in this state (repeatable): waiting (never replayed), replayed, "
        "failed (dead-lettered again after a replay).",
    ),
]
_JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output (whole ids).")]


def _filter(
    pair: str | None,
    calendar: str | None,
    error: str | None,
    since: str | None,
    states: list[str] | None,
) -> DeadLetterFilter:
    """The filter without ids (those are resolved against the store once it is collected)."""
    from processor.deadletters import DeadLetterFilter, DeadLetterState

    allowed = [state.value for state in DeadLetterState]
    for state in states or []:
        if state not in allowed:
            raise typer.BadParameter(f"{state!r} is not one of {', '.join(allowed)}", param_hint="--state")
    return DeadLetterFilter(
        pair=pair,
        calendar=calendar,
        error_contains=error,
        since=parse_since(since, datetime.now(UTC)),
        states=[DeadLetterState(state) for state in states or []] or None,
    )


async def _collected(settings: Settings) -> AsyncEngine:
    """The store engine, after moving calbridge.dlq's messages into it."""
    from calbridge.store import create_engine
    from processor.deadletters import collect_amqp

    if settings.amqp_url is None:
        raise ConfigurationError(f"{ENV_PREFIX}AMQP_URL is not set: the dead-letter queue lives on RabbitMQ")
    engine = create_engine(settings.database_url.get_secret_value())
    try:
        moved = await collect_amqp(settings.amqp_url.get_secret_value(), engine)
    except BaseException:
        await engine.dispose()
        raise
    if moved:
        err_console.print(f"moved {moved} message(s) from calbridge.dlq into the store", highlight=False)
    return engine


async def _with_ids(engine: AsyncEngine, where: DeadLetterFilter, texts: list[str]) -> DeadLetterFilter:
    """`where` narrowed to the entries `texts` name, its `--pair` prefix completed. An id that
    names none exits 1, a prefix that names several exits 2 listing them; both before anything
    is done."""
    import dataclasses

    from calbridge.store.ids import AmbiguousId
    from processor.deadletters import DeadLetterNotFound, resolve_ids, resolve_pair

    try:
        if where.pair is not None:
            where = dataclasses.replace(where, pair=await resolve_pair(engine, where.pair))
        if texts:
            where = dataclasses.replace(where, ids=await resolve_ids(engine, texts))
    except DeadLetterNotFound as exc:
        fail(str(exc))
    except AmbiguousId as exc:
        fail(str(exc), EXIT_CONFIG)
    return where


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def _cut(text: str, style: str = "") -> Text:
    return Text(text, style=style, no_wrap=True, overflow="ellipsis")


def dead_letters_table(rows: list[DeadLetterRow], short: dict[str, str], now: datetime) -> Table:
    """The `dlq list` table: one line per entry at any width, 80 columns included. Ids are the
    shortest unambiguous prefixes (every dlq command takes them); the error, which names the
    pair the table already shows, takes the rest of the line and is cut with an ellipsis
    (`dlq show` has it whole)."""
    table = Table(box=None, pad_edge=False, header_style="bold underline", padding=(0, 1, 0, 0), expand=True)
    for name in ("id", "state", "pair", "calendar"):
        table.add_column(name, no_wrap=True)
    table.add_column("tries", no_wrap=True, justify="right")
    table.add_column("failed", no_wrap=True)
    table.add_column("error", ratio=1, min_width=10)
    for row in rows:
        error = row.error.removeprefix(f"pair={row.pair_id} ") if row.pair_id else row.error
        table.add_row(
            short.get(row.id, row.id),
            Text(row.state.value, style=STATE_STYLES[row.state.value]),
            row.pair_id or "-",
            row.calendar_id or "-",
            str(row.attempts),
            relative(row.last_failed_at, now),
            _cut(error, "red"),
        )
    return table


@app.command("list")
def list_(
    pair: _Pair = None,
    calendar: _Calendar = None,
    error_contains: _ErrorContains = None,
    since: _Since = None,
    ids: _IdOptions = None,
    state: _States = None,
    as_json: _JsonOption = False,
) -> None:
    """List dead-lettered change events (oldest last failure first), with their state."""
    settings = settings_or_exit()
    where = _filter(pair, calendar, error_contains, since, state)

    async def main() -> None:
        from processor.deadletters import DeadLetterState, find_dead_letters, short_ids

        engine = await _collected(settings)
        try:
            rows = await find_dead_letters(engine, await _with_ids(engine, where, ids or []))
            short = await short_ids(engine)
        finally:
            await engine.dispose()
        if as_json:
            typer.echo(json.dumps([row.as_json() for row in rows], indent=2))
            return
        if not rows:
            filtered = any((pair, calendar, error_contains, since, ids, state))
            console.print("no dead-lettered change events" + (" match" if filtered else ""))
            return
        console.print(dead_letters_table(rows, short, datetime.now(UTC)))
        counts = {s.value: sum(row.state is s for row in rows) for s in DeadLetterState}
        parts = ", ".join(f"[{STATE_STYLES[s]}]{n} {s}[/]" for s, n in counts.items() if n)
        console.print(f"{len(rows)} dead-lettered change event(s): {parts}", highlight=False)

    run(main())


@app.command()
def show(
    message_id: Annotated[str, typer.Argument(help="The id from `dlq list`, or a prefix of it.")],
    as_json: _JsonOption = False,
) -> None:
    """Show one dead-lettered change event: its state, error, attempts and envelope."""
    from processor.deadletters import DeadLetterFilter

    settings = settings_or_exit()

    async def main() -> None:
        from processor.deadletters import find_dead_letters

        engine = await _collected(settings)
        try:
            where = await _with_ids(engine, DeadLetterFilter(), [message_id])
            (row,) = await find_dead_letters(engine, where)
        finally:
            await engine.dispose()
        envelope = row.body.decode(errors="replace")
        if as_json:
            typer.echo(json.dumps({**row.as_json(), "envelope": envelope}, indent=2))
            return
        replays = f"{row.replays}, the latest {_when(row.replayed_at)}" if row.replays else "none"
        for label, value in (
            ("id", row.id),
            ("state", row.state.value),
            ("queue", row.queue),
            ("pair", row.pair_id or "-"),
            ("calendar", row.calendar_id or "-"),
            ("error", row.error),
            ("attempts", str(row.attempts)),
            ("first failure", _when(row.first_failed_at)),
            ("last failure", _when(row.last_failed_at)),
            ("replays", replays),
            ("envelope", envelope),
        ):
            console.print(f"[bold]{label:>14}[/] {value}", highlight=False)

    run(main())


@app.command()
def replay(
    message_ids: _IdArguments = None,
    ids: _IdOptions = None,
    pair: _Pair = None,
    calendar: _Calendar = None,
    error_contains: _ErrorContains = None,
    since: _Since = None,
    state: _States = None,
    dry_run: bool = typer.Option(False, "--dry-run", help="Say what would be replayed; publish nothing."),
) -> None:
    """Publish change events again: the ones named, or all that match the filters (safe to
    repeat: the processor re-reads the calendar). `dlq replay --state waiting` replays every
    entry never replayed."""
    settings = settings_or_exit()
    where = _filter(pair, calendar, error_contains, since, state)

    async def main() -> None:
        from rich.progress import Progress

        from calbridge.bus import open_bus
        from processor.deadletters import find_dead_letters, replay_dead_letters

        engine = await _collected(settings)
        try:
            chosen = await _with_ids(engine, where, [*(message_ids or []), *(ids or [])])
            total = len(await find_dead_letters(engine, chosen))
            if total == 0:
                console.print("no dead-lettered change event matches; nothing replayed")
                return
            bus = open_bus(settings)
            try:
                await bus.connect()
                # a bar only on a terminal: piped, it would leave an empty line
                with Progress(
                    console=err_console, transient=True, disable=not err_console.is_terminal
                ) as progress:
                    task = progress.add_task("replaying" if not dry_run else "checking", total=total)
                    report = await replay_dead_letters(
                        engine, bus, chosen, dry_run=dry_run, progress=lambda _row: progress.advance(task)
                    )
            finally:
                await bus.close()
        finally:
            await engine.dispose()
        verb = "would replay" if dry_run else "replayed"
        skipped = f"; {report.skipped} not replayable (malformed)" if report.skipped else ""
        console.print(f"{verb} {report.replayed} change event(s){skipped}", highlight=False)
        if report.replayed and not dry_run:
            console.print(
                "watch them with `calbridge dlq list --state failed`: one that fails again shows there"
            )

    run(main())


@app.command()
def purge(
    message_ids: _IdArguments = None,
    ids: _IdOptions = None,
    pair: _Pair = None,
    calendar: _Calendar = None,
    error_contains: _ErrorContains = None,
    since: _Since = None,
    state: _States = None,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Delete dead-lettered change events for good: the ones named, or all that match the
    filters (`dlq purge --state replayed` clears the entries replayed successfully). Asks first."""
    settings = settings_or_exit()
    where = _filter(pair, calendar, error_contains, since, state)

    async def count_then_purge() -> None:
        from processor.deadletters import find_dead_letters, purge_dead_letters

        engine = await _collected(settings)
        try:
            chosen = await _with_ids(engine, where, [*(message_ids or []), *(ids or [])])
            matching = len(await find_dead_letters(engine, chosen))
            if matching == 0:
                console.print("no dead-lettered change event matches; nothing purged")
                return
            try:
                confirmed = yes or typer.confirm(f"purge {matching} dead-lettered change event(s)?")
            except typer.Abort:  # no answer: standard input is closed (`kubectl exec` without -i)
                fail("nothing purged: no answer to the confirmation (add --yes to skip it)")
            if not confirmed:
                console.print("nothing purged")
                return
            purged = await purge_dead_letters(engine, chosen)
        finally:
            await engine.dispose()
        console.print(f"purged {purged} dead-lettered change event(s)")

    run(count_then_purge())
