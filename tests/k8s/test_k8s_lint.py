"""yamllint over the manifest sources and checkov over everything the overlays render."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from k8s_manifests import K8S, OVERLAYS, REPO, kubectl, render_text

# Pinned: a newer checkov brings new checks, which should arrive by a deliberate bump.
CHECKOV_VERSION = "3.3.30"
# Signs in pip's output that the package index could not be reached at all.
OFFLINE_SIGNS = (
    "NewConnectionError",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "Failed to establish a new connection",
    "ConnectTimeoutError",
    "No matching distribution found for checkov",
)


def yamllint(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "yamllint", "-c", str(REPO / ".yamllint"), "-f", "parsable", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_yamllint_finds_nothing_in_k8s() -> None:
    result = yamllint([K8S])
    assert result.returncode == 0, result.stdout + result.stderr


def checkov_venv() -> Path:
    """checkov's own virtual environment (it pins old packaging/networkx), kept in the user's
    cache directory so it is built once per machine, not once per run."""
    override = os.environ.get("CALBRIDGE_CHECKOV_VENV")
    if override:
        return Path(override)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "calbridge" / f"checkov-{CHECKOV_VERSION}"


@pytest.fixture(scope="session")
def checkov() -> Path:
    env_dir = checkov_venv()
    exe = env_dir / "bin" / "checkov"
    if exe.exists():
        return exe
    venv.create(env_dir, with_pip=True, clear=True)
    proc = subprocess.run(
        [
            str(env_dir / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            f"checkov=={CHECKOV_VERSION}",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if proc.returncode != 0:
        output = proc.stdout + proc.stderr
        if any(sign in output for sign in OFFLINE_SIGNS):
            pytest.skip(
                f"the package index is unreachable, so checkov cannot be installed: {output.strip()[-300:]}"
            )
        pytest.fail(f"installing checkov failed:\n{output}")
    return exe


def test_checkov_passes_every_rendered_overlay(checkov: Path, tmp_path: Path) -> None:
    if kubectl() is None:
        pytest.skip("kubectl is not installed: the overlays cannot be rendered")
    for overlay in OVERLAYS:
        (tmp_path / f"{overlay}.yaml").write_text(render_text(K8S / "overlays" / overlay))
    proc = subprocess.run(
        [str(checkov), "-d", str(tmp_path), "--config-file", str(K8S / ".checkov.yaml"), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        pytest.fail(f"checkov did not report (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    reports = report if isinstance(report, list) else [report]
    failed = [
        f"{c['check_id']} {c['check_name']}: {c['resource']} ({Path(c['file_path']).name})"
        for r in reports
        for c in r["results"]["failed_checks"]
    ]
    assert failed == [], "\n".join(failed)
    summary = reports[0]["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] > 50, "checkov saw fewer resources than the overlays render"
