"""The validation catches mistakes: a copy of k8s/ is broken in several ways at once and every
one of them must be reported (not just the first)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from k8s_manifests import (
    K8S,
    K8S_VERSIONS,
    consistency_errors,
    kubectl,
    load_example_secrets,
    render,
    schema_errors,
)
from test_k8s_lint import yamllint


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path.name} no longer contains {old!r}; update this test"
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def broken_copy(tmp_path: Path) -> Path:
    if kubectl() is None:
        pytest.skip("kubectl is not installed: the overlays cannot be rendered")
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    base = copy / "base"
    # a typo'd field in a built-in kind (strict schema)
    _edit(base / "renewer.yaml", "  revisionHistoryLimit: 5", "  revisionHistoryLimt: 5")
    # a wrong type in a custom resource
    _edit(base / "processor.yaml", "  pollingInterval: 15", '  pollingInterval: "often"')
    # a writable root filesystem
    _edit(base / "receiver.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false")
    # a readiness probe on a port the container does not declare
    probe = "          readinessProbe:\n            httpGet:\n              path: /readyz\n"
    _edit(base / "processor.yaml", probe + "              port: http", probe + "              port: metrics")
    # a drain that outlasts the termination grace period
    _edit(base / "processor.yaml", 'value: "40"', 'value: "55"')
    # an alert that does not parse, and one that reads a metric nobody exports
    _edit(
        base / "alerts.yaml",
        "(calbridge_subscription_expiry_seconds) < 6 * 3600",
        "(calbridge_subscription_expiry_seconds < 6 * 3600",
    )
    _edit(
        base / "alerts.yaml",
        'rabbitmq_queue_messages{queue="calbridge.dlq"}',
        'rabbitmq_queue_mesages{queue="calbridge.dlq"}',
    )
    # an example database URL on a port nothing listens on
    _edit(base / "secrets.example.yaml", "svc:5432/calbridge", "svc:5433/calbridge")
    # a Secret nobody declared
    _edit(
        base / "renewer.yaml",
        "name: calbridge-env\n                  key: CALBRIDGE_SECRET_KEY",
        "name: calbridge-provider-keys\n                  key: CALBRIDGE_SECRET_KEY",
    )
    # an internal path made public
    _edit(
        base / "ingress.yaml",
        "          - path: /v1/freebusy",
        "          - path: /metrics\n            pathType: Prefix\n"
        "            backend:\n              service:\n                name: calbridge-receiver\n"
        "                port:\n                  name: http\n          - path: /v1/freebusy",
    )
    # an HPA fighting KEDA over the processor
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "calbridge-processor"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "calbridge-processor"},
            "minReplicas": 1,
            "maxReplicas": 3,
        },
    }
    (base / "processor-hpa.yaml").write_text(yaml.safe_dump(hpa))
    _edit(base / "kustomization.yaml", "  - processor.yaml\n", "  - processor.yaml\n  - processor-hpa.yaml\n")
    return copy


def test_given_a_broken_overlay_then_schema_validation_reports_every_violation(
    crd_schemas: Path, broken_copy: Path
) -> None:
    docs = render(broken_copy / "overlays" / "prod")
    errors = schema_errors(docs, K8S_VERSIONS[0], crd_schemas)
    text = "\n".join(errors)
    assert (
        "Deployment/calbridge-renewer: spec: Additional properties are not allowed ('revisionHistoryLimt'"
        in text
    )
    assert "ScaledObject/calbridge-processor: spec.pollingInterval: 'often' is not of type 'integer'" in text


def test_given_a_broken_overlay_then_the_cross_object_checks_report_every_problem(broken_copy: Path) -> None:
    docs = render(broken_copy / "overlays" / "prod")
    errors = consistency_errors(docs, load_example_secrets(broken_copy))
    text = "\n".join(errors)
    expected = [
        "Deployment/calbridge-receiver container receiver: readOnlyRootFilesystem is not true",
        "Deployment/calbridge-processor processor: readinessProbe port 'metrics' is not a declared "
        "container port",
        "Deployment/calbridge-renewer env CALBRIDGE_SECRET_KEY: Secret 'calbridge-provider-keys' is not "
        "declared",
        "Ingress/calbridge-receiver: publishes /metrics (Prefix), which must stay internal",
        "PrometheusRule/calbridge CalbridgeSubscriptionExpiringSoon: does not parse",
        "secrets.example.yaml CALBRIDGE_DATABASE_URL: port 5433 (expected 5432, open to the services)",
        "PrometheusRule/calbridge CalbridgeDeadLetters: unknown metrics ['rabbitmq_queue_mesages']",
        "Deployment/calbridge-processor: CALBRIDGE_DRAIN_TIMEOUT=55 leaves less than 10 s of the 60 s "
        "termination grace period",
        "HorizontalPodAutoscaler/calbridge-processor: targets calbridge-processor, which "
        "ScaledObject/calbridge-processor already scales",
    ]
    for message in expected:
        assert message in text, f"not reported: {message}\nreported:\n{text}"


def test_given_a_duplicated_key_and_trailing_spaces_then_yamllint_reports_both(tmp_path: Path) -> None:
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    # YAML parsers silently keep the last of two equal keys
    _edit(copy / "base" / "renewer.yaml", "  replicas: 1\n", "  replicas: 1\n  replicas: 3\n")
    _edit(copy / "base" / "receiver.yaml", "  revisionHistoryLimit: 5\n", "  revisionHistoryLimit: 5   \n")
    result = yamllint([copy])
    assert result.returncode != 0
    assert 'renewer.yaml:12:3: [error] duplication of key "replicas"' in result.stdout
    assert "receiver.yaml" in result.stdout and "trailing spaces" in result.stdout
