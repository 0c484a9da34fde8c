"""Rendered overlays, shared by the manifest tests (rendering takes a second per overlay)."""

from __future__ import annotations

import pytest
from k8s_manifests import K8S, OVERLAYS, Doc, RenderError, kubectl, render


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
