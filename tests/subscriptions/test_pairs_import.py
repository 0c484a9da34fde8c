"""`pairs import`: thousands of rows validated first, activated with bounded concurrency, a report
of the failed rows with line numbers and reasons, and a re-run that changes nothing."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import pytest
import sqlalchemy as sa
from pair_fakes import Access, RecordingBus, seed_connections
from sqlalchemy.ext.asyncio import AsyncEngine

from calbridge.pairs.access import RegistryAccessChecker
from calbridge.pairs.importer import (
    ImportFileInvalid,
    ReportFile,
    RowError,
    decode_file,
    import_pairs,
    read_rows,
    write_report,
)
from calbridge.secretbox import SecretBox
from calbridge.store.engine import create_engine
from calbridge.store.migrate import upgrade
from calbridge.store.tables import pairs

ROWS = 2000


def generated_csv(rows: int = ROWS) -> str:
    """`rows` pairs, three of them malformed, and one duplicate at the end."""
    lines = ["google,microsoft,via,direction,detail"]
    for n in range(rows):
        direction = ("both", "google-to-microsoft", "microsoft-to-google")[n % 3]
        detail = "busy" if n % 7 == 0 else ""
        lines.append(f"user{n}@example.com,user{n}@example.org,,{direction},{detail}")
    # a few bad rows, at known lines (the header is line 1, row n is line n + 2)
    lines[11] = "user10@example.com,not-an-address,,both,full"
    lines[101] = "user100@example.com,user100@example.org,,sideways,full"
    lines[min(1001, rows)] = "userX@example.com,userX@example.org,smtp,both,full"
    lines.append("user5@example.com,user5@example.org,graph,both,full")  # a duplicate of line 7
    return "\n".join(lines) + "\n"


def test_given_bad_cells_then_each_is_reported_with_its_line() -> None:
    read = read_rows(generated_csv())
    rows, errors = read.rows, read.errors
    assert len(rows) == ROWS - 3
    assert [(e.line, e.reason) for e in errors] == [
        (12, "line 12: the Microsoft mailbox 'not-an-address' is not an email address"),
        (102, "line 102: direction must be both|google-to-microsoft|microsoft-to-google, got 'sideways'"),
        (1002, "line 1002: via must be graph|ews, got 'smtp'"),
        (ROWS + 2, f"line {ROWS + 2}: the same pair as line 7"),
    ]


def test_given_a_meeting_links_column_then_yes_turns_them_on_and_a_bad_value_is_reported() -> None:
    text = "google,microsoft,meeting_links\na@example.com,a@example.org,yes\nb@example.com,b@example.org,\n"
    read = read_rows(text + "c@example.com,c@example.org,maybe\n")
    assert [row.spec.meeting_links for row in read.rows] == [True, False]
    assert [e.reason for e in read.errors] == ["line 4: meeting_links must be yes or no, got 'maybe'"]


def test_given_a_file_without_the_microsoft_column_then_it_is_refused_before_any_row() -> None:
    with pytest.raises(ImportFileInvalid, match="missing column\\(s\\) microsoft"):
        read_rows("google,outlook\na@example.com,a@example.org\n")


# --- encodings: what spreadsheets save

CALENDAR = "Réunions d\u2019équipe"  # a typographic apostrophe: 0x92 in Windows-1252, not in Latin-1
TEXT = f"google,microsoft\nzoe@example.com/{CALENDAR},zoe@example.org\n"


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (TEXT.encode("utf-8-sig"), "utf-8-sig"),  # Excel's "CSV UTF-8"
        (TEXT.encode("utf-16"), "utf-16"),  # Excel's "Unicode text", little-endian with its mark
        (b"\xfe\xff" + TEXT.encode("utf-16-be"), "utf-16"),
        (TEXT.encode("utf-32"), "utf-32"),
        (TEXT.encode("cp1252"), "cp1252"),  # Excel's "CSV" on Windows
    ],
)
def test_given_a_file_in_a_spreadsheet_encoding_then_its_text_is_read(data: bytes, encoding: str) -> None:
    decoded = decode_file(data)
    assert (decoded.text.lstrip("\ufeff"), decoded.encoding) == (TEXT, encoding)
    assert decoded.guessed == (encoding == "cp1252")
    read = read_rows(decoded.text)
    assert [r.spec.google.calendar for r in read.rows] == [CALENDAR] and read.errors == []


def test_given_bytes_windows_1252_leaves_undefined_then_latin_1_reads_them() -> None:
    decoded = decode_file("google,microsoft\nzoé@example.com,x@example.org\n".encode("latin-1") + b"\x81\n")
    assert decoded.encoding == "latin-1" and decoded.guessed and "zoé@example.com" in decoded.text


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (TEXT.encode("utf-16-le"), "NUL bytes (UTF-16 without a byte-order mark?)"),
        (b"\xff\xfe" + b"g\x00\x00\xd8", "UTF-16 byte-order mark but is not UTF-16"),
    ],
)
def test_given_a_file_no_encoding_reads_then_it_is_refused_saying_how_to_save_it(
    data: bytes, says: str
) -> None:
    with pytest.raises(ImportFileInvalid, match="save it again as CSV UTF-8") as refused:
        decode_file(data)
    assert says in str(refused.value)


# --- the report: the input's columns and a reason, read back as it is


def test_given_failed_rows_then_the_report_is_the_input_plus_a_reason_and_reads_back() -> None:
    source = (
        "microsoft,google,detail,google_connection\n"
        "a@example.org,a@example.com,busy,google-eu\n"
        "b@example.org,b@example.com,loud,google-eu\n"
    )
    read = read_rows(source)
    failed = [RowError(read.rows[0].line, read.rows[0].raw, "line 2: access denied"), *read.errors]
    out = io.StringIO()
    write_report(out, read.columns, failed)

    assert out.getvalue().splitlines() == [
        "microsoft,google,detail,google_connection,reason",
        "a@example.org,a@example.com,busy,google-eu,line 2: access denied",
        "b@example.org,b@example.com,loud,google-eu,\"line 3: detail must be full|busy, got 'loud'\"",
    ]
    again = read_rows(out.getvalue())
    assert [r.spec for r in again.rows] == [read.rows[0].spec]
    assert [e.reason for e in again.errors] == ["line 3: detail must be full|busy, got 'loud'"]


def test_a_report_is_whole_or_untouched(tmp_path: Path) -> None:
    target = tmp_path / "failed.csv"
    target.write_text("the previous report\n")
    claimed = ReportFile(target)
    claimed.discard()
    assert target.read_text() == "the previous report\n" and list(tmp_path.iterdir()) == [target]
    ReportFile(target).commit(("google", "microsoft", "reason"), [])
    assert target.read_text().splitlines() == ["google,microsoft,reason"]
    assert list(tmp_path.iterdir()) == [target]
    with pytest.raises(FileNotFoundError):
        ReportFile(tmp_path / "no-such-folder" / "failed.csv")
    with pytest.raises(IsADirectoryError):
        ReportFile(tmp_path)


@pytest.fixture
async def sqlite_engine(sqlite_url: str) -> AsyncEngine:
    await asyncio.to_thread(upgrade, sqlite_url)
    return create_engine(sqlite_url)


@pytest.mark.integration
async def test_given_2000_rows_with_a_few_bad_when_imported_twice_then_report_and_no_change(
    sqlite_engine: AsyncEngine, box: SecretBox, access: Access, bus: RecordingBus, tmp_path: Path
) -> None:
    engine = sqlite_engine
    connections = await seed_connections(engine, box)
    access.denied.update({"user20@example.org", "user30@example.com"})  # the app may not use these
    read = read_rows(generated_csv())
    rows, errors = read.rows, read.errors

    summary = await import_pairs(
        engine, rows, connections, RegistryAccessChecker(access.open), bus, concurrency=8
    )

    assert summary.counts["added"] == ROWS - 3 - 2
    assert [f.line for f in summary.failures] == [22, 32]
    assert "access denied" in summary.failures[0].reason
    # one baseline hint per source calendar: 2 for "both", 1 otherwise
    expected = sum(2 if row.spec.direction == "both" else 1 for row in rows) - 2 - 1
    assert len(bus.published) == expected

    report = tmp_path / "failed.csv"
    with report.open("w", newline="") as handle:
        write_report(handle, read.columns, sorted(errors + summary.failures, key=lambda f: f.line))
    with report.open() as handle:
        reported = list(csv.DictReader(handle))
    lines = [r["reason"].split(":")[0] for r in reported]
    assert lines == ["line 12", "line 22", "line 32", "line 102", "line 1002", f"line {ROWS + 2}"]
    assert reported[1]["google"] == "user20@example.com" and "access denied" in reported[1]["reason"]

    async with engine.connect() as conn:
        before = (await conn.execute(sa.select(pairs).order_by(pairs.c.id))).all()

    published = len(bus.published)
    again = await import_pairs(
        engine, rows, connections, RegistryAccessChecker(access.open), bus, concurrency=8
    )

    assert again.counts["unchanged"] == ROWS - 3 - 2
    assert [f.line for f in again.failures] == [22, 32]  # still failing, still in error
    assert len(bus.published) == published
    async with engine.connect() as conn:
        after = (await conn.execute(sa.select(pairs).order_by(pairs.c.id))).all()
    assert after == before
    await engine.dispose()


@pytest.mark.integration
async def test_an_import_across_batches_is_idempotent_on_both_engines(
    engine: AsyncEngine, box: SecretBox, access: Access, bus: RecordingBus
) -> None:
    connections = await seed_connections(engine, box)
    read = read_rows(generated_csv(450))  # three batches
    rows = read.rows
    assert len(read.errors) == 4
    first = await import_pairs(
        engine, rows, connections, RegistryAccessChecker(access.open), bus, concurrency=4, batch=200
    )
    again = await import_pairs(
        engine, rows, connections, RegistryAccessChecker(access.open), bus, concurrency=4, batch=200
    )
    assert first.counts["added"] == len(rows) and not first.failures
    assert again.counts["unchanged"] == len(rows) and not again.failures
    async with engine.connect() as conn:
        states = (await conn.execute(sa.select(pairs.c.state, sa.func.count()).group_by(pairs.c.state))).all()
    assert [tuple(s) for s in states] == [("active", len(rows))]
