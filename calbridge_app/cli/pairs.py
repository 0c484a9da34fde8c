"""`calbridge pairs ...`: join a Google calendar and a Microsoft calendar, and look after the pair.

Activation checks access on both sides, then asks the processor for a baseline sync over the
bus; the renewer subscribes active pairs. See calbridge/pairs/admin.py. Events a pair could not
copy are counted by `list`, listed by `show` and tried again by `retry`
(calbridge/pairs/event_failures.py, processor/event_retry.py).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from calbridge.pairs.spec import Side
from calbridge.pairs.states import describe_state
from calbridge_app.cli.common import (
    confirm_or_exit,
    console,
    err_console,
    fail,
    progress_bar,
    run,
    settings_or_exit,
)
from calbridge_app.cli.humanize import relative
from calbridge_app.cli.pairs_listing import ARROWS, STATE_STYLES, microsoft_cell, pairs_table

T = TypeVar("T")

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from calbridge.connections import Connection
    from calbridge.pairs.access import RegistryAccessChecker
    from calbridge.pairs.admin import AddResult
    from calbridge.pairs.event_failures import EventFailure
    from calbridge.pairs.importer import ImportRow, ImportSummary, RowError
    from calbridge.pairs.records import PairRecord
    from calbridge.pairs.spec import PairSpec
    from calbridge.pairs.states import PairState
    from calbridge.settings import Settings
    from calbridge_app.cli.context import LazyBus
    from processor.event_retry import RetryResult

app = typer.Typer(help="Pairs: a Google calendar joined to a Microsoft calendar.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
PairId = Annotated[
    str, typer.Argument(help="The pair id (see `calbridge pairs list`), or an unambiguous prefix of it.")
]
PairIdOrAddress = Annotated[
    str,
    typer.Argument(help="The pair id or a prefix of it, or an address on either side of exactly one pair."),
]


# --- rendering (pure: records and a clock in, rich renderables out)


def pair_details(pair: PairRecord, now: datetime) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")

    def sub(side: Side) -> str:
        from calbridge.providers.registry import profile_for

        if not profile_for(pair.provider(side)).kept_by_renewer:  # a listener streams it: no expiry
            held = pair.stream_held_until(side)
            if held is None:
                return "streaming, once an EWS listener runs (none holds it)"
            if held <= now:
                return f"stream lost: no listener has held it since {relative(held, now)}"
            return f"streaming (a listener holds it; its lease runs {relative(held, now)})"
        when = pair.subscription_expires(side)
        return "none" if when is None else f"{relative(when, now)} ({when:%Y-%m-%d %H:%M} UTC)"

    rows = [
        ("id", pair.id),
        ("google", f"{pair.google.owner}  calendar {pair.google.calendar}  via {pair.google_connection}"),
        (
            "microsoft",
            f"{pair.microsoft.owner}  calendar {pair.microsoft.calendar}  "
            f"via {pair.microsoft_connection} ({pair.via.value})",
        ),
        ("direction", f"{pair.direction.value} {ARROWS[pair.direction.value]}"),
        ("detail", pair.detail.value),
        ("mirror out of office", "yes" if pair.mirror_oof else "no"),
        (
            "conflicts",
            "the newest edit wins" if pair.conflict.value == "newest" else f"{pair.conflict.value} wins",
        ),
        ("meeting links", "made on request (@meet, @teams)" if pair.meeting_links else "carried only"),
        ("working locations", "mirrored as free markers" if pair.working_locations else "skipped"),
        ("state", Text(pair.state.value, style=STATE_STYLES[pair.state.value])),
        ("reason", pair.state_reason or "-"),
        ("last sync", relative(pair.last_sync_at, now)),
        ("google subscription", sub(Side.GOOGLE)),
        ("microsoft subscription", sub(Side.MICROSOFT)),
        ("calendar refs", f"google {pair.google_ref}, microsoft {pair.microsoft_ref}"),
        ("created", f"{relative(pair.created_at, now)} ({pair.created_at:%Y-%m-%d %H:%M} UTC)"),
    ]
    if pair.last_error != pair.state_reason:  # the reason of an error state is its last error
        rows.insert(8, ("last error", pair.last_error or "-"))
    if pair.state.value == "removing":
        rows.append(("delete mirrors", "yes" if pair.delete_mirrors else "no"))
    for key, value in rows:
        table.add_row(key, value)
    return table


def failures_table(failures: list[EventFailure], now: datetime) -> Table:
    """The events of a pair that could not be copied, for `pairs show`."""
    table = Table(box=None, pad_edge=False, header_style="bold underline", padding=(0, 1, 0, 0))
    table.add_column("side", no_wrap=True)
    table.add_column("event", overflow="fold")
    table.add_column("error", no_wrap=True)
    table.add_column("attempts", justify="right", no_wrap=True)
    table.add_column("first seen", no_wrap=True)
    table.add_column("last seen", no_wrap=True)
    table.add_column("reason", overflow="fold", ratio=1)
    for failure in failures:
        table.add_row(
            failure.side.value,
            failure.event_id,
            Text(failure.error, style="red"),
            str(failure.attempts),
            relative(failure.first_seen_at, now),
            relative(failure.last_seen_at, now),
            failure.reason,
        )
    return table


def _print_result(result: AddResult) -> None:
    pair = result.pair
    label = escape(f"{pair.google} {ARROWS[pair.direction.value]} {microsoft_cell(pair)}")
    messages = {
        "added": f"pair [bold]{pair.id}[/] added and active: {label}; baseline sync requested",
        "activated": f"pair [bold]{pair.id}[/] is active again: {label}; sync requested",
        "updated": f"pair [bold]{pair.id}[/] updated ({pair.direction.value}, {pair.detail.value}): {label}",
        "unchanged": f"pair [bold]{pair.id}[/] is already {describe_state(pair.state)}; nothing changed",
    }
    if result.outcome.value == "failed":
        err_console.print(
            f"[bold red]pair {pair.id} stored in error state:[/] {result.error}\n"
            f"fix the cause, then run `calbridge pairs resume {pair.id}`",
            highlight=False,
        )
        raise typer.Exit(1)
    console.print(messages[result.outcome.value], highlight=False)


# --- commands


async def _connections(settings: Settings) -> list[Connection]:
    from calbridge.store.connection_records import list_connections
    from calbridge_app.cli.context import open_engine, secretbox

    box_ = secretbox(settings)
    async with open_engine(settings) as engine, engine.connect() as conn:
        return await list_connections(conn, box_)


@app.command("add")
def add(
    google: Annotated[str, typer.Option("--google", help="USER[/CALENDAR] (default calendar: primary).")],
    microsoft: Annotated[
        str, typer.Option("--microsoft", help="MAILBOX[/CALENDAR] (default: its calendar).")
    ],
    direction: Annotated[
        str, typer.Option("--direction", help="both | google-to-microsoft | microsoft-to-google.")
    ] = "both",
    detail: Annotated[str, typer.Option("--detail", help="full | busy (busy blocks only).")] = "full",
    via: Annotated[str, typer.Option("--via", help="graph | ews.")] = "graph",
    conflict: Annotated[
        str,
        typer.Option(
            "--conflict",
            help="newest | google | microsoft: who wins when both copies changed since the last sync.",
        ),
    ] = "newest",
    meeting_links: Annotated[
        bool,
        typer.Option(
            "--meeting-links",
            help="Make the meeting a keyword in a location asks for (@meet, @teams) and write its link "
            "back to the organiser's event (docs/hybrid.md).",
        ),
    ] = False,
    working_locations: Annotated[
        bool,
        typer.Option(
            "--working-locations",
            help="Mirror Google working locations as free all-day markers (skipped otherwise).",
        ),
    ] = False,
    google_connection: Annotated[
        str | None, typer.Option("--google-connection", help="Connection name, when there are several.")
    ] = None,
    microsoft_connection: Annotated[
        str | None, typer.Option("--microsoft-connection", help="Connection name, when there are several.")
    ] = None,
    mirror_oof: Annotated[
        bool,
        typer.Option(
            "--mirror-oof",
            help="Mirror out of office: an Outlook automatic reply makes a Google out-of-office event, "
            "and back (polled by the renewer).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Add a pair and activate it (access checked on both sides, then a baseline sync).

    Adding the same pair again changes nothing. Only active pairs are ever synced."""
    from calbridge.errors import CalbridgeError
    from calbridge.pairs.policy import ConflictPolicy
    from calbridge.pairs.spec import Detail, Direction, PairSpec, Via, parse_calendar, parse_choice

    settings = settings_or_exit()
    try:
        spec = PairSpec(
            google=parse_calendar(google, Side.GOOGLE),
            microsoft=parse_calendar(microsoft, Side.MICROSOFT),
            via=Via(parse_choice(via, Via, "--via")),
            direction=Direction(parse_choice(direction, Direction, "--direction")),
            detail=Detail(parse_choice(detail, Detail, "--detail")),
            conflict=ConflictPolicy(parse_choice(conflict, ConflictPolicy, "--conflict")),
            meeting_links=meeting_links,
            working_locations=working_locations,
            google_connection=google_connection,
            microsoft_connection=microsoft_connection,
            mirror_oof=mirror_oof,
        )
    except CalbridgeError as exc:
        fail(str(exc))
    result = run(_add(settings, spec))
    if as_json:
        typer.echo(
            json.dumps(
                {"outcome": result.outcome.value, "error": result.error, "pair": result.pair.as_json()},
                indent=2,
            )
        )
        raise typer.Exit(1 if result.outcome.value == "failed" else 0)
    _print_result(result)


@dataclass(frozen=True, slots=True)
class _Session:
    engine: AsyncEngine
    checker: RegistryAccessChecker
    bus: LazyBus


async def _with_session(settings: Settings, work: Callable[[_Session], Awaitable[T]]) -> T:
    """Run `work` with the store, the adapters' access check and a lazily opened bus; a
    calbridge error ends the command with its message (configuration errors exit 2)."""
    from calbridge.errors import CalbridgeError, ConfigurationError
    from calbridge.pairs.access import RegistryAccessChecker
    from calbridge_app.cli.context import LazyBus, open_engine, provider_registry

    checker, bus = RegistryAccessChecker(provider_registry(settings).open), LazyBus(settings)
    try:
        async with open_engine(settings) as engine:
            return await work(_Session(engine, checker, bus))
    except ConfigurationError:
        raise
    except CalbridgeError as exc:
        fail(str(exc))
    finally:
        await checker.aclose()
        await bus.aclose()


async def _add(settings: Settings, spec: PairSpec) -> AddResult:
    from calbridge.pairs.admin import add_pair
    from calbridge_app.cli.context import require_bus

    require_bus(settings, "activating a pair")
    connections = await _connections(settings)
    return await _with_session(settings, lambda s: add_pair(s.engine, spec, connections, s.checker, s.bus))


async def _fetch(
    settings: Settings, pair_id: str | None, states: list[str], search: str | None
) -> list[PairRecord]:
    from calbridge.pairs.records import fetch_pair, fetch_pairs
    from calbridge.pairs.states import PairState
    from calbridge_app.cli.context import open_engine

    async with open_engine(settings) as engine, engine.connect() as conn:
        if pair_id is not None:
            return [await fetch_pair(conn, pair_id)]
        return await fetch_pairs(conn, states=[PairState(s) for s in states], search=search)


async def _complete_pair_id(settings: Settings, text: str) -> str:
    from calbridge.pairs.records import PairNotFound
    from calbridge.store.ids import complete_id
    from calbridge.store.tables import pairs
    from calbridge_app.cli.context import open_engine

    async with open_engine(settings) as engine, engine.connect() as conn:
        found = await complete_id(conn, pairs.c.id, text.strip(), "pair")
    if found is None:
        raise PairNotFound(
            f"no pair has the id {text!r} or an id starting with it (see `calbridge pairs list`)"
        )
    return found


def _pair_id(settings: Settings, text: str) -> str:
    """The whole id of the pair `text` names (an id or an unambiguous prefix of one): a prefix
    several ids share exits 2 listing them, one no id has exits 1."""
    from calbridge.pairs.records import PairNotFound
    from calbridge.store.ids import AmbiguousId

    try:
        return run(_complete_pair_id(settings, text))
    except AmbiguousId as exc:
        fail(str(exc), 2)
    except PairNotFound as exc:
        fail(str(exc))


async def _failures_of(settings: Settings, pair_ids: list[str]) -> dict[str, int]:
    from calbridge.pairs.event_failures import count_failures
    from calbridge_app.cli.context import open_engine

    async with open_engine(settings) as engine, engine.connect() as conn:
        return await count_failures(conn, pair_ids)


async def _failures_list(settings: Settings, pair_id: str) -> list[EventFailure]:
    from calbridge.pairs.event_failures import fetch_failures
    from calbridge_app.cli.context import open_engine

    async with open_engine(settings) as engine, engine.connect() as conn:
        return await fetch_failures(conn, pair_id)


@app.command("list")
def list_(
    state: Annotated[
        list[str] | None, typer.Option("--state", help="Only pairs in this state (repeatable).")
    ] = None,
    search: Annotated[
        str | None, typer.Option("--search", help="Only pairs whose addresses contain this.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="At most this many pairs (then how to go on).")
    ] = None,
    after: Annotated[
        str | None,
        typer.Option("--after", help="Go on after this pair (its id or a prefix), as `--limit` says."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List pairs: state, last sync, subscription expiry, failed events, the pair, its last error.

    Pairs are read in batches and printed as they come, ordered by the Google address."""
    from calbridge.pairs.states import PairState

    allowed = [s.value for s in PairState]
    for value in state or []:
        if value not in allowed:
            fail(f"--state {value!r} is not a pair state; use one of {', '.join(allowed)}", 2)
    settings = settings_or_exit()
    after_id = _pair_id(settings, after) if after is not None else None
    states = [PairState(s) for s in state or []]
    shown = run(_stream_list(settings, states, search, limit, after_id, as_json))
    if as_json:
        return
    if shown.count == 0:
        console.print(
            "no pairs"
            + (" match" if state or search or after else " yet: add one with `calbridge pairs add`")
        )
        return
    parts = ", ".join(f"[{STATE_STYLES[s]}]{n} {s}[/]" for s, n in sorted(shown.states.items()))
    tail = (
        f"; [bold red]{shown.failed} event(s) failed[/] (`calbridge pairs show PAIR`)" if shown.failed else ""
    )
    console.print(f"{shown.count} pair(s): {parts}{tail}", highlight=False)
    if shown.more_after is not None:
        console.print(
            f"more pairs follow: `calbridge pairs list --after {shown.more_after} --limit {limit}`",
            highlight=False,
        )


@dataclass(slots=True)
class _Shown:
    count: int = 0
    failed: int = 0
    states: dict[str, int] = field(default_factory=dict)
    more_after: str | None = None  # the last pair shown, when `--limit` stopped the listing early


async def _stream_list(
    settings: Settings,
    states: list[PairState],
    search: str | None,
    limit: int | None,
    after_id: str | None,
    as_json: bool,
) -> _Shown:
    """Print the pairs batch by batch as they are read (a keyset query per batch)."""
    import sys

    from calbridge.pairs.event_failures import count_failures
    from calbridge.pairs.records import fetch_pair, fetch_pairs, listing_key, page_pairs
    from calbridge_app.cli.context import open_engine
    from calbridge_app.cli.pairs_listing import ListLayout, header_line, pair_lines

    shown = _Shown()
    now = datetime.now(UTC)
    out = sys.stdout
    terminal = console.is_terminal
    layout: ListLayout | None = None
    last: PairRecord | None = None
    written = False
    async with open_engine(settings) as engine, engine.connect() as conn:
        failures = await count_failures(conn)  # the pairs with failed events: few
        listed_failing = failures and await fetch_pairs(
            conn, ids=list(failures), states=states, search=search
        )
        after = listing_key(await fetch_pair(conn, after_id)) if after_id is not None else None
        async for batch in page_pairs(conn, states=states, search=search, after=after, limit=limit):
            for pair in batch:
                shown.count += 1
                shown.states[pair.state.value] = shown.states.get(pair.state.value, 0) + 1
                shown.failed += failures.get(pair.id, 0)
            if as_json:  # the same array `json.dumps(all, indent=2)` would print, written as it comes
                for pair in batch:
                    item = json.dumps(
                        {**pair.as_json(), "event_failures": failures.get(pair.id, 0)}, indent=2
                    )
                    out.write(",\n" if written else "[\n")
                    out.write("  " + item.replace("\n", "\n  "))
                    written = True
                last = batch[-1]
                continue
            if layout is None:
                layout = ListLayout.fit(batch, now, console.width, counted=bool(listed_failing))
                _emit([header_line(layout)], terminal)
            _emit([line for pair in batch for line in pair_lines(pair, now, failures, layout)], terminal)
            last = batch[-1]
        if limit is not None and shown.count == limit and last is not None:
            beyond = page_pairs(conn, states=states, search=search, after=listing_key(last), limit=1)
            shown.more_after = last.id if [p async for p in beyond] else None
    if as_json:
        out.write("\n]\n" if shown.count else "[]\n")
    return shown


def _emit(lines: list[Text], terminal: bool) -> None:
    """Lines to the terminal in colour, or to a pipe as plain text (fast: no styling to render)."""
    if terminal:
        for line in lines:
            console.print(line, highlight=False)
        return
    import sys

    sys.stdout.write("".join(line.plain + "\n" for line in lines))
    sys.stdout.flush()


@app.command("show")
def show(pair_id: PairIdOrAddress, as_json: JsonOption = False) -> None:
    """Show one pair in full: its whole state reason, last error, and the events it could not copy."""
    from calbridge.pairs.records import PairNotFound
    from calbridge.store.ids import AmbiguousId

    settings = settings_or_exit()
    try:
        whole_id = run(_complete_pair_id(settings, pair_id))
        (record,) = run(_fetch(settings, whole_id, [], None))
    except AmbiguousId as exc:
        fail(str(exc), 2)
    except PairNotFound as exc:
        if "@" not in pair_id:
            fail(str(exc))
        # An address instead of an id: the pairs of that user or mailbox.
        address = pair_id.lower()
        found = [
            r
            for r in run(_fetch(settings, None, [], address))
            if address in (r.google.owner, r.microsoft.owner)
        ]
        if len(found) != 1:
            if not found:
                fail(f"no pair has {pair_id} on either side")
            console.print(pairs_table(found, datetime.now(UTC)))
            fail(f"{len(found)} pairs have {pair_id}; show one by its id")
        (record,) = found
    failures = run(_failures_list(settings, record.id))
    if as_json:
        typer.echo(
            json.dumps({**record.as_json(), "event_failures": [f.as_json() for f in failures]}, indent=2)
        )
        return
    now = datetime.now(UTC)
    console.print(pair_details(record, now))
    if failures:
        console.print(
            f"\n[bold red]{len(failures)} event(s) could not be copied[/] (tried again when they "
            f"change, on `pairs resync`, or now with `calbridge pairs retry {record.id}`):",
            highlight=False,
        )
        console.print(failures_table(failures, now))


@app.command("pause")
def pause(
    pair_id: PairId,
    reason: Annotated[
        str, typer.Option("--reason", help="Why (shown in `pairs list`).")
    ] = "paused by an operator",
) -> None:
    """Stop syncing an active pair until it is resumed (its subscriptions stay)."""
    settings = settings_or_exit()
    pair_id = _pair_id(settings, pair_id)
    from calbridge.pairs.admin import pause_pair

    record = run(_with_session(settings, lambda s: pause_pair(s.engine, pair_id, reason)))
    if record.state_reason != reason:
        console.print(f"pair [bold]{pair_id}[/] was already paused: {record.state_reason}", highlight=False)
        return
    console.print(f"pair [bold]{pair_id}[/] paused: {reason}", highlight=False)


@app.command("resume")
def resume(pair_id: PairId) -> None:
    """Resume a paused pair (it catches up), or retry activating a pair in error."""
    from calbridge.errors import ConfigurationError
    from calbridge_app.cli.context import require_bus

    settings = settings_or_exit()
    try:
        require_bus(settings, "resuming a pair")
    except ConfigurationError as exc:
        fail(str(exc), 2)
    pair_id = _pair_id(settings, pair_id)
    from calbridge.pairs.admin import resume_pair

    async def go(session: _Session) -> AddResult:
        connections = await _connections(settings)
        return await resume_pair(session.engine, pair_id, connections, session.checker, session.bus)

    _print_result(run(_with_session(settings, go)))


@app.command("resync")
def resync(
    pair_id: Annotated[
        str | None,
        typer.Argument(help="The pair id (see `calbridge pairs list`), or an unambiguous prefix of it."),
    ] = None,
    all_pairs: Annotated[
        bool, typer.Option("--all", help="Every active pair: hints published a batch at a time.")
    ] = False,
) -> None:
    """Ask the processor to pull everything again for an active pair, or every one (idempotent)."""
    from calbridge.errors import ConfigurationError
    from calbridge_app.cli.context import require_bus

    if (pair_id is None) == (not all_pairs):
        fail("name one pair, or --all for every active pair (not both)", 2)
    settings = settings_or_exit()
    try:
        require_bus(settings, "a resync")
    except ConfigurationError as exc:
        fail(str(exc), 2)
    if all_pairs:
        from calbridge.pairs.admin import request_resync_all

        def report(done: int) -> None:
            console.print(f"  {done} pairs ...", highlight=False)

        count = run(_with_session(settings, lambda s: request_resync_all(s.engine, s.bus, progress=report)))
        console.print(f"resync requested for [bold]{count}[/] active pair(s)", highlight=False)
        return
    assert pair_id is not None
    pair_id = _pair_id(settings, pair_id)
    from calbridge.pairs.admin import request_resync

    hints = run(_with_session(settings, lambda s: request_resync(s.engine, pair_id, s.bus)))
    console.print(f"resync requested for pair [bold]{pair_id}[/] ({len(hints)} calendar(s))", highlight=False)


@app.command("retry")
def retry(pair_id: PairId) -> None:
    """Try every event of the pair that could not be copied again, now, and say what happened.

    Each one is read again from its calendar and synced as a pass would; what works clears its
    failure, what fails again stays listed with the new reason. Exits 1 if any still fails."""
    from calbridge.errors import CalbridgeError

    settings = settings_or_exit()
    try:
        result = run(_retry(settings, pair_id))
    except CalbridgeError as exc:
        fail(str(exc))
    if not result.before:
        console.print(f"pair [bold]{pair_id}[/] has no failed events", highlight=False)
        return
    for failure in result.succeeded:
        console.print(f"[green]copied[/]  {failure.side.value} {escape(failure.event_id)}", highlight=False)
    for failure, again in result.failed:
        console.print(
            f"[red]failed[/]  {failure.side.value} {escape(failure.event_id)}: "
            f"{again.error}: {escape(again.reason)}",
            highlight=False,
        )
    writes = ", ".join(f"{count} {name}" for name, count in sorted(result.outcomes.items()) if count)
    console.print(
        f"{len(result.before)} event(s) retried: {len(result.succeeded)} copied, "
        f"{len(result.failed)} still failing" + (f" ({writes})" if writes else ""),
        highlight=False,
    )
    if result.failed:
        raise typer.Exit(1)


async def _retry(settings: Settings, pair_id: str) -> RetryResult:
    from calbridge.providers.base import CalendarProvider
    from calbridge.providers.closing import close_provider
    from calbridge.providers.registry import Registry
    from calbridge_app.cli.context import open_engine
    from processor.event_retry import retry_pair_failures
    from processor.opening import store_opener

    opened: dict[str, CalendarProvider] = {}
    async with open_engine(settings) as engine:
        opener = store_opener(engine, settings, Registry(settings))

        async def open_connection(connection_id: str) -> CalendarProvider:
            if connection_id not in opened:
                opened[connection_id] = await opener(connection_id)
            return opened[connection_id]

        try:
            return await retry_pair_failures(engine, pair_id, open_connection)
        finally:
            for provider in opened.values():
                await close_provider(provider)


@app.command("remove")
def remove(
    pair_id: Annotated[
        str | None, typer.Argument(help="The pair id (see `calbridge pairs list`); or use --connection.")
    ] = None,
    connection: Annotated[
        str | None,
        typer.Option("--connection", help="Remove every pair that uses this connection, on either side."),
    ] = None,
    delete_mirrors: Annotated[
        bool, typer.Option("--delete-mirrors", help="Also delete the mirrors calbridge wrote for this pair.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before deleting mirrors.")] = False,
) -> None:
    """Stop syncing a pair (or every pair of a connection) and remove it.

    The pair stops being processed at once. The renewer then stops the subscriptions no other
    pair needs, has the mirrors deleted if --delete-mirrors was given, and deletes the pair."""
    if (pair_id is None) == (connection is None):
        fail("name a pair id or --connection NAME (one of the two)", 2)
    settings = settings_or_exit()
    pair_id = _pair_id(settings, pair_id) if pair_id is not None else None
    from calbridge.pairs.admin import remove_pair

    if pair_id is not None:
        if delete_mirrors and not yes:
            confirm_or_exit(f"delete every mirror calbridge wrote for pair {pair_id} on both sides?")
        run(_with_session(settings, lambda s: remove_pair(s.engine, pair_id, delete_mirrors=delete_mirrors)))
        then = "its mirrors will be deleted, then " if delete_mirrors else "mirrors stay; "
        console.print(
            f"pair [bold]{pair_id}[/] is being removed: no longer synced; "
            f"{then}the renewer finishes the removal",
            highlight=False,
        )
        return
    assert connection is not None
    from calbridge.pairs.removal import pairs_of_connection, remove_pairs
    from calbridge_app.cli.context import open_engine

    async def chosen_ids() -> list[str]:
        async with open_engine(settings) as engine, engine.connect() as conn:
            return await pairs_of_connection(conn, connection)

    chosen = run(chosen_ids())
    if not chosen:
        console.print(f"no pair uses connection {connection!r}; nothing to remove", highlight=False)
        return
    if not yes:
        mirrors = " and delete their mirrors on both sides" if delete_mirrors else ""
        confirm_or_exit(f"remove {len(chosen)} pair(s) of connection {connection!r}{mirrors}?")

    async def remove_all(session: _Session) -> int:
        with progress_bar(len(chosen), "removing") as advance:

            def done(count: int) -> None:
                for _ in range(count):
                    advance()

            return await remove_pairs(session.engine, chosen, delete_mirrors=delete_mirrors, done=done)

    marked = run(_with_session(settings, remove_all))
    console.print(
        f"{marked} pair(s) of connection {connection!r} are being removed; the renewer finishes "
        "the removal (then `calbridge connections remove` works)",
        highlight=False,
    )


@app.command("import")
def import_(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV with header google,microsoft[,via,direction,detail,conflict,..] (docs/pairs.md)."
        ),
    ],
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="Write the failed rows here (CSV: the file's columns and a reason), to fix and import.",
        ),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", min=1, max=64, help="Default: CALBRIDGE_IMPORT_CONCURRENCY."),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Only validate the file (no store, no provider, no bus).")
    ] = False,
) -> None:
    """Add many pairs from a CSV file, with a report of the rows that failed.

    Every row is validated first, then the pairs are activated with a progress bar. Re-running the
    same file changes nothing. UTF-8, UTF-16 and UTF-32 files with a byte-order mark and
    Windows-1252 (Latin-1) files are read."""
    from calbridge.pairs.importer import ImportFileInvalid, ReportFile, decode_file, read_rows

    try:
        decoded = decode_file(file.read_bytes())
        read = read_rows(decoded.text)
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}", 2)
    except ImportFileInvalid as exc:
        fail(f"{file}: {exc}", 2)
    if decoded.guessed:
        err_console.print(
            f"note: {file} is not UTF-8; read it as {decoded.encoding_name} (check names with accents)",
            highlight=False,
            markup=False,
        )
    rows, errors = read.rows, read.errors
    if check:
        for error in errors:
            err_console.print(f"  {error.reason}", highlight=False, markup=False)
        console.print(f"{len(rows) + len(errors)} row(s): {len(rows)} valid, {len(errors)} invalid")
        raise typer.Exit(1 if errors else 0)
    settings = settings_or_exit()  # not before: --check needs no configuration
    target = None
    if report is not None:  # claimed now: a report that cannot be written stops the import here
        try:
            target = ReportFile(report)
        except OSError as exc:
            fail(
                f"cannot write the report to {report}: {exc.strerror}; create its directory or choose "
                "another --report path (nothing was imported)",
                2,
            )
    try:
        summary = run(_import(settings, rows, errors, concurrency or settings.import_concurrency))
    except BaseException:
        if target is not None:
            target.discard()
        raise
    counts = summary.counts
    console.print(
        f"{len(rows) + len(errors)} row(s): [green]{counts['added']} added[/], "
        f"{counts['activated']} activated, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged, [red]{summary.failed} failed[/]",
        highlight=False,
    )
    if target is not None:  # written even when empty, so a script can always read it
        target.commit(read.columns, summary.failures)
    if summary.failures:
        for failure in summary.failures[:10]:
            err_console.print(f"  {failure.reason}", highlight=False, markup=False)
        if len(summary.failures) > 10:
            err_console.print(f"  ... and {len(summary.failures) - 10} more", highlight=False)
        if report is not None:
            err_console.print(f"failed rows with reasons written to {report}", highlight=False)
        raise typer.Exit(1)


async def _import(
    settings: Settings, rows: list[ImportRow], errors: list[RowError], concurrency: int
) -> ImportSummary:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from calbridge.pairs.access import RegistryAccessChecker
    from calbridge.pairs.importer import check_connections, import_pairs
    from calbridge_app.cli.context import LazyBus, open_engine, provider_registry, require_bus

    require_bus(settings, "activating pairs")
    connections = await _connections(settings)
    errors = errors + check_connections(rows, connections)
    bad_lines = {e.line for e in errors}
    todo = [row for row in rows if row.line not in bad_lines]
    checker, bus = RegistryAccessChecker(provider_registry(settings).open), LazyBus(settings)
    progress = Progress(
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,  # piped, a bar would only leave an empty line
    )
    try:
        with progress:
            task = progress.add_task("pairs", total=len(todo), failed=0)
            failed = 0

            def done(_row: object, outcome: object) -> None:
                nonlocal failed
                failed += str(outcome) == "failed"
                progress.update(task, advance=1, failed=failed)

            async with open_engine(settings) as engine:
                summary = await import_pairs(
                    engine, todo, connections, checker, bus, concurrency=concurrency, on_done=done
                )
    finally:
        await checker.aclose()
        await bus.aclose()
    summary.failures = sorted(summary.failures + errors, key=lambda f: f.line)
    return summary
