"""The custom resources' schemas live outside the repository: a fresh clone anywhere (CI's
included) skips the checks that need them and says where to get them; a maintainer who sets
CALBRIDGE_REQUIRE_K8S_SCHEMAS gets a failure instead, so a run meant to check them cannot pass
having checked nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from k8s_manifests import REPO, REQUIRE_SCHEMAS_ENV, SCHEMAS_ENV


def _run_schema_tests(schemas: Path, *, required: bool) -> subprocess.CompletedProcess[str]:
    """The tests that need the schemas, in a pytest of their own, with `schemas` as the folder."""
    env = {k: v for k, v in os.environ.items() if k != REQUIRE_SCHEMAS_ENV}
    env[SCHEMAS_ENV] = str(schemas)
    if required:
        env[REQUIRE_SCHEMAS_ENV] = "1"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/k8s/test_k8s_validation.py",
            "-k",
            "has_a_schema or strict_schema",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rs",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_given_no_schemas_then_their_tests_skip_saying_where_to_get_them(tmp_path: Path) -> None:
    result = _run_schema_tests(tmp_path / "absent", required=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 skipped" in result.stdout and "passed" not in result.stdout, result.stdout
    assert "../shared/k8s-schemas" in result.stdout
    assert f"point {SCHEMAS_ENV} at a folder" in result.stdout


def test_given_no_schemas_where_they_are_required_then_their_tests_fail(tmp_path: Path) -> None:
    result = _run_schema_tests(tmp_path / "absent", required=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "6 errors" in result.stdout and "skipped" not in result.stdout, result.stdout
    assert f"{REQUIRE_SCHEMAS_ENV} is set" in result.stdout


def test_ci_runs_the_readme_test_command_and_does_not_require_files_beside_the_clone() -> None:
    script = (REPO / ".ci" / "run").read_text()
    commands = [line.strip() for line in script.splitlines() if line.strip() and not line.startswith("#")]
    assert not any(REQUIRE_SCHEMAS_ENV in command for command in commands)
    assert commands[-1] == "exec scripts/test"
    assert "scripts/test" in (REPO / "README.md").read_text()
