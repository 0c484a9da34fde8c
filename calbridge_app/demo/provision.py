"""What the demo provisions in the store: the sandbox's connections, the calendars of its people
(Bob's dedicated Outlook calendar is made here) and the pairs, through the pairs library."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from calbridge.connections import Connection
from calbridge.providers.closing import close_provider
from calbridge_app.demo.scenario import CALENDARS, PAIRS, DemoPair, DemoSide

if TYPE_CHECKING:
    from calbridge_app.demo.stack import Stack

__all__ = ["add_pairs", "close_providers", "forget_previous_run", "resolve_calendars", "save_connections"]

CONNECTION_PREFIX = "demo"


async def forget_previous_run(engine: Any) -> None:
    """In a database that outlives the run (PostgreSQL), drop what an earlier demo left: its
    pairs, links, cursors, subscriptions and calendars point at a sandbox that is gone, and its
    connections' secrets were sealed with a key made for that run. Only rows under the demo's
    own connections (`demo-*`) are touched."""
    import sqlalchemy as sa

    from calbridge.store.tables import calendars, connections, cursors, links, pairs, subscriptions

    async with engine.begin() as conn:
        ours = sa.select(connections.c.id).where(connections.c.name.like(f"{CONNECTION_PREFIX}-%"))
        cals = sa.select(calendars.c.id).where(calendars.c.connection_id.in_(ours))
        their_pairs = sa.select(pairs.c.id).where(
            pairs.c.google_calendar_id.in_(cals) | pairs.c.microsoft_calendar_id.in_(cals)
        )
        await conn.execute(links.delete().where(links.c.pair_id.in_(their_pairs)))
        await conn.execute(pairs.delete().where(pairs.c.id.in_(their_pairs)))
        await conn.execute(cursors.delete().where(cursors.c.calendar_id.in_(cals)))
        await conn.execute(subscriptions.delete().where(subscriptions.c.calendar_id.in_(cals)))
        await conn.execute(calendars.delete().where(calendars.c.id.in_(cals)))
        # Their secrets were sealed with that run's key, which is gone with it.
        await conn.execute(connections.delete().where(connections.c.id.in_(ours)))


async def save_connections(stack: Stack) -> None:
    from calbridge.secretbox import open_secretbox
    from calbridge.store.connection_records import save_connection
    from calbridge_app.sandbox_connections import sandbox_connections

    found = sandbox_connections(
        stack.sandbox.info.as_json(), CONNECTION_PREFIX, stack.folder / "sandbox-ca.pem"
    )
    box = open_secretbox(stack.settings)
    async with stack.engine.begin() as conn:
        for connection in found:
            saved, _ = await save_connection(conn, box, connection, replace=True)
            stack.connections[str(saved.provider)] = saved


def _graph_control(stack: Stack) -> Any:
    from sandbox.graph.client import GraphControl

    origin = stack.sandbox.info.https_endpoints["graph"]
    return GraphControl(origin, stack.sandbox.tls.client_context())


async def resolve_calendars(stack: Stack) -> None:
    """Provider ids of the demo's calendars; Bob's dedicated Outlook calendar is made here."""
    for ref in CALENDARS:
        if ref.side is DemoSide.GOOGLE:
            stack.calendar_ids[ref.name] = ref.owner if ref.calendar == "primary" else ref.calendar
        elif ref.side is DemoSide.OUTLOOK and "graph" in stack.sandbox.info.https_endpoints:
            if ref.calendar == "primary":
                stack.calendar_ids[ref.name] = "primary"
                continue
            async with _graph_control(stack) as graph:
                made = await graph.add_calendar(ref.owner, ref.calendar)
            stack.calendar_ids[ref.name] = str(made["id"])
        elif ref.side is DemoSide.EXCHANGE:
            stack.calendar_ids[ref.name] = "primary"


def _pair_blockers(stack: Stack, pair: DemoPair) -> str | None:
    """Why this pair cannot run in this build, or None."""
    for piece in ("processor", "renewer", *sorted(pair.needs)):
        if piece in stack.missing:
            return f"needs the {_PIECE_NAMES[piece]}"
    return None


_PIECE_NAMES = {
    "processor": "processor",
    "renewer": "renewer",
    "google": "Google adapter",
    "graph": "Microsoft Graph adapter",
    "ews": "EWS adapter and listener",
}


async def add_pairs(stack: Stack) -> None:
    from calbridge.pairs.access import RegistryAccessChecker
    from calbridge.pairs.admin import AddOutcome, add_pairs
    from calbridge.pairs.spec import CalendarSpec, PairSpec

    by_name = {ref.name: ref for ref in CALENDARS}
    chosen: list[DemoPair] = []
    specs: list[PairSpec] = []
    for pair in PAIRS:
        blocker = _pair_blockers(stack, pair)
        if blocker is not None:
            stack.pair_errors[pair.name] = blocker
            continue
        google, microsoft = by_name[pair.google], by_name[pair.microsoft]
        specs.append(
            PairSpec(
                google=CalendarSpec(google.owner, stack.calendar_ids[google.name]),
                microsoft=CalendarSpec(microsoft.owner, stack.calendar_ids[microsoft.name]),
                via=pair.via,
                direction=pair.direction,
                detail=pair.detail,
                meeting_links=pair.meeting_links,
                google_connection=stack.connections["google"].name,
                microsoft_connection=stack.connections[str(pair.via)].name,
            )
        )
        chosen.append(pair)
    if not specs:
        return
    opened: list[Any] = []

    def open_recorded(connection: Connection) -> Any:
        opened.append(stack.registry.open(connection))
        return opened[-1]

    checker = RegistryAccessChecker(open_recorded)
    try:
        results = await add_pairs(stack.engine, specs, list(stack.connections.values()), checker, stack.bus)
    finally:
        await checker.aclose()
        await close_providers(opened)
    for pair, result in zip(chosen, results, strict=True):
        if result.outcome is AddOutcome.FAILED:
            stack.pair_errors[pair.name] = result.error or "activation failed"
        else:
            stack.pair_ids[pair.name] = result.pair.id


async def close_providers(providers: list[Any]) -> None:
    """Close what the access checks opened, whichever of `aclose` / `close` (sync or async) an
    adapter has: an unclosed SDK client warns on stderr at exit."""
    for provider in providers:
        with contextlib.suppress(Exception):
            await close_provider(provider)
