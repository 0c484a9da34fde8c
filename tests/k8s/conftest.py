"""Fixtures shared by the manifest tests: the rendered overlays (rendering takes a second per
overlay) and the custom resources' schemas, which live outside the repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from k8s_manifests import (
    K8S,
    OVERLAYS,
    REQUIRE_SCHEMAS_ENV,
    Doc,
    RenderError,
    kubectl,
    render,
    schemas_dir,
    schemas_missing,
)


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[Doc]]:
    if kubectl() is None:
        pytest.skip(
            "kubectl is not installed: the overlays cannot be rendered (CI and the dev machines have it)"
        )
    try:
        return {name: render(K8S / "overlays" / name) for name in OVERLAYS}
    except RenderError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def crd_schemas() -> Path:
    """The custom resources' schemas. Missing in a bare clone: the tests that need them skip and
    say where to get them, except where CALBRIDGE_REQUIRE_K8S_SCHEMAS is set, where they fail."""
    root = schemas_dir()
    reason = schemas_missing(root)
    if reason is None:
        return root
    if os.environ.get(REQUIRE_SCHEMAS_ENV):
        pytest.fail(f"{reason} ({REQUIRE_SCHEMAS_ENV} is set: they are required here)", pytrace=False)
    pytest.skip(reason)
