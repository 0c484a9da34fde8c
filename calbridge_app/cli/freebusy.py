"""`calbridge freebusy ADDRESS...`: who is busy when, as a timeline in the terminal.

Asks a running free/busy API (`--url`, key from `--token-file` or CALBRIDGE_FREEBUSY_TOKEN), or, without
`--url`, the providers directly through the stored connections.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

if TYPE_CHECKING:
    from pydantic import BaseModel
    from sqlalchemy.ext.asyncio import AsyncEngine

    from calbridge.settings import Settings

from calbridge_app.cli.common import EXIT_CONFIG, EXIT_USAGE, console, fail, run, settings_or_exit

__all__ = ["ask_remote", "choose_window", "freebusy", "read_token"]


def choose_window(
    start: str | None, end: str | None, days: float | None, zone: ZoneInfo, now: datetime
) -> tuple[datetime, datetime]:
    """The window the options describe: ISO times (read in `zone` when they carry no offset);
    without --start, from now (to the hour) or from today's midnight when --days is not given."""

    def parse(value: str, name: str) -> datetime:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            fail(f"{name} {value!r} is not an ISO date or date-time", EXIT_USAGE)
        return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment

    local_now = now.astimezone(zone)
    if start is not None:
        first = parse(start, "--start")
    elif days is not None:
        first = local_now.replace(minute=0, second=0, microsecond=0)
    else:
        first = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    if end is not None:
        if days is not None:
            fail("give --end or --days, not both", EXIT_USAGE)
        last = parse(end, "--end")
    else:
        last = first + timedelta(days=days if days is not None else 1)
    if not first < last:
        fail("the window must start before it ends", EXIT_USAGE)
    return first, last


def freebusy(
    addresses: Annotated[list[str], typer.Argument(help="Addresses of people or rooms.")],
    start: Annotated[str | None, typer.Option(help="Start, ISO date or date-time.")] = None,
    end: Annotated[str | None, typer.Option(help="End, ISO date or date-time.")] = None,
    days: Annotated[float | None, typer.Option(help="Length of the window from --start or now.")] = None,
    zone: Annotated[
        str, typer.Option(help="IANA zone for times without an offset and for the display.")
    ] = "UTC",
    url: Annotated[
        str | None, typer.Option(envvar="CALBRIDGE_FREEBUSY_URL", help="Base URL of a free/busy API.")
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file",
            help="File holding the bearer key for --url ('-': standard input); or set "
            "CALBRIDGE_FREEBUSY_TOKEN. A key is never taken on the command line, where ps and "
            "shell history would show it.",
        ),
    ] = None,
    width: Annotated[int | None, typer.Option(help="Columns to draw in (default: the terminal's).")] = None,
) -> None:
    """Show busy time of ADDRESS... across Google, Microsoft 365 and Exchange as a timeline."""
    from calbridge.freebusy.models import FreeBusyResponse
    from calbridge.freebusy.timeline import render_timeline

    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"--zone {zone!r} is not an IANA time zone", EXIT_USAGE)
    first, last = choose_window(start, end, days, tz, datetime.now(tz))
    body = {"start": first.isoformat(), "end": last.isoformat(), "timeZone": zone, "addresses": addresses}
    if url is not None:
        token = read_token(token_file)
        if not token:
            fail("--url needs a bearer key: --token-file PATH or CALBRIDGE_FREEBUSY_TOKEN", 2)
        answer = run(ask_remote(url, "/v1/freebusy", token, json=body))
    else:
        answer = run(_ask_here(body))
    response = FreeBusyResponse.model_validate(answer)
    console.print(render_timeline(response, width or console.width))
    failed = sum("error" in result for result in answer.get("results", {}).values())
    if failed:
        console.print(f"[yellow]{failed} of {len(response.results)} addresses could not be answered[/]")


def read_token(path: Path | None) -> str | None:
    if path is None:
        return os.environ.get("CALBRIDGE_FREEBUSY_TOKEN") or None
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text()
    except OSError as exc:
        fail(f"cannot read the key file {path}: {exc.strerror}", 2)
    return text.strip() or None


async def ask_remote(
    url: str,
    path: str,
    token: str,
    *,
    json: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
) -> dict[str, Any]:
    """POST `json` (or GET with `params`) to a running API; its answer, or one line and exit."""
    import aiohttp

    endpoint = url.rstrip("/") + path
    timeout = aiohttp.ClientTimeout(total=30)
    method = "POST" if json is not None else "GET"
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(
                method, endpoint, json=json, params=params, headers={"Authorization": f"Bearer {token}"}
            ) as reply,
        ):
            payload = await reply.json(content_type=None)
            if reply.status != 200:
                detail = payload.get("detail") if isinstance(payload, dict) else None
                fail(f"{endpoint} answered {reply.status}: {detail or reply.reason}")
            return payload  # type: ignore[no-any-return]
    except (aiohttp.ClientError, TimeoutError) as exc:
        fail(f"could not reach {endpoint}: {type(exc).__name__}")


async def _ask_here(body: dict[str, Any]) -> dict[str, Any]:
    """In this process, through the store's connections (CALBRIDGE_DATABASE_URL and
    CALBRIDGE_SECRET_KEY), exactly as a deployed free/busy API would answer."""
    from calbridge.freebusy.configure import build_lookup
    from calbridge.freebusy.models import FreeBusyRequest, render_response
    from calbridge.freebusy.wiring import open_sources

    async def answer(settings: Settings, sources: Any, engine: AsyncEngine, request: Any) -> dict[str, Any]:
        outcomes = await build_lookup(settings, sources, engine=engine).answer(
            request.addresses, request.window()
        )
        return render_response(request, outcomes).model_dump(mode="json", by_alias=True, exclude_none=True)

    return await ask_in_process(body, FreeBusyRequest, open_sources, answer, api="free/busy API")


async def ask_in_process(
    body: dict[str, Any],
    query: type[BaseModel],
    open_sources: Callable[[Settings], Awaitable[Mapping[str, object]]],
    answer: Callable[[Settings, Any, AsyncEngine, Any], Awaitable[dict[str, Any]]],
    *,
    api: str,
) -> dict[str, Any]:
    """Answer a query of the free/busy API's family here, as the deployed API would: the query
    checked against the configured limits, a source per stored connection, the store for the
    pairs, everything closed after. One line and an exit for each way it cannot."""
    from pydantic import ValidationError

    from calbridge.errors import ConfigurationError
    from calbridge.freebusy.configure import limits_from
    from calbridge.freebusy.wiring import close_sources
    from calbridge.store.engine import create_engine

    settings = settings_or_exit()
    try:
        request = query.model_validate(body, context={"limits": limits_from(settings)})
    except ValidationError as exc:
        fail("; ".join(err["msg"] for err in exc.errors()), EXIT_USAGE)
    try:
        sources = await open_sources(settings)
    except ConfigurationError as exc:
        fail(f"{exc} (or ask a running {api} with --url)", EXIT_CONFIG)
    if not sources:
        fail("the store has no connections; add one with `calbridge connections add ...`")
    engine = create_engine(settings.database_url.get_secret_value())
    try:
        return await answer(settings, sources, engine, request)
    finally:
        await close_sources(sources)
        await engine.dispose()
