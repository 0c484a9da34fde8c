"""What the demo shows in the terminal (rich): the stack, the pairs, one line per step as it
lands (where it was made, where it showed, how long it took), and the verdict.

Everything fits 80 columns and reads the same when captured as text: colour only repeats what
the words and marks already say.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from rich.console import Console
from rich.status import Status
from rich.text import Text

from calbridge.pairs.spec import Detail, Direction
from calbridge_app.demo.runner import StepResult, StepStatus, Summary
from calbridge_app.demo.scenario import CALENDARS, PAIRS, DemoPair, Step

__all__ = ["DemoView", "format_seconds", "pair_line"]

_MARKS = {
    StepStatus.ARRIVED: ("✓", "green"),
    StepStatus.MISSING: ("✗", "bold red"),
    StepStatus.FAILED: ("✗", "bold red"),
    StepStatus.SKIPPED: ("\u2013", "yellow"),
}
_ARROWS = {Direction.BOTH: "⇄", Direction.GOOGLE_TO_MICROSOFT: "→", Direction.MICROSOFT_TO_GOOGLE: "←"}


def format_seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _shown(name: str) -> str:
    return next((ref.shown for ref in CALENDARS if ref.name == name), name)


def pair_line(pair: DemoPair) -> tuple[str, str, str]:
    """(owner, 'Google ⇄ Outlook', what it copies) for one demo pair."""
    owner = next(ref.owner for ref in CALENDARS if ref.name == pair.google)
    if pair.direction is Direction.MICROSOFT_TO_GOOGLE:  # the source reads first
        route = f"{_shown(pair.microsoft)} → Google"
    else:
        route = f"Google {_ARROWS[pair.direction]} {_shown(pair.microsoft)}"
    return owner, route, pair.says or ("busy blocks" if pair.detail is Detail.BUSY else "full detail")


ROUTE_WIDTH = 28
LATENCY_WIDTH = 8


def step_line(width: int, mark: str, style: str, result: StepResult, latency: str, seen_at: str = "") -> Text:
    """`✓  3 Alice moves it to Tue 14:00 ...  Google → Outlook  +1.42s  61 ms`, cut to `width`;
    when it was seen (since the scenario began) shows from 100 columns on."""
    clock = f"  {seen_at:<8}" if width >= 100 else ""
    says_width = max(20, width - 5 - ROUTE_WIDTH - LATENCY_WIDTH - len(clock) - 1)
    says = Text(result.step.says())
    says.truncate(says_width, overflow="ellipsis", pad=True)
    route = Text(_route(result.step))
    route.truncate(ROUTE_WIDTH, overflow="ellipsis", pad=True)
    line = Text.assemble(
        (mark, style), f" {result.number:>2} ", says, " ", route, clock, latency.rjust(LATENCY_WIDTH)
    )
    line.rstrip()
    return line


def header_line(width: int) -> Text:
    """Column titles over the step lines, in the same layout."""
    clock = f"  {'seen at':<8}" if width >= 100 else ""
    says_width = max(20, width - 5 - ROUTE_WIDTH - LATENCY_WIDTH - len(clock) - 1)
    titles = f"{'who does what':<{says_width}} {'made in → seen in':<{ROUTE_WIDTH}}"
    line = Text(f"     {titles}{clock}{'latency':>{LATENCY_WIDTH}}", style="dim")
    line.rstrip()
    return line


def _route(step: Step) -> str:
    if step.acts_on == step.observe:
        return _shown(step.observe)
    return f"{_shown(step.acts_on)} → {_shown(step.observe)}"


class DemoView:
    """Renders the demo; also the runner's listener (`started` / `finished`)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._status: Status | None = None
        self._told: set[str] = set()  # reasons already shown once
        self._began: float | None = None  # when the scenario started: "seen at" counts from it

    # --- before the scenario

    def starting(self) -> Status:
        return self.console.status("starting the sandbox, receiver, processor and renewer…")

    def stack(
        self,
        *,
        store: str,
        bus: str,
        receiver: str,
        started: Sequence[str],
        missing: Mapping[str, str],
        seconds: float,
    ) -> None:
        out = self.console
        out.print(
            Text.assemble(
                ("calbridge demo", "bold"), " · Google ⇄ Microsoft 365 / Exchange, all on this machine"
            )
        )
        rows: list[tuple[str, str, str]] = [
            ("store", store, ""),
            ("bus", bus, ""),
            ("receiver", receiver, ""),
            ("started", f"{', '.join(started)} ({format_seconds(seconds)})", ""),
        ]
        for piece in ("processor", "renewer", "google", "graph", "ews", "ews-listener", "freebusy"):
            if piece in missing:
                rows.append(("missing", missing[piece], "yellow"))
        for label, value, style in rows:
            out.print(Text.assemble(f"  {label:<9} ", (value, style)), highlight=False)

    def pairs(self, provisioned: Mapping[str, str], errors: Mapping[str, str]) -> None:
        out = self.console
        out.print()
        out.print(Text("Pairs", style="bold"))
        lines = [(pair, *pair_line(pair)) for pair in PAIRS]
        owner_width = max(len(owner) for _, owner, _, _ in lines)
        route_width = max(len(route) for _, _, route, _ in lines)
        for pair, owner, route, says in lines:
            if pair.name in provisioned:
                mark, tail = Text("✓", style="green"), Text(says)
            else:
                mark = Text("\u2013", style="yellow")
                tail = Text(f"not provisioned: {errors.get(pair.name, 'unknown reason')}", style="yellow")
            out.print(
                Text.assemble(mark, f" {owner:<{owner_width}}  {route:<{route_width}}  ", tail),
                highlight=False,
            )
        out.print()
        out.print(
            Text("Scenario", style="bold"),
            Text("(a person changes one side; calbridge carries it to the other)"),
        )
        out.print(header_line(out.width), soft_wrap=True)

    # --- the runner's listener

    def started(self, number: int, step: Step) -> None:
        if self._began is None:
            self._began = time.monotonic()
        self._status = self.console.status(f"{number:>2} {step.says()} — waiting for {_shown(step.observe)}…")
        self._status.start()

    def finished(self, result: StepResult) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
        mark, style = _MARKS[result.status]
        latency = format_seconds(result.latency) if result.status is StepStatus.ARRIVED else ""
        seen_at = ""
        if result.status is StepStatus.ARRIVED:
            seen_at = f"+{time.monotonic() - (self._began or time.monotonic()):.2f}s"
        line = step_line(self.console.width, mark, style, result, latency, seen_at)
        self.console.print(line, soft_wrap=True)
        if result.status is StepStatus.SKIPPED and result.detail in self._told:
            return
        self._told.add(result.detail)
        if result.status is not StepStatus.ARRIVED:
            label = {
                StepStatus.SKIPPED: "skipped",
                StepStatus.MISSING: "missing",
                StepStatus.FAILED: "failed",
            }
            self.console.print(
                Text(
                    f"     {label[result.status]}: {result.detail}",
                    style=style if result.attempted else "yellow",
                )
            )

    # --- the verdict

    def summary(self, summary: Summary) -> None:
        out = self.console
        out.print()
        out.print(Text("Summary", style="bold"))
        attempted = summary.arrived + summary.missing + summary.failed
        if attempted:
            line = f"  {summary.arrived} of {attempted} steps arrived on the other side"
            if summary.skipped:
                line += f" ({summary.skipped} skipped)"
        else:
            line = f"  no step could run in this build ({summary.skipped} skipped)"
        out.print(line, highlight=False)
        if summary.p50 is not None:
            out.print(
                f"  latency from the person's change to the other side: p50 {format_seconds(summary.p50)}, "
                f"p99 {format_seconds(summary.p99)}",
                highlight=False,
            )
        out.print(
            Text.assemble(
                "  duplicates ",
                (str(summary.duplicates), "green" if summary.duplicates == 0 else "bold red"),
                " · invitations mailed ",
                (str(summary.invitations), "green" if summary.invitations == 0 else "bold red"),
            )
        )
        for reason in summary.skipped_reasons:
            out.print(Text(f"  skipped: {reason}", style="yellow"))
        out.print()
        if summary.ok:
            attempted = summary.arrived + summary.missing + summary.failed
            if attempted == 0:
                verdict = f"nothing failed, but all {summary.skipped} steps were skipped (see above why)"
            else:
                verdict = "every change arrived on the other side"
                if summary.skipped:
                    verdict += f"; {summary.skipped} skipped step(s) need pieces this build lacks"
            out.print(Text.assemble(("PASS", "bold green"), f"  {verdict}"))
        else:
            problems = []
            if summary.not_arrived:
                steps = ", ".join(str(n) for n in summary.not_arrived)
                problems.append(f"step{'s' if len(summary.not_arrived) > 1 else ''} {steps} did not arrive")
            if summary.duplicates:
                problems.append(f"{summary.duplicates} duplicate event(s)")
            if summary.invitations:
                problems.append(f"{summary.invitations} invitation(s) would have been mailed")
            out.print(Text.assemble(("FAIL", "bold red"), f"  {'; '.join(problems)}"))

    def explore(
        self, *, control_url: str, receiver: str, connection_file: str, ca_file: str, graph: str | None
    ) -> None:
        """`--keep-running`: where everything is, and how to act as a person."""
        out = self.console
        out.print()
        out.print(Text("Still running — explore it (Ctrl-C stops everything)", style="bold"))
        rows = [
            ("receiver", f"{receiver}  (HTTPS: curl --cacert {ca_file})"),
            ("metrics", f"{receiver}/metrics"),
            ("health", f"{receiver}/healthz  {receiver}/readyz"),
            ("sandbox control API", control_url),
            ("connection file", connection_file),
        ]
        if graph:
            rows.append(("Graph control", f"{graph}/_control/graph (HTTPS, CA in the connection file)"))
        for name, value in rows:
            out.print(f"  {name:<20} {value}", highlight=False, soft_wrap=True)
        out.print()
        day = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
        out.print("  Act as Alice in Google Calendar, then look at her Outlook calendar:", highlight=False)
        out.print(
            f"    curl -s -X POST {control_url}/google/calendars/alice@example.com/events \\\n"
            "      -H 'Content-Type: application/json' \\\n"
            f'      -d \'{{"event": {{"summary": "Coffee",\n'
            f'                     "start": {{"dateTime": "{day}T10:00:00Z"}},\n'
            f'                     "end": {{"dateTime": "{day}T10:30:00Z"}}}}}}\'',
            highlight=False,
            soft_wrap=True,
        )
        if graph:
            out.print(
                f"    curl -s --cacert {ca_file} \\\n"
                f"      {graph}/_control/graph/mailboxes/alice@example.com/calendars/default/state",
                highlight=False,
                soft_wrap=True,
            )
        out.print("  Routes of the control API: docs/sandbox.md and docs/sandbox-graph.md.", highlight=False)
