"""A terminal timeline of a free/busy answer: one row per address, time across, statuses coloured.

Pure: a response in, rich Text rows out, for a given width. Each cell shows the strongest
status that touches it (oof > busy > workingElsewhere > tentative), so a short meeting never
vanishes between cells; glyphs differ too, so the picture survives without colour.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from rich.console import Group
from rich.text import Text

from calbridge.freebusy.intervals import PRECEDENCE
from calbridge.freebusy.models import AddressBusy, AddressFailure, FreeBusyResponse
from calbridge.freebusy.types import BusyStatus

__all__ = ["GLYPHS", "render_timeline"]

GLYPHS: dict[BusyStatus | None, tuple[str, str]] = {
    None: ("·", "dim"),
    BusyStatus.TENTATIVE: ("▒", "yellow"),
    BusyStatus.WORKING_ELSEWHERE: ("░", "blue"),
    BusyStatus.BUSY: ("█", "red"),
    BusyStatus.OOF: ("▓", "magenta"),
}
_STEPS = [timedelta(hours=h) for h in (1, 2, 3, 4, 6, 12, 24, 48, 168)]
_LABEL_GAP = 6  # a tick label needs this many cells


def render_timeline(response: FreeBusyResponse, width: int = 100) -> Group:
    zone = ZoneInfo(response.time_zone)
    start, end = response.start.astimezone(zone), response.end.astimezone(zone)
    name_width = min(28, max([len(a) for a in response.results] + [8]))
    cells = max(10, width - name_width - 1)
    span = _between(start, end) / cells
    rows = [_header(start, end, cells, name_width)]
    for address, result in response.results.items():
        row = Text(_fit(address, name_width).ljust(name_width) + " ")
        if isinstance(result, AddressFailure):
            message = f"{result.error.code}: {result.error.message}"
            row.append(_fit(message, cells), style="bold red")
        elif isinstance(result, AddressBusy):
            row.append_text(_bar(result, start, span, cells))
        rows.append(row)
    rows.append(_legend(response.time_zone))
    return Group(*rows)


def _bar(result: AddressBusy, start: datetime, span: timedelta, cells: int) -> Text:
    shown: list[BusyStatus | None] = [None] * cells
    for block in result.busy:
        first = max(0, int(_between(start, block.start) / span))
        last = min(cells - 1, int(_between(start, block.end) / span - 1e-9))
        for i in range(first, last + 1):
            current = shown[i]
            if current is None or PRECEDENCE[block.status] > PRECEDENCE[current]:
                shown[i] = block.status
    bar = Text()
    for status in shown:
        glyph, style = GLYPHS[status]
        bar.append(glyph, style=style)
    return bar


def _header(start: datetime, end: datetime, cells: int, name_width: int) -> Text:
    per_cell = _between(start, end) / cells
    step = next((s for s in _STEPS if s / per_cell >= _LABEL_GAP), _STEPS[-1])
    line = [" "] * cells
    tick = _first_tick(start, step)
    while tick < end:
        at = int(_between(start, tick) / per_cell)
        label = tick.strftime("%a %d") if (tick.hour, tick.minute) == (0, 0) else tick.strftime("%H:%M")
        # a blank cell on both sides: a day label ("Mon 23") is longer than an hour label
        clear = at == 0 or line[at - 1] == " "
        if clear and at + len(label) <= cells and all(c == " " for c in line[at : at + len(label) + 1]):
            line[at : at + len(label)] = list(label)
        tick = tick + step  # wall-clock steps: ticks stay on local hours across DST
    return Text(" " * (name_width + 1) + "".join(line), style="bold")


def _between(earlier: datetime, later: datetime) -> timedelta:
    """Elapsed time; aware datetimes sharing a tzinfo would subtract as wall clocks."""
    return later.astimezone(UTC) - earlier.astimezone(UTC)


def _first_tick(start: datetime, step: timedelta) -> datetime:
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    if step >= timedelta(days=1):
        return midnight if midnight >= start else midnight + timedelta(days=1)
    hours = int(step / timedelta(hours=1))
    tick = midnight
    while tick < start:
        tick += timedelta(hours=hours)
    return tick


def _legend(zone: str) -> Text:
    legend = Text(f"times in {zone}   ", style="dim")
    for status in (BusyStatus.BUSY, BusyStatus.TENTATIVE, BusyStatus.OOF, BusyStatus.WORKING_ELSEWHERE, None):
        glyph, style = GLYPHS[status]
        legend.append(glyph, style=style)
        legend.append(f" {status or 'free'}  ")
    return legend


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
