"""The tree stays lint-clean and formatted: CI enforces what ruff's configuration says."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or "ruff"
    return subprocess.run([ruff, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_ruff_finds_nothing() -> None:
    result = _ruff("check", "--quiet", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_code_is_formatted() -> None:
    result = _ruff("format", "--check", "--quiet", ".")
    assert result.returncode == 0, "run `ruff format`:\n" + result.stdout + result.stderr


@pytest.mark.timeout(900)
def test_kernel_and_services_type_check_strictly() -> None:
    mypy = shutil.which("mypy", path=str(Path(sys.executable).parent)) or "mypy"
    result = subprocess.run(
        [mypy, "calbridge", "calbridge_app", "receiver", "ews_listener", "processor", "subscriptions"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=880,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
