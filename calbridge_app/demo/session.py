"""One run of the demo: start the stack, play the scenario as the people, count duplicates and
invitations, show the verdict; with `keep_running`, stay up until interrupted.

The exit code is 0 only when every attempted step arrived on the other side with no duplicate
and no invitation mailed. Steps skipped because this build lacks a piece do not fail the run:
they are listed with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from rich.console import Console

from calbridge_app.demo.people import (
    ExchangePerson,
    FreeBusyDesk,
    GooglePerson,
    MeetingDesk,
    OutlookPerson,
    next_monday,
)
from calbridge_app.demo.render import DemoView
from calbridge_app.demo.runner import Participant, Summary, Timing, play, summarize
from calbridge_app.demo.scenario import CALENDARS, PAIRS, SCENARIO, DemoSide, Shown, Step
from calbridge_app.demo.stack import Stack, StackOptions, running_stack

__all__ = ["DemoOptions", "run_demo"]

Hook = Callable[[Stack], Awaitable[None]]


@dataclass(frozen=True)
class DemoOptions:
    keep_running: bool = False
    step_timeout: float = 20.0
    steps: Sequence[Step] = SCENARIO
    stack: StackOptions = field(default_factory=StackOptions)
    before_scenario: Hook | None = None  # tests: inject faults once everything runs
    until: asyncio.Event | None = None  # keep_running: stop when set (default: Ctrl-C)


def _unavailable(stack: Stack) -> dict[str, str]:
    """Calendar or capability name -> why the demo cannot use it in this run."""
    out: dict[str, str] = {}
    for pair in PAIRS:
        if pair.name not in stack.pair_ids:
            reason = stack.pair_errors.get(pair.name, "not provisioned")
            if not reason.startswith("needs "):
                reason = f"the {pair.name} pair could not be activated: {reason}"
            out.setdefault(pair.google, reason)
            out.setdefault(pair.microsoft, reason)
    for capability in ("freebusy", "ews-listener"):
        if capability in stack.missing:
            out[capability] = stack.missing[capability]
    return out


def _people(stack: Stack, control: Any, graph: Any, session: aiohttp.ClientSession) -> dict[str, Participant]:
    people: dict[str, Participant] = {}
    for ref in CALENDARS:
        calendar = stack.calendar_ids.get(ref.name, ref.calendar)
        if ref.side is DemoSide.GOOGLE:
            people[ref.name] = GooglePerson(control, calendar, ref.name)
        elif ref.side is DemoSide.OUTLOOK and graph is not None:
            people[ref.name] = OutlookPerson(
                graph, ref.owner, "default" if calendar == "primary" else calendar, ref.name
            )
        elif ref.side is DemoSide.EXCHANGE and "ews" in stack.sandbox.info.https_endpoints:
            from sandbox.ews.control import EwsControlClient

            client = EwsControlClient(
                stack.sandbox.info.https_endpoints["ews"], ssl_context=stack.sandbox.tls.client_context()
            )
            people[ref.name] = ExchangePerson(client, ref.owner, ref.name)
        elif ref.side is DemoSide.FREEBUSY and stack.freebusy_key is not None:
            people[ref.name] = FreeBusyDesk(session, f"{stack.receiver_url}/v1/freebusy", stack.freebusy_key)
        elif ref.side is DemoSide.MEETINGS and stack.freebusy_key is not None:
            people[ref.name] = MeetingDesk(session, f"{stack.receiver_url}/v1/meetings", stack.freebusy_key)
    return people


def count_duplicates(calendars: Mapping[str, Sequence[Shown]]) -> int:
    """Events beyond the first that carry the same stamp (pair, origin) on one calendar."""
    extra = 0
    for seen in calendars.values():
        stamps = Counter((s.pair, s.source) for s in seen if s.source is not None)
        extra += sum(n - 1 for n in stamps.values() if n > 1)
    return extra


async def _look_everywhere(people: Mapping[str, Participant], used: set[str]) -> dict[str, list[Shown]]:
    out = {}
    for name in sorted(used):
        person = people.get(name)
        if person is not None and not isinstance(person, FreeBusyDesk | MeetingDesk):
            out[name] = await person.look()
    return out


async def run_demo(console: Console, options: DemoOptions = DemoOptions()) -> int:
    """Run the demo, render it on `console`; the process exit code."""
    view = DemoView(console)
    began = time.monotonic()
    with view.starting():
        stack_cm = running_stack(options.stack)
        stack = await stack_cm.__aenter__()
    try:
        return await _play_on(stack, view, options, time.monotonic() - began)
    finally:
        with view.console.status("stopping…"):
            await stack_cm.__aexit__(None, None, None)


async def _play_on(stack: Stack, view: DemoView, options: DemoOptions, startup: float) -> int:
    view.stack(
        store=stack.store_label,
        bus=stack.bus_label,
        receiver=stack.receiver_url,
        started=stack.started,
        missing=stack.missing,
        seconds=startup,
    )
    view.pairs(stack.pair_ids, stack.pair_errors)
    if options.before_scenario is not None:
        await options.before_scenario(stack)
    graph = None
    async with contextlib.AsyncExitStack() as scope:
        control = await scope.enter_async_context(stack.sandbox.control())
        if "graph" in stack.sandbox.info.https_endpoints:
            from sandbox.graph.client import GraphControl

            graph = await scope.enter_async_context(
                GraphControl(stack.sandbox.info.https_endpoints["graph"], stack.sandbox.tls.client_context())
            )
        session = await scope.enter_async_context(  # to the receiver's free/busy API
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=stack.sandbox.tls.client_context()),
                timeout=aiohttp.ClientTimeout(total=10),
            )
        )
        people = _people(stack, control, graph, session)
        unavailable = _unavailable(stack)
        results = await play(
            options.steps,
            people,
            base=next_monday(datetime.now(UTC)),
            unavailable=unavailable,
            clock=time.monotonic,
            sleep=asyncio.sleep,
            listener=view,
            timing=Timing(timeout=options.step_timeout),
        )
        used = {
            name for step in options.steps for name in (step.acts_on, step.observe) if name not in unavailable
        }
        seen = await _look_everywhere(people, used)
        counters = await control.counters()
        summary: Summary = summarize(
            results, duplicates=count_duplicates(seen), invitations=len(counters.get("invitations", []))
        )
        view.summary(summary)
        if options.keep_running:
            view.explore(
                control_url=stack.sandbox.info.control_url,
                receiver=stack.receiver_url,
                connection_file=str(stack.connection_file),
                ca_file=str(stack.folder / "sandbox-ca.pem"),
                graph=stack.sandbox.info.https_endpoints.get("graph"),
            )
            await _wait_for_stop(options.until)
    return summary.exit_code


async def _wait_for_stop(until: asyncio.Event | None) -> None:
    """Until the event is set, or Ctrl-C / SIGTERM."""
    import signal

    stop = until or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signum)
