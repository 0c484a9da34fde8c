"""The layers hold: import-linter's contracts (pyproject.toml) are kept, and they would catch a breach.

The second half proves the contracts can fail: it copies the packages to a scratch folder, adds
one upward or sideways import, and expects lint-imports to name the broken contract.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("calbridge", "calbridge_app", "receiver", "ews_listener", "processor", "subscriptions", "sandbox")


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    return subprocess.run(
        [tool, "--no-cache", "--config", str(cwd / "pyproject.toml")],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(cwd), "PATH": str(Path(sys.executable).parent)},
    )


def test_every_layer_contract_is_kept() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


@pytest.fixture(scope="module")
def scratch_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("layers")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


@pytest.mark.parametrize(
    ("module", "bad_import", "contract"),
    [
        ("calbridge/model.py", "import processor.service", "entry points -> services -> kernel"),
        ("receiver/app.py", "import subscriptions.renewer", "entry points -> services -> kernel"),
        ("processor/consumer.py", "import sandbox.control", "never import the sandbox"),
        ("calbridge/providers/graph/adapter.py", "import calbridge.providers.google.adapter", "slice"),
        ("processor/sync/engine.py", "import processor.consumer", "sync core"),
    ],
)
def test_an_upward_or_sideways_import_breaks_a_contract(
    scratch_tree: Path, module: str, bad_import: str, contract: str
) -> None:
    # Given the tree with one import that crosses a layer
    path = scratch_tree / module
    original = path.read_text()
    path.write_text(original + f"\n{bad_import}  # noqa\n")
    try:
        # When the contracts are checked
        result = _lint_imports(scratch_tree)
    finally:
        path.write_text(original)
    # Then the check fails and names the contract that was broken
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, result.stdout[-3000:]
