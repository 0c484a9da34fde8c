"""The `pairs list` lines: pure rendering of pair records, fast enough to stream thousands.

One line per pair: the short columns first, aligned (id, state, last sync, subscription
expiry, failed events), then the pair itself with both addresses whole, so what is printed can
be given back to `pairs show` / `pairs remove` (ids and addresses are never cut). A pair's state
reason or last error follows on an indented line of its own, cut to the width with an ellipsis
(`pairs show` has it whole). At 80 columns a typical pair fits its line; a longer address makes
its line longer rather than shorter than the truth.

The lines are plain `rich.text.Text` built by hand, not a `rich.table.Table`: a table measures
every cell of every row before printing the first, which took seconds for 10,000 pairs; here
the widths of the short columns come from the first batch and each line is printed as it is
read (`bench/pairs_list.py`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text

from calbridge.pairs.records import PairRecord
from calbridge_app.cli.humanize import relative

__all__ = [
    "ARROWS",
    "STATE_STYLES",
    "ListLayout",
    "header_line",
    "microsoft_cell",
    "pair_lines",
    "pairs_table",
    "short_error",
    "subscriptions_cell",
]

STATE_STYLES = {
    "active": "green",
    "pending": "yellow",
    "paused": "blue",
    "error": "bold red",
    "removing": "magenta",
}
ARROWS = {"both": "⇄", "google-to-microsoft": "→", "microsoft-to-google": "←"}
ID_WIDTH = 12  # every pair id is 12 characters (calbridge.store.connection_records.new_id)
INDENT = " " * (ID_WIDTH + 1)

_SIDE_LABEL = re.compile(r"(Google|Microsoft \((?:graph|ews)\)) calendar \S+: ")


def short_error(text: str) -> str:
    """The list's form of a reason: `G:`/`M:` instead of the side and address the row shows."""
    return _SIDE_LABEL.sub(lambda m: "G: " if m.group(1) == "Google" else "M: ", text)


def microsoft_cell(pair: PairRecord) -> str:
    return f"{pair.microsoft} (ews)" if pair.via.value == "ews" else str(pair.microsoft)


def subscriptions_cell(pair: PairRecord, now: datetime) -> Text:
    """When the soonest subscription of the pair's source calendars expires. A calendar whose
    provider streams through a listener (its profile says so: EWS) has no expiry: it shows whether
    a listener holds its stream now (`streaming`), held it once (`stream lost`, since when), or
    never has (`no listener`)."""
    from calbridge.providers.registry import profile_for

    if pair.state.value != "active":
        return Text("-", style="dim")
    expiring: list[datetime | None] = []
    for side in pair.sources():
        if profile_for(pair.provider(side)).kept_by_renewer:
            expiring.append(pair.subscription_expires(side))
            continue
        held = pair.stream_held_until(side)
        if held is None:
            return Text("no listener", style="yellow")
        if held <= now:
            return Text(f"stream lost {relative(held, now)}", style="bold red")
    if not expiring:
        return Text("streaming")
    if any(when is None for when in expiring):
        return Text("not yet", style="yellow")
    soonest = min(when for when in expiring if when is not None)
    if soonest <= now:
        return Text(f"expired {relative(soonest, now)}", style="bold red")
    return Text(relative(soonest, now), style="yellow" if (soonest - now).total_seconds() < 3600 else "")


@dataclass(frozen=True, slots=True)
class ListLayout:
    """Widths of the short columns, and whether the `failed` column is shown at all (only when
    some listed pair has failed events, so a healthy list keeps its width)."""

    width: int  # the terminal's (or COLUMNS'): where a reason line is cut
    state: int
    synced: int
    expires: int
    counted: bool

    @classmethod
    def fit(cls, sample: Iterable[PairRecord], now: datetime, width: int, *, counted: bool) -> ListLayout:
        """Widths that hold the header and every cell of `sample` (the first batch)."""
        state, synced, expires = len("state"), len("synced"), len("expires")
        for pair in sample:
            state = max(state, len(pair.state.value))
            synced = max(synced, len(relative(pair.last_sync_at, now)))
            expires = max(expires, len(subscriptions_cell(pair, now).plain))
        return cls(width, state, synced, expires, counted)


def header_line(layout: ListLayout) -> Text:
    failed = f"{'failed':>6} " if layout.counted else ""
    text = (
        f"{'id':<{ID_WIDTH}} {'state':<{layout.state}} {'synced':<{layout.synced}} "
        f"{'expires':<{layout.expires}} {failed}pair (google, sync, microsoft)"
    )
    return Text(text, style="bold underline", no_wrap=True)


def pair_lines(
    pair: PairRecord, now: datetime, failures: Mapping[str, int], layout: ListLayout
) -> list[Text]:
    """The pair's line, and its reason or last error on a line of its own when it has one."""
    state = pair.state.value
    expires = subscriptions_cell(pair, now)
    line = Text(no_wrap=True)
    line.append(f"{pair.id:<{ID_WIDTH}} ")
    line.append(f"{state:<{layout.state}}", style=STATE_STYLES[state])
    line.append(f" {relative(pair.last_sync_at, now):<{layout.synced}} ")
    expires.pad_right(max(0, layout.expires - len(expires.plain)))
    line.append_text(expires)
    line.append(" ")
    if layout.counted:
        count = failures.get(pair.id) or 0
        line.append(f"{count or '':>6}", style="bold red")
        line.append(" ")
    line.append(f"{pair.google} {ARROWS[pair.direction.value]} {pair.detail.value} {microsoft_cell(pair)}")
    lines = [line]
    said = pair.last_error or pair.state_reason
    if said:
        room = max(10, layout.width - len(INDENT))
        text = short_error(" ".join(said.split()))
        if len(text) > room:
            text = text[: room - 1] + "…"
        lines.append(Text(INDENT + text, style="red" if pair.last_error else "dim", no_wrap=True))
    return lines


def pairs_table(
    records: list[PairRecord], now: datetime, failures: Mapping[str, int] | None = None, width: int = 100
) -> Text:
    """The whole listing of a few pairs as one renderable (`pairs show` of an ambiguous address)."""
    failures = failures or {}
    layout = ListLayout.fit(records, now, width, counted=any(failures.get(p.id) for p in records))
    lines = [header_line(layout)]
    for pair in records:
        lines.extend(pair_lines(pair, now, failures, layout))
    return Text("\n").join(lines)
