"""Every overlay renders, and what it renders is valid: strict Kubernetes schemas for the
built-in kinds, the custom resources' schemas for the operators' kinds, and the cross-object
rules (selectors, probes, hardening, scaling, secrets, ingress, network policies, alerts)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from k8s_manifests import (
    K8S_VERSIONS,
    OVERLAYS,
    REPO,
    Doc,
    consistency_errors,
    custom_schema_path,
    is_builtin,
    load_example_secrets,
    schema_errors,
)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_custom_resource_the_overlay_renders_has_a_schema(
    crd_schemas: Path, rendered: dict[str, list[Doc]], overlay: str
) -> None:
    unchecked = sorted(
        {
            f"{doc['apiVersion']} {doc['kind']}"
            for doc in rendered[overlay]
            if not is_builtin(doc) and not custom_schema_path(crd_schemas, doc).is_file()
        }
    )
    assert unchecked == [], f"no schema in {crd_schemas} for: {', '.join(unchecked)}"


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_given_an_overlay_when_rendered_then_every_document_matches_its_strict_schema(
    crd_schemas: Path, rendered: dict[str, list[Doc]], overlay: str, version: str
) -> None:
    errors = schema_errors(rendered[overlay], version, crd_schemas)
    assert errors == [], "\n".join(errors)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_given_an_overlay_when_rendered_then_its_objects_fit_together(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    errors = consistency_errors(rendered[overlay], load_example_secrets())
    assert errors == [], "\n".join(errors)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_given_an_overlay_then_it_deploys_every_piece(rendered: dict[str, list[Doc]], overlay: str) -> None:
    kinds = {(d["kind"], d["metadata"]["name"]) for d in rendered[overlay]}
    for expected in [
        ("Deployment", "calbridge-receiver"),
        ("Deployment", "calbridge-processor"),
        ("Deployment", "calbridge-renewer"),
        ("Job", "calbridge-db-upgrade"),
        ("HorizontalPodAutoscaler", "calbridge-receiver"),
        ("ScaledObject", "calbridge-processor"),
        ("RabbitmqCluster", "calbridge-rabbitmq"),
        ("Cluster", "calbridge-pg"),
        ("ClusterIssuer", "calbridge-issuer"),
        ("PrometheusRule", "calbridge"),
        ("NetworkPolicy", "default-deny-all"),
    ]:
        assert expected in kinds, f"{overlay} does not render {expected}"


def test_dev_runs_one_of_each_and_prod_runs_more(rendered: dict[str, list[Doc]]) -> None:
    def spec(overlay: str, kind: str, name: str) -> Doc:
        doc = next(d for d in rendered[overlay] if d["kind"] == kind and d["metadata"]["name"] == name)
        result: Doc = doc["spec"]
        return result

    assert spec("dev", "HorizontalPodAutoscaler", "calbridge-receiver")["minReplicas"] == 1
    assert spec("dev", "ScaledObject", "calbridge-processor")["minReplicaCount"] == 1
    assert spec("dev", "RabbitmqCluster", "calbridge-rabbitmq")["replicas"] == 1
    assert spec("dev", "Cluster", "calbridge-pg")["instances"] == 1
    assert spec("prod", "HorizontalPodAutoscaler", "calbridge-receiver")["minReplicas"] >= 3
    assert spec("prod", "ScaledObject", "calbridge-processor")["minReplicaCount"] >= 2
    assert spec("prod", "RabbitmqCluster", "calbridge-rabbitmq")["replicas"] == 3
    assert spec("prod", "Cluster", "calbridge-pg")["instances"] == 3
    assert "acme" in spec("prod", "ClusterIssuer", "calbridge-issuer")
    assert "selfSigned" in spec("dev", "ClusterIssuer", "calbridge-issuer")


def test_rabbitmq_has_the_plugins_and_quorum_settings_the_bus_relies_on(
    rendered: dict[str, list[Doc]],
) -> None:
    for overlay in OVERLAYS:
        rabbit = next(d for d in rendered[overlay] if d["kind"] == "RabbitmqCluster")["spec"]["rabbitmq"]
        assert {"rabbitmq_consistent_hash_exchange", "rabbitmq_prometheus"} <= set(
            rabbit["additionalPlugins"]
        )
        assert "default_queue_type = quorum" in rabbit["additionalConfig"]


def _slug(heading: str) -> str:
    """The anchor a Markdown renderer gives a heading (GitHub style)."""
    return re.sub(r"[^a-z0-9 _-]", "", heading.strip().lower()).replace(" ", "-")


def test_every_alert_links_to_a_section_of_the_runbook(rendered: dict[str, list[Doc]]) -> None:
    runbook = (REPO / "docs" / "operations.md").read_text()
    anchors = {_slug(line.lstrip("#")) for line in runbook.splitlines() if line.startswith("#")}
    rules = [
        rule
        for doc in rendered["prod"]
        if doc["kind"] == "PrometheusRule"
        for group in doc["spec"]["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]
    assert len(rules) >= 5
    missing = [
        f"{rule['alert']} -> {rule['annotations']['runbook']}"
        for rule in rules
        if rule["annotations"]["runbook"].split("#", 1)[1] not in anchors
    ]
    assert missing == [], "runbook sections missing:\n" + "\n".join(missing)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_migration_step_of_a_release_applies_on_its_own(
    rendered: dict[str, list[Doc]], overlay: str
) -> None:
    """docs/operations.md applies `-l app.kubernetes.io/component=db-upgrade` before the rest:
    that subset must hold the Job and everything the Job's pod needs to start."""
    subset = [
        d
        for d in rendered[overlay]
        if d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "db-upgrade"
    ]
    kinds = {(d["kind"], d["metadata"]["name"]) for d in subset}
    job = next(d for d in subset if d["kind"] == "Job")
    account = job["spec"]["template"]["spec"]["serviceAccountName"]
    assert ("ServiceAccount", account) in kinds
