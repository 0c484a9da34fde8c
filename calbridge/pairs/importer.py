"""`calbridge pairs import FILE.csv`: many pairs at once, validated first, activated with bounded
concurrency, with a report of the rows that failed and why. Re-running the same file changes
nothing: every row is an idempotent `add_pair`.

The file has a header; `google` and `microsoft` are required, `via`, `direction`, `detail`,
`google_connection` and `microsoft_connection` are optional (defaults: graph, both, full, the only
connection of the provider).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.connections import Connection
from calbridge.errors import CalbridgeError
from calbridge.pairs.access import AccessChecker
from calbridge.pairs.admin import AddOutcome, HintPublisher, add_pairs, choose_connection
from calbridge.pairs.spec import (
    Detail,
    Direction,
    PairSpec,
    PairSpecInvalid,
    Side,
    Via,
    parse_calendar,
    parse_choice,
)

__all__ = ["ImportRow", "ImportSummary", "RowError", "import_pairs", "read_rows", "write_report"]

REQUIRED = ("google", "microsoft")
OPTIONAL = ("via", "direction", "detail", "google_connection", "microsoft_connection")
BATCH = 200  # rows stored per transaction; progress advances a batch at a time
REPORT_COLUMNS = ("line", "google", "microsoft", "via", "direction", "detail", "reason")


class ImportFileInvalid(CalbridgeError):
    """The file itself cannot be read as an import (no header, unknown columns)."""


@dataclass(frozen=True, slots=True)
class ImportRow:
    line: int
    raw: dict[str, str]
    spec: PairSpec


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    raw: dict[str, str]
    reason: str


@dataclass(slots=True)
class ImportSummary:
    counts: Counter[str] = field(default_factory=Counter)
    failures: list[RowError] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.failures)


def _cell(raw: dict[str, str], name: str) -> str:
    return (raw.get(name) or "").strip()


def parse_row(line: int, raw: dict[str, str]) -> ImportRow:
    """One CSV row as a PairSpec; PairSpecInvalid says which cell is wrong."""
    via = parse_choice(_cell(raw, "via") or Via.GRAPH, Via, "via")
    direction = parse_choice(_cell(raw, "direction") or Direction.BOTH, Direction, "direction")
    detail = parse_choice(_cell(raw, "detail") or Detail.FULL, Detail, "detail")
    spec = PairSpec(
        google=parse_calendar(_cell(raw, "google"), Side.GOOGLE),
        microsoft=parse_calendar(_cell(raw, "microsoft"), Side.MICROSOFT),
        via=Via(via),
        direction=Direction(direction),
        detail=Detail(detail),
        google_connection=_cell(raw, "google_connection") or None,
        microsoft_connection=_cell(raw, "microsoft_connection") or None,
    )
    return ImportRow(line, raw, spec)


def read_rows(text: str) -> tuple[list[ImportRow], list[RowError]]:
    """Validate every row before anything is stored. A pair listed twice is an error on its
    second line (which of two directions would win is not for us to guess)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")), skipinitialspace=True)
    header = [name.strip().lower() for name in reader.fieldnames or []]
    if not header:
        raise ImportFileInvalid("the file is empty; the first line must be a header: google,microsoft,...")
    missing = [name for name in REQUIRED if name not in header]
    unknown = [name for name in header if name and name not in REQUIRED + OPTIONAL]
    if missing or unknown:
        problems = [f"missing column(s) {', '.join(missing)}"] if missing else []
        problems += [f"unknown column(s) {', '.join(unknown)}"] if unknown else []
        raise ImportFileInvalid(f"line 1: {'; '.join(problems)} (expected {','.join(REQUIRED + OPTIONAL)})")
    reader.fieldnames = header
    rows: list[ImportRow] = []
    errors: list[RowError] = []
    seen: dict[tuple[str, str, str, str, str], int] = {}
    for raw in reader:
        line = reader.line_num
        clean = {k: (v or "") for k, v in raw.items() if isinstance(k, str)}
        if not any(v.strip() for v in clean.values()):
            continue  # a blank line
        if None in raw:
            errors.append(RowError(line, clean, f"line {line}: more cells than columns"))
            continue
        try:
            row = parse_row(line, clean)
        except PairSpecInvalid as exc:
            errors.append(RowError(line, clean, f"line {line}: {exc}"))
            continue
        spec = row.spec
        key = (
            str(spec.google),
            spec.google_connection or "",
            str(spec.microsoft),
            spec.via,
            spec.microsoft_connection or "",
        )
        if key in seen:
            errors.append(RowError(line, clean, f"line {line}: the same pair as line {seen[key]}"))
            continue
        seen[key] = line
        rows.append(row)
    return rows, errors


def check_connections(rows: Iterable[ImportRow], connections: Sequence[Connection]) -> list[RowError]:
    """Rows whose connection cannot be chosen (none, several, or an unknown name)."""
    errors = []
    for row in rows:
        try:
            choose_connection(connections, row.spec.provider(Side.GOOGLE), row.spec.google_connection)
            choose_connection(connections, row.spec.microsoft_provider, row.spec.microsoft_connection)
        except CalbridgeError as exc:
            errors.append(RowError(row.line, row.raw, f"line {row.line}: {exc}"))
    return errors


async def import_pairs(
    engine: AsyncEngine,
    rows: Sequence[ImportRow],
    connections: Sequence[Connection],
    checker: AccessChecker,
    bus: HintPublisher,
    *,
    concurrency: int,
    batch: int = BATCH,
    on_done: Callable[[ImportRow, AddOutcome], None] | None = None,
) -> ImportSummary:
    """Add every row in batches: each batch is stored in one transaction, its access checks run
    at most `concurrency` at a time. Failures are collected, never raised."""
    summary = ImportSummary()
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        try:
            results = await add_pairs(
                engine, [row.spec for row in chunk], connections, checker, bus, concurrency=concurrency
            )
            outcomes = [(result.outcome, result.error) for result in results]
        except CalbridgeError as exc:  # e.g. the bus refused: every row of the batch failed
            outcomes = [(AddOutcome.FAILED, str(exc))] * len(chunk)
        for row, (outcome, reason) in zip(chunk, outcomes, strict=True):
            summary.counts[outcome] += 1
            if outcome is AddOutcome.FAILED:
                summary.failures.append(RowError(row.line, row.raw, f"line {row.line}: {reason}"))
            if on_done is not None:
                on_done(row, outcome)
    summary.failures.sort(key=lambda failure: failure.line)
    return summary


def write_report(path: Path, failures: Sequence[RowError]) -> None:
    """The failed rows as CSV, with the reason, ready to fix and import again."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(REPORT_COLUMNS)
        for failure in sorted(failures, key=lambda f: f.line):
            writer.writerow(
                [failure.line, *(_cell(failure.raw, c) for c in REPORT_COLUMNS[1:-1]), failure.reason]
            )
