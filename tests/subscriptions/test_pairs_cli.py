"""The `connections` and `pairs` commands as a person uses them: secrets never echoed, clear
failures, and a `pairs list` that reads well at 80 columns and streams."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import trustme
from pair_fakes import CLIENT_SECRET, Access, RecordingBus, seed_connections
from typer.testing import CliRunner

from calbridge.pairs.access import RegistryAccessChecker
from calbridge.pairs.admin import add_pair, pause_pair
from calbridge.pairs.policy import ConflictPolicy
from calbridge.pairs.records import PairRecord
from calbridge.pairs.spec import Detail, Direction, PairSpec, Side, Via, parse_calendar
from calbridge.pairs.states import PairState
from calbridge.secretbox import SecretBox, parse_secret_keys
from calbridge.store.engine import create_engine
from calbridge.store.migrate import upgrade
from calbridge.store.tables import calendars, connections, pairs, subscriptions
from calbridge_app.cli import app
from calbridge_app.cli.context import LazyBus

pytestmark = pytest.mark.integration


@pytest.fixture
def env(sqlite_url: str, secret_key: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    upgrade(sqlite_url)
    values = {
        "CALBRIDGE_DATABASE_URL": sqlite_url,
        "CALBRIDGE_SECRET_KEY": secret_key,
        "CALBRIDGE_LOG_FORMAT": "console",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CALBRIDGE_AMQP_URL", raising=False)
    return values


@pytest.fixture
def recording_bus(monkeypatch: pytest.MonkeyPatch) -> RecordingBus:
    """The CLI's bus, without RabbitMQ: what the commands publish is recorded."""
    recorded = RecordingBus()

    async def open_recording(self: LazyBus) -> RecordingBus:
        return recorded

    monkeypatch.setenv("CALBRIDGE_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/unused")
    monkeypatch.setattr(LazyBus, "_open", open_recording)
    return recorded


def invoke(*args: str) -> tuple[int, str]:
    """Run a command in-process; the output with rich's line wrapping undone."""
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, " ".join(result.output.split())


def stored(url: str) -> str:
    async def read() -> str:
        engine = create_engine(url)
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.select(connections))).all()
        await engine.dispose()
        return repr(rows)

    return asyncio.run(read())


def test_connections_add_graph_never_echoes_or_stores_the_secret_in_plain_text(
    env: dict[str, str], tmp_path: Path
) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(CLIENT_SECRET + "\n")
    args = ["connections", "add", "graph", "--tenant", "t1", "--client-id", "c1", "--no-verify"]
    code, out = invoke(*args, "--client-secret-file", str(secret_file))
    assert code == 0 and "connection graph (graph): added" in out
    code, out = invoke(*args, "--client-secret-file", str(secret_file))
    assert code == 0 and "unchanged" in out
    code, shown = invoke("connections", "show", "graph")
    code_list, listed = invoke("connections", "list", "--json")
    assert code == 0 and code_list == 0 and "stored encrypted" in shown
    for output in (out, shown, listed):
        assert CLIENT_SECRET not in output
    assert CLIENT_SECRET not in stored(env["CALBRIDGE_DATABASE_URL"])


def test_connections_add_google_names_what_the_key_file_lacks(env: dict[str, str], tmp_path: Path) -> None:
    key = tmp_path / "sa.json"
    key.write_text('{"type": "service_account", "client_email": "a@b.iam.gserviceaccount.com"}')
    result = CliRunner().invoke(app, ["connections", "add", "google", "--service-account", str(key)])
    assert result.exit_code == 1
    assert "lacks private_key, token_uri" in " ".join(result.output.split())


def test_without_a_secret_key_connections_fail_naming_the_variable(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CALBRIDGE_SECRET_KEY")
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("s")
    result = CliRunner().invoke(
        app,
        [
            "connections",
            "add",
            "graph",
            "--tenant",
            "t",
            "--client-id",
            "c",
            "--client-secret-file",
            str(secret_file),
        ],
    )
    assert result.exit_code == 2
    assert "CALBRIDGE_SECRET_KEY is not set" in " ".join(result.output.split())


def seed(env: dict[str, str]) -> list[str]:
    """Two connections and three pairs through the library, as `pairs add` would leave them."""

    async def go() -> list[str]:
        engine = create_engine(env["CALBRIDGE_DATABASE_URL"])
        box = SecretBox(parse_secret_keys(env["CALBRIDGE_SECRET_KEY"]))
        found = await seed_connections(engine, box)
        await engine.dispose()
        return [c.name for c in found]

    return asyncio.run(go())


def test_pairs_add_without_rabbitmq_fails_before_touching_anything(
    env: dict[str, str], access: Access
) -> None:
    seed(env)
    result = CliRunner().invoke(
        app, ["pairs", "add", "--google", "a@example.com", "--microsoft", "a@example.org"]
    )
    assert result.exit_code == 2
    assert "CALBRIDGE_AMQP_URL is not set" in " ".join(result.output.split())
    assert access.checked == []


def test_pairs_add_activates_and_says_so_then_a_second_add_changes_nothing(
    env: dict[str, str], access: Access, recording_bus: RecordingBus
) -> None:
    seed(env)
    args = [
        "pairs",
        "add",
        "--google",
        "a@example.com",
        "--microsoft",
        "a@example.org/Team",
        "--direction",
        "google-to-microsoft",
    ]
    code, out = invoke(*args)
    assert code == 0, out
    assert "added and active" in out and "baseline sync requested" in out
    assert len(recording_bus.published) == 1
    code, out = invoke(*args)
    assert code == 0 and "is already active; nothing changed" in out
    assert len(recording_bus.published) == 1


def test_pairs_add_refused_ends_in_error_with_the_reason_and_how_to_retry(
    env: dict[str, str], access: Access, recording_bus: RecordingBus
) -> None:
    seed(env)
    access.denied.add("b@example.com")
    result = CliRunner().invoke(
        app, ["pairs", "add", "--google", "b@example.com", "--microsoft", "b@example.org"]
    )
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "stored in error state" in text and "access denied" in text and "pairs resume" in text
    assert recording_bus.published == []


def test_pairs_import_reports_failed_rows_to_a_file_and_a_rerun_changes_nothing(
    env: dict[str, str], access: Access, recording_bus: RecordingBus, tmp_path: Path
) -> None:
    seed(env)
    access.missing.add("u3@example.org")
    source = tmp_path / "pairs.csv"
    rows = [f"u{n}@example.com,u{n}@example.org,graph,both,full" for n in range(50)]
    rows[7] = "u7@example.com,u7@example.org,graph,both,loud"
    source.write_text("google,microsoft,via,direction,detail\n" + "\n".join(rows) + "\n")
    report = tmp_path / "failed.csv"

    code, out = invoke("pairs", "import", str(source), "--report", str(report))
    assert code == 1
    flat = " ".join(out.split())
    assert "50 row(s): 48 added, 0 activated, 0 updated, 0 unchanged, 2 failed" in flat
    lines = report.read_text().splitlines()
    assert lines[0] == "google,microsoft,via,direction,detail,reason"
    assert (
        lines[1].startswith("u3@example.com,u3@example.org,graph,both,full,line 5: ")
        and "calendar not found" in lines[1]
    )
    assert (
        lines[2].startswith("u7@example.com,u7@example.org,graph,both,loud,") and "line 9: detail" in lines[2]
    )
    published = len(recording_bus.published)

    code, out = invoke("pairs", "import", str(source), "--report", str(report))
    assert "48 unchanged, 2 failed" in " ".join(out.split())
    assert len(recording_bus.published) == published

    # When the causes are fixed (the calendar created, the cell corrected in the report),
    # the report itself is imported again, writing its own report over itself
    access.missing.discard("u3@example.org")
    report.write_text(report.read_text().replace(",loud,", ",busy,"))
    code, out = invoke("pairs", "import", str(report), "--report", str(report))
    assert code == 0, out
    # u3 was stored in error: now activated; u7 was never stored: added
    assert "2 row(s): 1 added, 1 activated, 0 updated, 0 unchanged, 0 failed" in " ".join(out.split())
    assert report.read_text().splitlines() == ["google,microsoft,via,direction,detail,reason"]


def test_pairs_import_takes_a_conflict_column_and_its_report_keeps_it(
    env: dict[str, str], access: Access, recording_bus: RecordingBus, tmp_path: Path
) -> None:
    """Given a CSV with a conflict column (as `pairs add --conflict`), when imported, then each pair
    has its policy; a bad cell is reported with its line, and the report imports as it is."""
    seed(env)
    source = tmp_path / "pairs.csv"
    source.write_text(
        "google,microsoft,conflict\n"
        "c1@example.com,c1@example.org,google\n"
        "c2@example.com,c2@example.org,microsoft\n"
        "c3@example.com,c3@example.org,\n"
        "c4@example.com,c4@example.org,loudest\n"
    )
    report = tmp_path / "failed.csv"
    code, out = invoke("pairs", "import", str(source), "--report", str(report))
    assert code == 1 and "3 added" in out and "1 failed" in out
    assert "line 5: conflict must be newest|google|microsoft, got 'loudest'" in out
    listed = {p["google"]["owner"]: p["conflict"] for p in json.loads(invoke("pairs", "list", "--json")[1])}
    assert {k: v for k, v in listed.items() if k.startswith("c")} == {
        "c1@example.com": "google",
        "c2@example.com": "microsoft",
        "c3@example.com": "newest",
    }
    lines = report.read_text().splitlines()
    assert lines[0] == "google,microsoft,conflict,reason" and lines[1].startswith(
        "c4@example.com,c4@example.org,loudest,"
    )

    report.write_text(report.read_text().replace(",loudest,", ",microsoft,"))
    code, out = invoke("pairs", "import", str(report), "--report", str(report))
    assert code == 0 and "1 added" in out, out
    again = {p["google"]["owner"]: p["conflict"] for p in json.loads(invoke("pairs", "list", "--json")[1])}
    assert again["c4@example.com"] == "microsoft"


LONG_ERROR = (
    "Microsoft (graph) calendar zed.very.long.mailbox.name@subsidiary.example.org: access denied "
    "(ErrorAccessDenied); grant the app Calendars.ReadWrite and include this mailbox in its access policy"
)


def test_pairs_list_reads_well_at_80_columns_with_whole_ids_and_addresses(
    env: dict[str, str], access: Access
) -> None:
    seed(env)
    url = env["CALBRIDGE_DATABASE_URL"]

    async def arrange() -> dict[str, str]:
        engine = create_engine(url)
        box = SecretBox(parse_secret_keys(env["CALBRIDGE_SECRET_KEY"]))
        from calbridge.store.connection_records import list_connections

        async with engine.connect() as conn:
            found = await list_connections(conn, box)

        def spec(g: str, m: str, direction: Direction = Direction.BOTH) -> PairSpec:
            return PairSpec(
                parse_calendar(g, Side.GOOGLE), parse_calendar(m, Side.MICROSOFT), direction=direction
            )

        bus, checker = RecordingBus(), RegistryAccessChecker(access.open)
        active = await add_pair(engine, spec("alice@example.com", "alice@example.org"), found, checker, bus)
        long = await add_pair(
            engine,
            spec(
                "bartholomew.longname@example.com/team-calendar-2026",
                "bartholomew.longname@example.org/Projects",
            ),
            found,
            checker,
            bus,
        )
        paused = await add_pair(
            engine,
            spec("carol@example.com", "carol@example.org", Direction.GOOGLE_TO_MICROSOFT),
            found,
            checker,
            bus,
        )
        await pause_pair(engine, paused.pair.id, "migration weekend")
        access.denied.add("zed.very.long.mailbox.name@subsidiary.example.org")
        failed = await add_pair(
            engine,
            spec("zed@example.com", "zed.very.long.mailbox.name@subsidiary.example.org"),
            found,
            checker,
            bus,
        )
        now = datetime.now(UTC)
        async with engine.begin() as conn:
            await conn.execute(
                pairs.update().where(pairs.c.id == failed.pair.id).values(last_error=LONG_ERROR)
            )
            await conn.execute(
                pairs.update()
                .where(pairs.c.id == active.pair.id)
                .values(last_sync_at=now - timedelta(minutes=2))
            )
            for ref, expires in (
                (active.pair.google_ref, now + timedelta(days=6, hours=23)),
                (active.pair.microsoft_ref, now + timedelta(days=2, hours=4, minutes=5)),
            ):
                await conn.execute(
                    subscriptions.insert().values(
                        id=f"sub-{ref}", calendar_id=ref, provider="google", expires_at=expires
                    )
                )
        await engine.dispose()
        return {
            "active": active.pair.id,
            "long": long.pair.id,
            "paused": paused.pair.id,
            "failed": failed.pair.id,
        }

    ids = asyncio.run(arrange())
    result = subprocess.run(
        [sys.executable, "-m", "calbridge_app", "pairs", "list"],
        env={**os.environ, **env, "COLUMNS": "80"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    print(result.stdout)  # shown with -s: what a person sees
    header = lines[0]
    for column in ("id", "state", "synced", "expires", "pair (google, sync, microsoft)"):
        assert column in header

    def row(pair_id: str) -> list[str]:
        """The pair's line and the indented line of its reason, if any."""
        at = next(n for n, line in enumerate(lines) if line.startswith(pair_id + " "))
        following = lines[at + 1] if at + 1 < len(lines) else ""
        return [lines[at], *([following.strip()] if following.startswith(" ") else [])]

    # Then every pair is one line starting with its whole id, which `pairs show` takes back
    active = row(ids["active"])
    assert active == [active[0]] and len(active[0]) <= 80
    assert "alice@example.com ⇄ full alice@example.org" in active[0]
    assert "active" in active[0] and "2m ago" in active[0] and "in 2d 4h" in active[0]
    paused = row(ids["paused"])
    assert "paused" in paused[0] and "carol@example.com → full carol@example.org" in paused[0]
    assert paused[1] == "migration weekend"
    failed = row(ids["failed"])
    assert "error" in failed[0] and "never" in failed[0]
    assert "zed.very.long.mailbox.name@subsidiary.example.org" in failed[0]  # whole, not cut
    assert failed[1].startswith("M: access denied") and failed[1].endswith("…")  # the side, then cut
    assert all(len(line) <= 80 for line in lines if not line.startswith(ids["long"]) and "zed." not in line)
    long = row(ids["long"])
    assert "bartholomew.longname@example.com/team-calendar-2026" in long[0] and "not yet" in long[0]
    for pair_id in ids.values():
        shown = subprocess.run(
            [sys.executable, "-m", "calbridge_app", "pairs", "show", pair_id, "--json"],
            env={**os.environ, **env, "COLUMNS": "80"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert shown.returncode == 0 and json.loads(shown.stdout)["id"] == pair_id
    assert "4 pair(s): 2 active, 1 error, 1 paused" in result.stdout

    shown = subprocess.run(
        [sys.executable, "-m", "calbridge_app", "pairs", "show", ids["failed"]],
        env={**os.environ, **env, "COLUMNS": "100"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Calendars.ReadWrite" in shown.stdout and "access policy" in " ".join(shown.stdout.split())

    code, by_address = invoke("pairs", "show", "carol@example.org", "--json")
    assert code == 0 and json.loads(by_address)["state_reason"] == "migration weekend"


def test_add_sandbox_registers_every_emulator_once_and_a_rerun_changes_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    from pair_fakes import service_account

    sandbox_file = tmp_path / "sandbox.json"
    sandbox_file.write_text(
        json.dumps(
            {
                "google": {
                    "api_endpoint": "http://127.0.0.1:9001/calendar/v3/",
                    "token_uri": "http://127.0.0.1:9001/token",
                    "service_account": service_account(),
                },
                "microsoft": {
                    "tenant_id": "tenant",
                    "client_id": "client",
                    "client_secret": CLIENT_SECRET,
                    "graph_authority": "https://127.0.0.1:9002",
                    "graph_url": "https://127.0.0.1:9002/v1.0",
                },
                "ca_pem": trustme.CA().cert_pem.bytes().decode(),
            }
        )
    )
    code, out = invoke("connections", "add-sandbox", "--connection-file", str(sandbox_file))
    assert code == 0, out
    assert "sandbox-google (google): added" in out and "sandbox-graph (graph): added" in out
    assert "ews" not in out  # this sandbox has no EWS emulator
    code, out = invoke("connections", "add-sandbox", "--connection-file", str(sandbox_file))
    assert out.count("unchanged") == 2
    assert CLIENT_SECRET not in out and CLIENT_SECRET not in stored(env["CALBRIDGE_DATABASE_URL"])


def test_add_sandbox_signs_in_to_ews_as_the_service_account_over_ntlm_unless_told_otherwise(
    env: dict[str, str], tmp_path: Path
) -> None:
    from pair_fakes import service_account

    sandbox_file = tmp_path / "sandbox.json"
    microsoft = {"tenant_id": "tenant", "client_id": "client", "client_secret": CLIENT_SECRET}
    ews = {"ews_url": "https://127.0.0.1:9003/EWS/Exchange.asmx", "ews_username": "svc@example.com"}
    sandbox_file.write_text(
        json.dumps(
            {
                "google": {
                    "api_endpoint": "http://127.0.0.1:9001/calendar/v3/",
                    "service_account": service_account(),
                },
                "microsoft": {**microsoft, **ews, "ews_password": "service-password"},
            }
        )
    )
    code, out = invoke("connections", "add-sandbox", "--connection-file", str(sandbox_file))
    assert code == 0 and "sandbox-ews (ews): added" in out, out
    shown = json.loads(invoke("connections", "show", "sandbox-ews", "--json")[1])
    assert (shown["auth"], shown["username"]) == ("ntlm", "svc@example.com")

    code, out = invoke(
        "connections", "add-sandbox", "--connection-file", str(sandbox_file), "--ews-auth", "oauth"
    )
    assert code == 0 and "sandbox-ews (ews): replaced" in out, out
    assert json.loads(invoke("connections", "show", "sandbox-ews", "--json")[1])["auth"] == "oauth"
    code, out = invoke(
        "connections", "add-sandbox", "--connection-file", str(sandbox_file), "--ews-auth", "kerberos"
    )
    assert code != 0 and "--ews-auth must be one of ntlm, basic, oauth" in out


def test_import_check_validates_without_a_store_or_a_bus(env: dict[str, str], tmp_path: Path) -> None:
    source = tmp_path / "pairs.csv"
    source.write_text(
        "google,microsoft,direction\na@example.com,a@example.org,both\nb@example.com,b@example.org,up\n"
    )
    code, out = invoke("pairs", "import", str(source), "--check")
    assert code == 1
    assert "line 3: direction must be both|google-to-microsoft|microsoft-to-google, got 'up'" in out
    assert "2 row(s): 1 valid, 1 invalid" in out


@pytest.mark.parametrize(
    "command",
    [
        ["connections"],
        ["connections", "add", "google"],
        ["connections", "add", "graph"],
        ["connections", "add", "ews"],
        ["connections", "add-sandbox"],
        ["pairs"],
        ["pairs", "add"],
        ["pairs", "list"],
        ["pairs", "import"],
        ["pairs", "retry"],
        ["pairs", "remove"],
    ],
)
def test_every_help_page_renders(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_pause_resume_resync_and_remove_from_the_command_line(
    env: dict[str, str], access: Access, recording_bus: RecordingBus
) -> None:
    seed(env)
    code, out = invoke("pairs", "add", "--google", "d@example.com", "--microsoft", "d@example.org", "--json")
    assert code == 0
    pair_id = json.loads(out)["pair"]["id"]

    assert invoke("pairs", "pause", pair_id, "--reason", "quiet week")[1].endswith("paused: quiet week")
    code, out = invoke("pairs", "pause", pair_id, "--reason", "again")
    assert code == 0 and "was already paused: quiet week" in out  # idempotent, and says so
    code, out = invoke("pairs", "resync", pair_id)
    assert code == 1 and "is paused: only active pairs are synced" in out
    code, out = invoke("pairs", "resume", pair_id)
    assert code == 0 and "is active again" in out
    code, out = invoke("pairs", "resume", pair_id)
    assert code == 0 and "is already active; nothing changed" in out
    code, out = invoke("pairs", "resync", pair_id)
    assert code == 0 and "resync requested" in out and "(2 calendar(s))" in out
    assert [h.reason for h in recording_bus.published] == ["baseline"] * 2 + ["resume"] * 2 + ["operator"] * 2

    code, out = invoke("pairs", "remove", pair_id, "--delete-mirrors")  # no terminal to ask on
    assert code == 2 and "add --yes" in out and "Traceback" not in out
    assert json.loads(invoke("pairs", "show", pair_id, "--json")[1])["state"] == "active"  # untouched
    code, out = invoke("pairs", "remove", pair_id, "--delete-mirrors", "--yes")
    assert code == 0 and "its mirrors will be deleted" in out
    shown = json.loads(invoke("pairs", "show", pair_id, "--json")[1])
    assert shown["state"] == "removing" and shown["delete_mirrors"] is True


def test_given_a_conflict_policy_when_adding_a_pair_then_it_is_stored_shown_and_changeable(
    env: dict[str, str], access: Access, recording_bus: RecordingBus
) -> None:
    seed(env)
    args = ["pairs", "add", "--google", "c@example.com", "--microsoft", "c@example.org", "--json"]
    code, out = invoke(*args, "--conflict", "google")
    assert code == 0, out
    pair = json.loads(out)["pair"]
    assert pair["conflict"] == "google"
    code, out = invoke(*args, "--conflict", "microsoft")
    assert code == 0 and json.loads(out)["outcome"] == "updated"
    shown = json.loads(invoke("pairs", "show", pair["id"], "--json")[1])
    assert shown["conflict"] == "microsoft"
    code, out = invoke(*args[:-1], "--conflict", "oldest")
    assert code != 0 and "--conflict" in out and "Traceback" not in out


def test_given_pairs_of_a_connection_when_removed_by_connection_then_all_go_after_confirmation(
    env: dict[str, str], access: Access, recording_bus: RecordingBus
) -> None:
    seed(env)
    ids = []
    for n in range(3):
        code, out = invoke(
            "pairs", "add", "--google", f"g{n}@example.com", "--microsoft", f"m{n}@example.org", "--json"
        )
        assert code == 0, out
        ids.append(json.loads(out)["pair"]["id"])
    connection = json.loads(invoke("pairs", "show", ids[0], "--json")[1])["google"]["connection"]
    # Without a terminal to confirm on, nothing is removed
    code, out = invoke("pairs", "remove", "--connection", connection)
    assert code == 2 and "add --yes" in out
    assert all(json.loads(invoke("pairs", "show", i, "--json")[1])["state"] == "active" for i in ids)
    # With --yes, every pair of the connection is being removed
    code, out = invoke("pairs", "remove", "--connection", connection, "--yes")
    assert code == 0 and "3 pair(s)" in out
    assert all(json.loads(invoke("pairs", "show", i, "--json")[1])["state"] == "removing" for i in ids)
    # Neither a pair id nor a connection: one line saying what to give
    code, out = invoke("pairs", "remove")
    assert code == 2 and "--connection" in out


def test_pairs_import_reads_what_spreadsheets_save_utf16_and_latin1(
    env: dict[str, str], access: Access, recording_bus: RecordingBus, tmp_path: Path
) -> None:
    seed(env)
    calendar = "Réunions d\u00e9quipe"
    text = "google,microsoft\n{}@example.com/" + calendar + ",{}@example.org\n"
    (tmp_path / "unicode.csv").write_bytes(text.format("u16", "u16").encode("utf-16"))
    (tmp_path / "latin.csv").write_bytes(text.format("l1", "l1").encode("latin-1"))

    code, out = invoke("pairs", "import", str(tmp_path / "unicode.csv"))
    assert code == 0 and "1 added" in out and "note:" not in out, out
    code, out = invoke("pairs", "import", str(tmp_path / "latin.csv"))
    assert code == 0 and "1 added" in out, out
    assert "note: " in out and "is not UTF-8; read it as Windows-1252" in out

    listed = json.loads(invoke("pairs", "list", "--json")[1])
    assert sorted((p["google"]["owner"], p["google"]["calendar"]) for p in listed) == [
        ("l1@example.com", calendar),
        ("u16@example.com", calendar),
    ]


def test_pairs_import_of_a_file_no_encoding_reads_is_refused_in_one_line(
    env: dict[str, str], access: Access, recording_bus: RecordingBus, tmp_path: Path
) -> None:
    seed(env)
    source = tmp_path / "pairs.csv"
    source.write_bytes("google,microsoft\na@example.com,a@example.org\n".encode("utf-16-le"))  # no mark
    result = CliRunner().invoke(app, ["pairs", "import", str(source)])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and "Traceback" not in result.output
    assert "UTF-16 without a byte-order mark" in lines[0] and "save it again as CSV UTF-8" in lines[0]
    assert access.checked == [] and recording_bus.published == []


def test_pairs_import_report_into_a_missing_folder_is_refused_before_any_pair(
    env: dict[str, str], access: Access, recording_bus: RecordingBus, tmp_path: Path
) -> None:
    seed(env)
    source = tmp_path / "pairs.csv"
    source.write_text("google,microsoft\na@example.com,a@example.org\nb@example.com,b@example.org\n")
    report = tmp_path / "reports" / "failed.csv"

    result = CliRunner().invoke(app, ["pairs", "import", str(source), "--report", str(report)])

    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and "Traceback" not in result.output, result.output
    flat = " ".join(result.output.split())
    assert f"cannot write the report to {report}: No such file or directory" in flat
    assert "create its directory or choose another --report path (nothing was imported)" in flat
    assert access.checked == [] and recording_bus.published == []
    assert json.loads(invoke("pairs", "list", "--json")[1]) == []
    assert not report.parent.exists()


def test_pairs_import_of_many_failing_rows_prints_no_log_lines(
    env: dict[str, str], access: Access, recording_bus: RecordingBus, tmp_path: Path
) -> None:
    # Given 1,000 rows whose Microsoft calendars are all refused (each refusal logs, as the
    # real provider clients do), the progress bar on stderr must not be buried in log lines
    seed(env)
    source = tmp_path / "pairs.csv"
    rows = [f"u{n}@example.com,u{n}@example.org" for n in range(1000)]
    source.write_text("google,microsoft\n" + "\n".join(rows) + "\n")
    access.denied.update(f"u{n}@example.org" for n in range(1000))

    result = CliRunner().invoke(app, ["pairs", "import", str(source)])

    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("1000 row(s): 0 added") and lines[-1] == "  ... and 990 more"
    assert len(lines) == 12, "the summary, ten reasons and a count: " + "\n".join(lines[:20])
    assert "call_failed" not in result.output


def test_a_pair_id_prefix_is_taken_wherever_a_pair_id_is(
    env: dict[str, str], access: Access, recording_bus: RecordingBus
) -> None:
    # Given two pairs whose ids share "a" and differ from the second character on (in case only)
    seed(env)
    for owner in ("e", "f"):
        code, out = invoke(
            "pairs", "add", "--google", f"{owner}@example.com", "--microsoft", f"{owner}@example.org"
        )
        assert code == 0, out
    given_ids(env, {"e@example.com": "abCDEFGH0001", "f@example.com": "aBcdefgh0002"})

    # A prefix two ids share: exit 2 naming both; nothing changes
    for command in ("show", "pause", "resume", "resync", "remove"):
        result = CliRunner().invoke(app, ["pairs", command, "a"])
        lines = result.output.strip().splitlines()
        assert result.exit_code == 2 and len(lines) == 1, result.output
        assert (
            "2 pair ids start with 'a' (aBcdefgh0002, abCDEFGH0001)" in lines[0]
            and "give more characters" in lines[0]
        )
    # An id nobody has: exit 1, one line
    result = CliRunner().invoke(app, ["pairs", "pause", "zz"])
    assert result.exit_code == 1 and "no pair has the id 'zz'" in result.output
    assert {p["state"] for p in json.loads(invoke("pairs", "list", "--json")[1])} == {"active"}

    # Case counts (SQLite's LIKE would not), and each command takes the prefix
    assert json.loads(invoke("pairs", "show", "abC", "--json")[1])["google"]["owner"] == "e@example.com"
    assert invoke("pairs", "pause", "ab")[1].endswith("abCDEFGH0001 paused: paused by an operator")
    assert "is active again" in invoke("pairs", "resume", "abC")[1]
    assert "resync requested for pair abCDEFGH0001" in invoke("pairs", "resync", "abCD")[1]
    assert "pair abCDEFGH0001 is being removed" in invoke("pairs", "remove", "abCDE")[1]


def given_ids(env: dict[str, str], by_google_owner: dict[str, str]) -> None:
    """Give freshly added pairs (nothing refers to them yet) the ids a test needs."""

    async def rename() -> None:
        engine = create_engine(env["CALBRIDGE_DATABASE_URL"])
        async with engine.begin() as conn:
            for owner, pair_id in by_google_owner.items():
                ref = sa.select(calendars.c.id).where(calendars.c.owner == owner).scalar_subquery()
                await conn.execute(
                    sa.update(pairs).where(pairs.c.google_calendar_id == ref).values(id=pair_id)
                )
        await engine.dispose()

    asyncio.run(rename())


def _record(pair_id: str, google: str, microsoft: str) -> PairRecord:
    now = datetime.now(UTC)
    return PairRecord(
        id=pair_id,
        google=parse_calendar(google, Side.GOOGLE),
        microsoft=parse_calendar(microsoft, Side.MICROSOFT),
        via=Via.GRAPH,
        direction=Direction.BOTH,
        detail=Detail.FULL,
        conflict=ConflictPolicy.NEWEST,
        state=PairState.ACTIVE,
        state_reason=None,
        last_error=None,
        last_sync_at=now,
        delete_mirrors=False,
        created_at=now,
        updated_at=now,
        google_ref="g" * 12,
        microsoft_ref="m" * 12,
        google_connection="google",
        microsoft_connection="graph",
        google_connection_id="c1",
        microsoft_connection_id="c2",
    )


def test_pairs_list_counts_each_pairs_failed_events_and_shows_the_column_only_when_some_failed() -> None:
    from rich.console import Console

    from calbridge_app.cli.pairs import pairs_table

    records = [
        _record("pairA0000000", "a@example.com", "a@example.org"),
        _record("pairB0000000", "b@example.com", "b@example.org"),
    ]
    now = datetime.now(UTC)

    def render(failures: dict[str, int]) -> list[str]:
        console = Console(width=140, record=True)
        console.print(pairs_table(records, now, failures))
        return console.export_text().splitlines()

    lines = render({"pairA0000000": 3})
    assert "failed" in lines[0]
    column = lines[0].index("failed") + len("failed")  # right-aligned under its header
    assert lines[1].startswith("pairA0000000") and lines[1][:column].rstrip().endswith("3")
    assert lines[2][:column].rstrip().endswith("not yet")  # nothing counted for B
    assert "failed" not in render({})[0], "a healthy list keeps its width"


@pytest.mark.parametrize(
    ("direction", "held", "google_expires", "shown"),
    [
        (Direction.MICROSOFT_TO_GOOGLE, timedelta(minutes=2), None, "streaming"),
        (Direction.MICROSOFT_TO_GOOGLE, None, None, "no listener"),
        (Direction.MICROSOFT_TO_GOOGLE, -timedelta(minutes=10), None, "stream lost 10m ago"),
        (Direction.BOTH, timedelta(minutes=2), timedelta(days=6, hours=1), "in 6d 1h"),
        (Direction.BOTH, None, timedelta(days=6), "no listener"),
    ],
)
def test_given_an_ews_pair_then_pairs_list_shows_its_stream_not_an_expiry_it_cannot_have(
    direction: Direction, held: timedelta | None, google_expires: timedelta | None, shown: str
) -> None:
    """EWS streaming subscriptions have no expiry (the listener holds them): the expires column
    says whether a listener streams the calendar, instead of `not yet` forever."""
    import dataclasses

    from rich.console import Console

    from calbridge_app.cli.pairs import pair_details, pairs_table

    now = datetime.now(UTC)
    record = dataclasses.replace(
        _record("pairE0000000", "e@example.com", "e@example.org"),
        via=Via.EWS,
        direction=direction,
        microsoft_stream_held_until=now + held if held is not None else None,
        google_subscription_expires=now + google_expires if google_expires is not None else None,
    )
    console = Console(width=140, record=True)
    console.print(pairs_table([record], now))
    row = console.export_text().splitlines()[1]
    assert f" {shown} " in row and "not yet" not in row
    console.print(pair_details(record, now))
    details = console.export_text()
    assert "microsoft subscription" in details
    said = {None: "none holds it", True: "a listener holds it", False: "stream lost: no listener"}
    assert said[None if held is None else held > timedelta(0)] in " ".join(details.split())


def _add_pairs(env: dict[str, str], access: Access, count: int) -> list[str]:
    """`count` active pairs through the library; their ids in `pairs list` order."""

    async def go() -> list[str]:
        from calbridge.store.connection_records import list_connections

        engine = create_engine(env["CALBRIDGE_DATABASE_URL"])
        box = SecretBox(parse_secret_keys(env["CALBRIDGE_SECRET_KEY"]))
        async with engine.connect() as conn:
            found = await list_connections(conn, box)
        checker, ids = RegistryAccessChecker(access.open), []
        for n in range(count):
            spec = PairSpec(
                parse_calendar(f"u{n:02d}@example.com", Side.GOOGLE),
                parse_calendar(f"u{n:02d}@example.org", Side.MICROSOFT),
            )
            ids.append((await add_pair(engine, spec, found, checker, RecordingBus())).pair.id)
        await engine.dispose()
        return ids

    return asyncio.run(go())


def test_pairs_list_pages_with_limit_and_after_and_the_pages_join_up(
    env: dict[str, str], access: Access
) -> None:
    """Given 7 pairs, when listed 3 at a time following the printed hint, then the pages hold every
    pair once, in the order of the whole listing, and the last page says nothing more follows."""
    seed(env)
    ids = _add_pairs(env, access, 7)
    seen: list[str] = []
    args = ["pairs", "list", "--limit", "3"]
    for _ in range(5):  # bounded: 7 pairs take 3 pages
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        page = [
            line.split()[0]
            for line in result.stdout.splitlines()[1:]
            if line[:1].isalnum() and " active " in line
        ]
        seen += page
        hint = [line for line in result.stdout.splitlines() if line.startswith("more pairs follow")]
        if not hint:
            break
        assert f"--after {page[-1]} --limit 3" in hint[0]
        args = ["pairs", "list", "--after", page[-1][:8], "--limit", "3"]  # a prefix is enough
    assert seen == ids
    as_json = CliRunner().invoke(app, ["pairs", "list", "--json", "--after", ids[1], "--limit", "2"])
    assert [p["id"] for p in json.loads(as_json.stdout)] == ids[2:4]
    empty = CliRunner().invoke(app, ["pairs", "list", "--json", "--after", ids[-1]])
    assert json.loads(empty.stdout) == []


def test_pairs_list_of_an_unknown_state_exits_2_naming_the_states(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["pairs", "list", "--state", "bogus"])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and "Traceback" not in result.output
    assert "'bogus' is not a pair state" in lines[0]
    assert "pending, active, paused, error, removing" in lines[0]


def test_given_mirror_oof_when_adding_a_pair_then_it_is_stored_shown_and_can_be_turned_off(
    env: dict[str, str], access: Access, recording_bus: RecordingBus
) -> None:
    seed(env)
    args = ["pairs", "add", "--google", "c@example.com", "--microsoft", "c@example.org", "--json"]
    code, out = invoke(*args, "--mirror-oof")
    assert code == 0, out
    pair = json.loads(out)["pair"]
    assert pair["mirror_oof"] is True
    code, shown = invoke("pairs", "show", pair["id"])
    assert "mirror out of office yes" in shown
    code, out = invoke(*args)  # added again without the flag: the option is turned off
    assert code == 0 and json.loads(out)["outcome"] == "updated"
    assert json.loads(invoke("pairs", "show", pair["id"], "--json")[1])["mirror_oof"] is False
