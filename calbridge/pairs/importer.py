"""`calbridge pairs import FILE.csv`: many pairs at once, validated first, activated with bounded
concurrency, with a report of the rows that failed and why. Re-running the same file changes
nothing: every row is an idempotent `add_pair`.

The file has a header; `google` and `microsoft` are required, `via`, `direction`, `detail`,
`conflict` (newest|google|microsoft), `meeting_links` and `working_locations` (yes/no),
`google_connection` and `microsoft_connection` are optional (defaults: graph, both, full, newest,
no, no, the only connection of the provider). A `reason` column is ignored: the report of the
failed rows is the input's columns plus `reason`, so it can be fixed and imported again as it is.

Spreadsheets save CSV in many encodings. A byte-order mark says which (UTF-8, UTF-16, UTF-32);
without one the file is read as UTF-8, and failing that as Windows-1252 (what Excel writes on
Windows; every byte means something in it or in Latin-1), which the command says it did.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.connections import Connection
from calbridge.errors import CalbridgeError
from calbridge.pairs.access import AccessChecker
from calbridge.pairs.admin import AddOutcome, HintPublisher, add_pairs, choose_connection
from calbridge.pairs.policy import ConflictPolicy
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

__all__ = [
    "DecodedFile",
    "ImportFile",
    "ImportFileInvalid",
    "ImportRow",
    "ImportSummary",
    "ReportFile",
    "RowError",
    "decode_file",
    "import_pairs",
    "read_rows",
    "write_report",
]

REQUIRED = ("google", "microsoft")
OPTIONAL = (
    "via",
    "direction",
    "detail",
    "conflict",
    "meeting_links",
    "working_locations",
    "google_connection",
    "microsoft_connection",
)
_YES, _NO = frozenset({"yes", "true", "1", "on"}), frozenset({"", "no", "false", "0", "off"})
REASON = "reason"  # the report's column; `line` is the one of reports written before it
IGNORED = (REASON, "line")
BATCH = 200  # rows stored per transaction; progress advances a batch at a time

# Longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class ImportFileInvalid(CalbridgeError):
    """The file itself cannot be read as an import (encoding, no header, unknown columns)."""


@dataclass(frozen=True, slots=True)
class DecodedFile:
    text: str
    encoding: str  # utf-8, utf-8-sig, utf-16, utf-32, cp1252 or latin-1

    @property
    def guessed(self) -> bool:
        """Read in a legacy encoding: neither marked nor valid UTF-8, so worth a word."""
        return self.encoding in ("cp1252", "latin-1")

    @property
    def encoding_name(self) -> str:
        """The encoding as a spreadsheet's menu names it."""
        names = {"cp1252": "Windows-1252", "latin-1": "Latin-1", "utf-8-sig": "UTF-8"}
        return names.get(self.encoding, self.encoding.upper())


def decode_file(data: bytes) -> DecodedFile:
    """The file's text: by its byte-order mark, else UTF-8, else Windows-1252, else Latin-1."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return DecodedFile(data.decode(encoding), encoding)
            except UnicodeDecodeError as exc:
                raise ImportFileInvalid(
                    f"it starts with a {encoding.upper()} byte-order mark but is not {encoding.upper()} "
                    f"at byte {exc.start}; save it again as CSV UTF-8"
                ) from None
    if b"\x00" in data:
        raise ImportFileInvalid(
            "it contains NUL bytes (UTF-16 without a byte-order mark?); save it again as CSV UTF-8"
        )
    for encoding in ("utf-8", "cp1252"):
        try:
            return DecodedFile(data.decode(encoding), encoding)
        except UnicodeDecodeError:
            continue
    return DecodedFile(data.decode("latin-1"), "latin-1")


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


def _flag(value: str, what: str) -> bool:
    if value.lower() in _YES:
        return True
    if value.lower() in _NO:
        return False
    raise PairSpecInvalid(f"{what} must be yes or no, got {value!r}")


def parse_row(line: int, raw: dict[str, str]) -> ImportRow:
    """One CSV row as a PairSpec; PairSpecInvalid says which cell is wrong."""
    via = parse_choice(_cell(raw, "via") or Via.GRAPH, Via, "via")
    direction = parse_choice(_cell(raw, "direction") or Direction.BOTH, Direction, "direction")
    detail = parse_choice(_cell(raw, "detail") or Detail.FULL, Detail, "detail")
    conflict = parse_choice(_cell(raw, "conflict") or ConflictPolicy.NEWEST, ConflictPolicy, "conflict")
    spec = PairSpec(
        google=parse_calendar(_cell(raw, "google"), Side.GOOGLE),
        microsoft=parse_calendar(_cell(raw, "microsoft"), Side.MICROSOFT),
        via=Via(via),
        direction=Direction(direction),
        detail=Detail(detail),
        conflict=ConflictPolicy(conflict),
        meeting_links=_flag(_cell(raw, "meeting_links"), "meeting_links"),
        working_locations=_flag(_cell(raw, "working_locations"), "working_locations"),
        google_connection=_cell(raw, "google_connection") or None,
        microsoft_connection=_cell(raw, "microsoft_connection") or None,
    )
    return ImportRow(line, raw, spec)


@dataclass(frozen=True, slots=True)
class ImportFile:
    columns: tuple[str, ...]  # the header, as read (lower case), in its order
    rows: list[ImportRow]
    errors: list[RowError]


def read_rows(text: str) -> ImportFile:
    """Validate every row before anything is stored. A pair listed twice is an error on its
    second line (which of two directions would win is not for us to guess)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")), skipinitialspace=True)
    header = [name.strip().lower() for name in reader.fieldnames or []]
    if not header:
        raise ImportFileInvalid("the file is empty; the first line must be a header: google,microsoft,...")
    missing = [name for name in REQUIRED if name not in header]
    unknown = [name for name in header if name and name not in REQUIRED + OPTIONAL + IGNORED]
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
    return ImportFile(tuple(header), rows, errors)


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


def write_report(handle: IO[str], columns: Sequence[str], failures: Sequence[RowError]) -> None:
    """The failed rows as CSV, ready to fix and import again as it is: the input's `columns` in
    its order, then `reason`, which import ignores and which names the input's line."""
    columns = [c for c in columns if c and c not in IGNORED]
    writer = csv.writer(handle)
    writer.writerow([*columns, REASON])
    for failure in sorted(failures, key=lambda f: f.line):
        writer.writerow([*(failure.raw.get(c) or "" for c in columns), failure.reason])


class ReportFile:
    """Where `--report` goes, claimed before any pair is stored: a temporary file is created beside
    it at once, so a missing or read-only directory is found before the import, and renamed onto
    it once written, so the report is whole or untouched (it may be the file being imported)."""

    def __init__(self, path: Path) -> None:
        if path.is_dir():
            raise IsADirectoryError(21, "it is a directory", str(path))
        self.path = path
        self._handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 -- kept open until commit
            "w",
            encoding="utf-8",
            newline="",
            dir=path.parent,
            prefix=f".{path.name}.",
            suffix=".tmp",
            delete=False,
        )

    def commit(self, columns: Sequence[str], failures: Sequence[RowError]) -> None:
        try:
            write_report(self._handle, columns, failures)
            self._handle.close()
            os.replace(self._handle.name, self.path)
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        self._handle.close()
        Path(self._handle.name).unlink(missing_ok=True)
