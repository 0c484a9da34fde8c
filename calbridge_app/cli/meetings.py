"""`calbridge meetings ADDRESS`: one person's meetings across Google, Microsoft 365 and Exchange,
as a table (or `--json`), with their join links and out-of-office state.

Asks a running API (`--url`, key from `--token-file` or CALBRIDGE_FREEBUSY_TOKEN), or, without
`--url`, the providers directly through the stored connections and pairs.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.table import Table

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from calbridge.settings import Settings

from calbridge_app.cli.common import EXIT_USAGE, console, fail, run
from calbridge_app.cli.freebusy import ask_in_process, ask_remote, choose_window, read_token

__all__ = ["meeting_table", "meetings"]


def meetings(
    address: Annotated[str, typer.Argument(help="The person's address, on any suite.")],
    start: Annotated[str | None, typer.Option(help="Start, ISO date or date-time (default: today).")] = None,
    end: Annotated[
        str | None, typer.Option(help="End, ISO date or date-time (default: a day later).")
    ] = None,
    days: Annotated[float | None, typer.Option(help="Length of the window from --start or now.")] = None,
    zone: Annotated[
        str, typer.Option(help="IANA zone for times without an offset and for the display.")
    ] = "UTC",
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON answer.")] = False,
    url: Annotated[
        str | None, typer.Option(envvar="CALBRIDGE_FREEBUSY_URL", help="Base URL of a running API.")
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file",
            help="File holding the bearer key for --url ('-': standard input); "
            "or set CALBRIDGE_FREEBUSY_TOKEN.",
        ),
    ] = None,
) -> None:
    """List ADDRESS's meetings across Google, Microsoft 365 and Exchange, each once."""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"--zone {zone!r} is not an IANA time zone", EXIT_USAGE)
    first, last = choose_window(start, end, days, tz, datetime.now(tz))
    query = {"address": address, "start": first.isoformat(), "end": last.isoformat(), "timeZone": zone}
    if url is not None:
        token = read_token(token_file)
        if not token:
            fail("--url needs a bearer key: --token-file PATH or CALBRIDGE_FREEBUSY_TOKEN", 2)
        answer = run(ask_remote(url, "/v1/meetings", token, params=query))
    else:
        answer = run(_ask_here(query))
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
        return
    console.print(meeting_table(answer))
    error = answer.get("error")
    if error:
        fail(f"{address}: {error.get('code')}: {error.get('message')}", 1)
    if answer.get("unavailable"):
        console.print(f"[yellow]not read (the list is partial): {', '.join(answer['unavailable'])}[/]")


def meeting_table(answer: dict[str, Any]) -> Table:
    """The answer as a table a person reads: when, what, who, where, how to join, where it lives."""
    oof = answer.get("oof") or {}
    caption = None
    if oof.get("active"):
        caption = "out of office" + (f" until {_when(oof['until'])}" if oof.get("until") else "")
    table = Table(
        title=f"Meetings of {answer.get('address', '')} ({answer.get('timeZone', 'UTC')})", caption=caption
    )
    for column in ("When", "Title", "Organiser", "Location", "Join", "On"):
        table.add_column(column, overflow="fold")
    for meeting in answer.get("meetings", []):
        when = (
            "all day " + str(meeting["start"])
            if meeting.get("allDay")
            else _span(meeting["start"], meeting["end"])
        )
        on = ", ".join([meeting["provider"], *meeting.get("alsoOn", [])])
        table.add_row(
            when,
            meeting["title"],
            meeting.get("organizer") or "",
            meeting.get("location") or "",
            meeting.get("joinUrl") or "",
            on,
        )
    return table


def _when(stamp: str) -> str:
    return datetime.fromisoformat(stamp).strftime("%a %d %b %H:%M")


def _span(start: str, end: str) -> str:
    first, last = datetime.fromisoformat(start), datetime.fromisoformat(end)
    tail = last.strftime("%H:%M") if first.date() == last.date() else last.strftime("%a %d %b %H:%M")
    return f"{first.strftime('%a %d %b %H:%M')}-{tail}"


async def _ask_here(query: dict[str, str]) -> dict[str, Any]:
    """In this process, through the store's connections and pairs (CALBRIDGE_DATABASE_URL and
    CALBRIDGE_SECRET_KEY), exactly as the deployed API would answer."""
    from calbridge.freebusy.wiring import open_meeting_sources
    from calbridge.meetings.configure import build_meeting_lookup
    from calbridge.meetings.models import MeetingsQuery, render_meetings

    async def answer(settings: Settings, sources: Any, engine: AsyncEngine, request: Any) -> dict[str, Any]:
        lookup = build_meeting_lookup(settings, sources, engine=engine)
        outcome = await lookup.answer(request.address, request.window())
        return render_meetings(request, outcome).model_dump(mode="json", by_alias=True, exclude_none=True)

    return await ask_in_process(query, MeetingsQuery, open_meeting_sources, answer, api="API")
