"""Render the kustomize overlays and validate what comes out, offline.

Each check is a function from rendered documents to a list of error strings (empty = good), so
a broken manifest reports every problem at once and the tests can assert on the messages.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import yaml
from referencing import Registry, Resource

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
OVERLAYS = ("dev", "prod")
# Oldest and newest Kubernetes minor versions the manifests must be valid for.
K8S_VERSIONS = ("1.30", "1.37")

Doc = dict[str, Any]

# Labels the operators put on the pods and Services they create for a custom resource.
OPERATOR_POD_LABELS = {
    "RabbitmqCluster": lambda name: {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": "rabbitmq",
        "app.kubernetes.io/part-of": "rabbitmq",
    },
    "Cluster": lambda name: {"cnpg.io/cluster": name, "cnpg.io/podRole": "instance"},
}

# The only paths the Ingress may publish: provider notifications and free/busy.
PUBLIC_PATHS = {("/notifications", "Prefix"), ("/v1/freebusy", "Exact")}

# Metric names alerts and the dashboard may use: calbridge's own, RabbitMQ's, kube-state-metrics.
KNOWN_METRICS = {
    "calbridge_notifications_total",
    "calbridge_subscription_expiry_seconds",
    "calbridge_connections_unusable",
    "calbridge_changes_total",
    "calbridge_event_failures",
    "calbridge_pairs",
    "calbridge_quota_used_ratio",
    "rabbitmq_queue_messages",
    "rabbitmq_queue_messages_ready",
    "rabbitmq_queue_consumers",
    "kube_pod_container_status_ready",
    "kube_pod_container_status_restarts_total",
    "up",
}


# --- locating things


SCHEMAS_ENV = "CALBRIDGE_K8S_SCHEMAS"
# Set by a maintainer who has the schemas and wants a run that cannot skip them: missing ones are
# then a failure. Unset (a fresh clone anywhere, CI), the tests that need them skip with a reason.
REQUIRE_SCHEMAS_ENV = "CALBRIDGE_REQUIRE_K8S_SCHEMAS"
# One file every complete copy has (KEDA's ScaledObject, the processor's autoscaler).
SCHEMA_PROBE = Path("keda.sh") / "scaledobject_v1alpha1.json"


def schemas_dir() -> Path:
    """Where the custom resources' JSON schemas should be: CALBRIDGE_K8S_SCHEMAS, else
    `shared/k8s-schemas` beside the repository (the nearest ancestor that has one)."""
    override = os.environ.get(SCHEMAS_ENV)
    if override:
        return Path(override)
    for parent in REPO.parents:
        candidate = parent / "shared" / "k8s-schemas"
        if candidate.is_dir():
            return candidate
    return REPO.parent / "shared" / "k8s-schemas"


def schemas_missing(root: Path) -> str | None:
    """Why the schemas at `root` cannot be used, with where to get them; None when they can."""
    if (root / SCHEMA_PROBE).is_file():
        return None
    return (
        f"the custom resources' JSON schemas are not at {root} (no {SCHEMA_PROBE}). They are not "
        "part of the repository: put the project's shared/k8s-schemas folder beside the clone "
        f"(../shared/k8s-schemas), or point {SCHEMAS_ENV} at a folder laid out as "
        "<api group>/<kind lowercased>_<version>.json, such as the public catalog "
        "datreeio/CRDs-catalog (KEDA, RabbitMQ, CloudNativePG, cert-manager, Prometheus Operator)"
    )


def kubectl() -> str | None:
    return shutil.which("kubectl")


# --- rendering


class RenderError(Exception):
    pass


def render(overlay_dir: Path) -> list[Doc]:
    """`kubectl kustomize` one overlay and parse the documents."""
    exe = kubectl()
    if exe is None:
        raise RenderError("kubectl is not installed")
    proc = subprocess.run(
        [exe, "kustomize", str(overlay_dir)], capture_output=True, text=True, timeout=60, check=False
    )
    if proc.returncode != 0:
        raise RenderError(f"kubectl kustomize {overlay_dir} failed: {proc.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def render_text(overlay_dir: Path) -> str:
    exe = kubectl()
    assert exe is not None
    return subprocess.run(
        [exe, "kustomize", str(overlay_dir)], capture_output=True, text=True, timeout=60, check=True
    ).stdout


def ref(doc: Doc) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def of_kind(docs: Iterable[Doc], *kinds: str) -> Iterator[Doc]:
    return (d for d in docs if d.get("kind") in kinds)


def find(docs: Iterable[Doc], kind: str, name: str) -> Doc | None:
    return next((d for d in docs if d.get("kind") == kind and d["metadata"]["name"] == name), None)


# --- schema validation


def _group_version(doc: Doc) -> tuple[str, str]:
    group, _, version = str(doc["apiVersion"]).rpartition("/")
    return group, version


def is_builtin(doc: Doc) -> bool:
    group, _ = _group_version(doc)
    return group == "" or "." not in group or group.endswith(".k8s.io")


@cache
def _builtin_validator(version: str, kind: str, api_version: str) -> jsonschema.protocols.Validator | None:
    import kubernetes_validate

    base = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"v{version}.0-local-strict"
    # rbac.authorization.k8s.io/v1 -> rbac-v1, apps/v1 -> apps-v1, v1 -> v1
    short = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = base / f"{kind.lower()}-{short}.json"
    if not path.is_file():
        return None
    schema = json.loads(path.read_text())
    definitions = json.loads((base / "_definitions.json").read_text())
    registry = Registry().with_resources(
        [
            (schema["$id"], Resource.from_contents(schema)),
            (definitions["$id"], Resource.from_contents(definitions)),
        ]
    )
    return jsonschema.Draft202012Validator(schema, registry=registry)


def custom_schema_path(root: Path, doc: Doc) -> Path:
    """Where a custom resource's schema is under `root`: <api group>/<kind lowercased>_<version>.json."""
    group, version = _group_version(doc)
    return root / group / f"{str(doc['kind']).lower()}_{version}.json"


@cache
def _custom_validator(
    root: Path, group: str, kind: str, version: str
) -> jsonschema.protocols.Validator | None:
    path = custom_schema_path(root, {"apiVersion": f"{group}/{version}", "kind": kind})
    if not path.is_file():
        return None
    schema = json.loads(path.read_text())
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    return cls(schema)


def _describe(error: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in error.absolute_path) or "(root)"
    return f"{where}: {error.message}"


def schema_errors(docs: Iterable[Doc], k8s_version: str, crd_root: Path) -> list[str]:
    """Every schema violation of every document: built-in kinds against kubernetes-validate's
    strict schemas for `k8s_version`, custom resources against the schemas in `crd_root`.
    A kind without a schema is an error too (it could not be checked)."""
    errors: list[str] = []
    for doc in docs:
        group, version = _group_version(doc)
        if is_builtin(doc):
            validator = _builtin_validator(k8s_version, doc["kind"], doc["apiVersion"])
            where = f"Kubernetes {k8s_version}"
        else:
            validator = _custom_validator(crd_root, group, doc["kind"], version)
            where = str(crd_root.name)
        if validator is None:
            errors.append(f"{ref(doc)}: no schema for {doc['apiVersion']} {doc['kind']} ({where})")
            continue
        for error in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path))):
            errors.append(f"{ref(doc)}: {_describe(error)}")
    return errors


# --- workloads


def pod_specs(docs: Iterable[Doc]) -> Iterator[tuple[Doc, Doc]]:
    """(workload, pod spec) for Deployments, StatefulSets, DaemonSets and Jobs."""
    for doc in of_kind(docs, "Deployment", "StatefulSet", "DaemonSet", "Job"):
        yield doc, doc["spec"]["template"]["spec"]


def containers(pod: Doc) -> list[Doc]:
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def pod_label_sets(docs: list[Doc]) -> list[tuple[str, dict[str, str]]]:
    """Labels of every pod the render will produce, including the operators' pods."""
    sets = [(ref(d), d["spec"]["template"]["metadata"].get("labels", {})) for d, _ in pod_specs(docs)]
    for doc in of_kind(docs, *OPERATOR_POD_LABELS):
        if doc["apiVersion"].startswith(("rabbitmq.com/", "postgresql.cnpg.io/")):
            sets.append((ref(doc), OPERATOR_POD_LABELS[doc["kind"]](doc["metadata"]["name"])))
    for issuer in of_kind(docs, "ClusterIssuer", "Issuer"):
        if any("http01" in s for s in issuer["spec"].get("acme", {}).get("solvers", [])):
            sets.append((ref(issuer), {"acme.cert-manager.io/http01-solver": "true"}))
    return sets


def selects(selector: Doc, labels: dict[str, str]) -> bool:
    """Kubernetes label selector semantics (matchLabels + matchExpressions)."""
    match = (
        selector.get("matchLabels", {})
        if "matchLabels" in selector or "matchExpressions" in selector
        else selector
    )
    if any(labels.get(k) != v for k, v in match.items()):
        return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def config_values(docs: list[Doc]) -> dict[str, str]:
    """The calbridge ConfigMap's settings (whatever hash suffix kustomize gave it)."""
    for cm in of_kind(docs, "ConfigMap"):
        if cm["metadata"]["name"].startswith("calbridge-config"):
            return dict(cm.get("data", {}))
    return {}


def env_names(docs: list[Doc], container: Doc) -> set[str]:
    """Every environment variable a container gets: env entries plus ConfigMap keys via envFrom."""
    names = {e["name"] for e in container.get("env", [])}
    for source in container.get("envFrom", []):
        cm_ref = source.get("configMapRef")
        if cm_ref:
            cm = find(docs, "ConfigMap", cm_ref["name"])
            names |= set((cm or {}).get("data", {}))
    return names


# --- cross-object checks


def check_selectors(docs: list[Doc]) -> list[str]:
    errors: list[str] = []
    for doc, _pod in pod_specs(docs):
        selector = doc["spec"].get("selector")
        labels = doc["spec"]["template"]["metadata"].get("labels", {})
        if selector is not None and not selects(selector, labels):
            errors.append(f"{ref(doc)}: selector {selector} does not match its pod labels {labels}")
    pods = pod_label_sets(docs)

    def any_pod(selector: Doc) -> bool:
        return any(selects(selector, labels) for _, labels in pods)

    for svc in of_kind(docs, "Service"):
        sel = svc["spec"].get("selector")
        if sel and not any_pod(sel):
            errors.append(f"{ref(svc)}: selector {sel} matches no pod")
        for port in svc["spec"].get("ports", []):
            target = port.get("targetPort")
            if isinstance(target, str):
                declared = {
                    p.get("name")
                    for d, pod in pod_specs(docs)
                    if sel and selects(sel, d["spec"]["template"]["metadata"].get("labels", {}))
                    for c in pod["containers"]
                    for p in c.get("ports", [])
                }
                if target not in declared:
                    errors.append(f"{ref(svc)}: targetPort {target!r} is not a declared container port")
    for pdb in of_kind(docs, "PodDisruptionBudget"):
        if not any_pod(pdb["spec"]["selector"]):
            errors.append(f"{ref(pdb)}: selector matches no pod")
    for pol in of_kind(docs, "NetworkPolicy"):
        sel = pol["spec"]["podSelector"]
        if sel and not any_pod(sel):
            errors.append(f"{ref(pol)}: podSelector matches no pod")
    for mon in of_kind(docs, "PodMonitor"):
        if not any_pod(mon["spec"]["selector"]):
            errors.append(f"{ref(mon)}: selector matches no pod")
    service_labels = [(ref(s), s["metadata"].get("labels", {})) for s in of_kind(docs, "Service")]
    for cluster in of_kind(docs, "RabbitmqCluster"):
        service_labels.append(
            (ref(cluster), OPERATOR_POD_LABELS["RabbitmqCluster"](cluster["metadata"]["name"]))
        )
    for mon in of_kind(docs, "ServiceMonitor"):
        if not any(selects(mon["spec"]["selector"], labels) for _, labels in service_labels):
            errors.append(f"{ref(mon)}: selector matches no Service")
    return errors


def check_probes(docs: list[Doc]) -> list[str]:
    """Probes hit declared ports, liveness is /healthz and readiness /readyz, and the port each
    service listens on is the one its setting says."""
    errors: list[str] = []
    settings = config_values(docs)
    port_setting = {
        "receiver": "CALBRIDGE_RECEIVER_PORT",
        "processor": "CALBRIDGE_PROCESSOR_HTTP_PORT",
        "renewer": "CALBRIDGE_RENEWER_HTTP_PORT",
    }
    expected_path = {"livenessProbe": "/healthz", "readinessProbe": "/readyz", "startupProbe": "/healthz"}
    for doc, pod in pod_specs(docs):
        for c in pod.get("containers", []):
            ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
            numbers = set(ports.values())
            for kind, path in expected_path.items():
                probe = c.get(kind)
                if probe is None:
                    if doc["kind"] != "Job" and kind != "startupProbe":
                        errors.append(f"{ref(doc)} {c['name']}: no {kind}")
                    continue
                http = probe.get("httpGet")
                if http is None:
                    errors.append(f"{ref(doc)} {c['name']}: {kind} is not an HTTP probe")
                    continue
                port = http["port"]
                if (isinstance(port, str) and port not in ports) or (
                    isinstance(port, int) and port not in numbers
                ):
                    errors.append(
                        f"{ref(doc)} {c['name']}: {kind} port {port!r} is not a declared container port"
                    )
                if http.get("path") != path:
                    errors.append(
                        f"{ref(doc)} {c['name']}: {kind} path {http.get('path')!r}, expected {path}"
                    )
            setting = port_setting.get(c["name"])
            if setting and ports.get("http") is not None and settings.get(setting) != str(ports["http"]):
                errors.append(
                    f"{ref(doc)} {c['name']}: listens on {settings.get(setting)} ({setting}) "
                    f"but declares port {ports['http']}"
                )
    return errors


def check_hardening(docs: list[Doc]) -> list[str]:
    """Every pod non-root with a fixed UID, seccomp RuntimeDefault, no service account token;
    every container without privilege escalation, read-only root, no capabilities, bounded
    resources and a writable /tmp from an emptyDir."""
    errors: list[str] = []
    accounts = {sa["metadata"]["name"]: sa for sa in of_kind(docs, "ServiceAccount")}
    for doc, pod in pod_specs(docs):
        where = ref(doc)
        psc = pod.get("securityContext", {})
        if psc.get("runAsNonRoot") is not True:
            errors.append(f"{where}: pod securityContext.runAsNonRoot is not true")
        if not isinstance(psc.get("runAsUser"), int) or psc["runAsUser"] == 0:
            errors.append(f"{where}: pod securityContext.runAsUser is not a non-zero UID")
        if pod.get("automountServiceAccountToken") is not False:
            errors.append(f"{where}: automountServiceAccountToken is not false")
        sa_name = pod.get("serviceAccountName")
        if sa_name is None or sa_name not in accounts:
            errors.append(f"{where}: service account {sa_name!r} is not declared")
        elif accounts[sa_name].get("automountServiceAccountToken") is not False:
            errors.append(f"ServiceAccount/{sa_name}: automountServiceAccountToken is not false")
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for c in containers(pod):
            cwhere = f"{where} container {c['name']}"
            sc = c.get("securityContext", {})
            if sc.get("allowPrivilegeEscalation") is not False:
                errors.append(f"{cwhere}: allowPrivilegeEscalation is not false")
            if sc.get("readOnlyRootFilesystem") is not True:
                errors.append(f"{cwhere}: readOnlyRootFilesystem is not true")
            if sc.get("capabilities", {}).get("drop") != ["ALL"] or sc.get("capabilities", {}).get("add"):
                errors.append(f"{cwhere}: capabilities do not drop ALL (or add some)")
            if sc.get("privileged"):
                errors.append(f"{cwhere}: privileged")
            seccomp = sc.get("seccompProfile", psc.get("seccompProfile", {})).get("type")
            if seccomp != "RuntimeDefault":
                errors.append(f"{cwhere}: seccompProfile is {seccomp!r}, not RuntimeDefault")
            resources = c.get("resources", {})
            for part in ("requests", "limits"):
                for res in ("cpu", "memory"):
                    if res not in resources.get(part, {}):
                        errors.append(f"{cwhere}: no {part}.{res}")
            tmp = [m for m in c.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
            if not tmp or "emptyDir" not in volumes.get(tmp[0]["name"], {}):
                errors.append(f"{cwhere}: /tmp is not an emptyDir (the root filesystem is read-only)")
    return errors


def check_scaling(docs: list[Doc]) -> list[str]:
    """The processor is scaled by KEDA and by nothing else; autoscaled Deployments leave
    replicas to their autoscaler; the processor never outnumbers the shard queues."""
    errors: list[str] = []
    deployments = {d["metadata"]["name"] for d in of_kind(docs, "Deployment")}
    scaled: dict[str, str] = {}
    for so in of_kind(docs, "ScaledObject"):
        target = so["spec"]["scaleTargetRef"]
        if target.get("kind", "Deployment") != "Deployment" or target["name"] not in deployments:
            errors.append(f"{ref(so)}: scaleTargetRef {target} is not a Deployment of this render")
        scaled[target["name"]] = ref(so)
        shards = int(config_values(docs).get("CALBRIDGE_SHARD_COUNT", "0") or 0)
        if so["spec"].get("maxReplicaCount", 100) > shards:
            errors.append(f"{ref(so)}: maxReplicaCount exceeds CALBRIDGE_SHARD_COUNT={shards}")
        for trigger in so["spec"]["triggers"]:
            auth = trigger.get("authenticationRef")
            if auth and find(docs, auth.get("kind", "TriggerAuthentication"), auth["name"]) is None:
                errors.append(f"{ref(so)}: authenticationRef {auth['name']} is not declared")
            if trigger["type"] == "rabbitmq":
                # RabbitMQ's management API searches (unanchored), like re.search
                pattern = re.compile(trigger["metadata"]["queueName"])
                if not all(pattern.search(f"calbridge.changes.{i}") for i in (0, 7, 255)):
                    errors.append(f"{ref(so)}: queueName does not match the shard queues")
                for other in ("calbridge.dlq", "calbridge.lifecycle", "calbridge.changes.3.retry.30"):
                    if pattern.search(other):
                        errors.append(f"{ref(so)}: queueName also counts {other}")
    if "calbridge-processor" not in scaled:
        errors.append("no ScaledObject targets Deployment/calbridge-processor")
    for hpa in of_kind(docs, "HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        if target["name"] not in deployments:
            errors.append(f"{ref(hpa)}: scaleTargetRef {target['name']} is not a Deployment of this render")
        if target["name"] in scaled:
            errors.append(
                f"{ref(hpa)}: targets {target['name']}, which {scaled[target['name']]} already scales"
            )
        scaled.setdefault(target["name"], ref(hpa))
    for dep in of_kind(docs, "Deployment"):
        errors.extend(_check_drain(dep))
        if dep["metadata"]["name"] in scaled and "replicas" in dep["spec"]:
            errors.append(
                f"{ref(dep)}: sets replicas although {scaled[dep['metadata']['name']]} owns the count"
            )
        keys = [
            c["topologyKey"] for c in dep["spec"]["template"]["spec"].get("topologySpreadConstraints", [])
        ]
        if len(keys) != len(set(keys)):
            errors.append(f"{ref(dep)}: two topologySpreadConstraints on the same topologyKey")
    return errors


# Seconds the pod needs after the drain deadline to close its connections and exit.
DRAIN_MARGIN = 10


def _check_drain(dep: Doc) -> list[str]:
    """A consumer's drain deadline fits inside the pod's termination grace period."""
    pod = dep["spec"]["template"]["spec"]
    grace = pod.get("terminationGracePeriodSeconds", 30)
    errors = []
    for c in pod["containers"]:
        for e in c.get("env", []):
            if e["name"] == "CALBRIDGE_DRAIN_TIMEOUT" and float(e["value"]) + DRAIN_MARGIN > grace:
                errors.append(
                    f"{ref(dep)}: CALBRIDGE_DRAIN_TIMEOUT={e['value']} leaves less than {DRAIN_MARGIN} s "
                    f"of the {grace} s termination grace period"
                )
    return errors


def secret_refs(docs: list[Doc]) -> Iterator[tuple[str, str, str | None]]:
    """(where, secret name, key or None) of every Secret the render expects to exist."""
    for doc, pod in pod_specs(docs):
        for c in containers(pod):
            for e in c.get("env", []):
                key_ref = e.get("valueFrom", {}).get("secretKeyRef")
                if key_ref:
                    yield f"{ref(doc)} env {e['name']}", key_ref["name"], key_ref["key"]
            for source in c.get("envFrom", []):
                if "secretRef" in source:
                    yield f"{ref(doc)} envFrom", source["secretRef"]["name"], None
        for v in pod.get("volumes", []):
            if "secret" in v:
                yield f"{ref(doc)} volume {v['name']}", v["secret"]["secretName"], None
    for ta in of_kind(docs, "TriggerAuthentication"):
        for target in ta["spec"].get("secretTargetRef", []):
            yield ref(ta), target["name"], target["key"]
    for cluster in of_kind(docs, "Cluster"):
        initdb = cluster["spec"].get("bootstrap", {}).get("initdb", {})
        if "secret" in initdb:
            yield ref(cluster), initdb["secret"]["name"], None


def check_secrets(docs: list[Doc], example: list[Doc]) -> list[str]:
    """Every Secret reference resolves to a Secret (and key) of the example; no Secret is
    rendered (values are never committed); TLS secrets come from a Certificate."""
    errors: list[str] = []
    declared = {
        s["metadata"]["name"]: set(s.get("stringData", {})) | set(s.get("data", {}))
        for s in example
        if s.get("kind") == "Secret"
    }
    for where, name, key in secret_refs(docs):
        if name not in declared:
            errors.append(f"{where}: Secret {name!r} is not declared in secrets.example.yaml")
        elif key is not None and key not in declared[name]:
            errors.append(f"{where}: Secret {name!r} has no key {key!r} in secrets.example.yaml")
    for secret in of_kind(docs, "Secret"):
        errors.append(f"{ref(secret)}: a Secret is part of the render (values must not be committed)")
    issued = {c["spec"]["secretName"] for c in of_kind(docs, "Certificate")}
    for ing in of_kind(docs, "Ingress"):
        for tls in ing["spec"].get("tls", []):
            if tls.get("secretName") not in issued:
                errors.append(f"{ref(ing)}: TLS secret {tls.get('secretName')!r} is issued by no Certificate")
    for cm_user, pod in pod_specs(docs):
        for c in containers(pod):
            for source in c.get("envFrom", []):
                name = source.get("configMapRef", {}).get("name")
                if name and find(docs, "ConfigMap", name) is None:
                    errors.append(f"{ref(cm_user)}: ConfigMap {name!r} is not declared")
    return errors


def check_example_urls(docs: list[Doc], example: list[Doc]) -> list[str]:
    """The example connection URLs point at the broker and database this render creates, in
    its namespace, on ports the network policies open."""
    errors: list[str] = []
    values = {
        key: str(value)
        for s in example
        if s.get("kind") == "Secret"
        for key, value in s.get("stringData", {}).items()
    }
    namespace = next((d["metadata"]["name"] for d in of_kind(docs, "Namespace")), None)
    rabbits = {d["metadata"]["name"] for d in of_kind(docs, "RabbitmqCluster")}
    databases = {f"{d['metadata']['name']}-rw" for d in of_kind(docs, "Cluster")}
    opened = {
        port.get("port")
        for p in of_kind(docs, "NetworkPolicy")
        for rule in p["spec"].get("ingress", [])
        for port in rule.get("ports", [])
    }
    expected = {
        "CALBRIDGE_AMQP_URL": (rabbits, 5672),
        "CALBRIDGE_DATABASE_URL": (databases, 5432),
        "host": (rabbits, 15672),
    }
    for key, (services, port) in expected.items():
        url = urlsplit(values.get(key, ""))
        service, _, rest = (url.hostname or "").partition(".")
        if service not in services:
            errors.append(f"secrets.example.yaml {key}: host {url.hostname!r} is none of {sorted(services)}")
        if rest.split(".")[0] != namespace:
            errors.append(
                f"secrets.example.yaml {key}: host {url.hostname!r} is not in namespace {namespace}"
            )
        if url.port != port or port not in opened:
            errors.append(
                f"secrets.example.yaml {key}: port {url.port} (expected {port}, open to the services)"
            )
    return errors


def check_ingress(docs: list[Doc]) -> list[str]:
    """Only the notification and free/busy paths are public, over TLS, on the host of
    CALBRIDGE_PUBLIC_URL, with a certificate for that host from a declared issuer."""
    errors: list[str] = []
    ingresses = list(of_kind(docs, "Ingress"))
    if not ingresses:
        return ["no Ingress for the receiver"]
    public_host = urlsplit(config_values(docs).get("CALBRIDGE_PUBLIC_URL", "")).hostname
    certificates = list(of_kind(docs, "Certificate"))
    services = {s["metadata"]["name"]: s for s in of_kind(docs, "Service")}
    for ing in ingresses:
        seen: set[tuple[str, str]] = set()
        tls_hosts = {h for t in ing["spec"].get("tls", []) for h in t.get("hosts", [])}
        for rule in ing["spec"].get("rules", []):
            host = rule.get("host")
            if host not in tls_hosts:
                errors.append(f"{ref(ing)}: host {host!r} is served without TLS")
            if host != public_host:
                errors.append(
                    f"{ref(ing)}: host {host!r} is not the host of CALBRIDGE_PUBLIC_URL ({public_host})"
                )
            for path in rule.get("http", {}).get("paths", []):
                key = (path["path"], path["pathType"])
                seen.add(key)
                if key not in PUBLIC_PATHS:
                    errors.append(f"{ref(ing)}: publishes {key[0]} ({key[1]}), which must stay internal")
                svc = path["backend"]["service"]
                target = services.get(svc["name"])
                port_names = {p.get("name") for p in (target or {}).get("spec", {}).get("ports", [])}
                if target is None or svc["port"].get("name") not in port_names:
                    errors.append(f"{ref(ing)}: backend {svc} is not a declared Service port")
        for missing in sorted(PUBLIC_PATHS - seen):
            errors.append(f"{ref(ing)}: does not publish {missing[0]}")
        for host in tls_hosts:
            if not any(host in c["spec"].get("dnsNames", []) for c in certificates):
                errors.append(f"{ref(ing)}: no Certificate covers {host}")
    for cert in certificates:
        issuer = cert["spec"]["issuerRef"]
        if find(docs, issuer.get("kind", "Issuer"), issuer["name"]) is None:
            errors.append(f"{ref(cert)}: issuer {issuer['kind']}/{issuer['name']} is not declared")
    return errors


def check_network_policies(docs: list[Doc]) -> list[str]:
    """A default deny for both directions, and every calbridge pod allowed DNS."""
    errors: list[str] = []
    policies = list(of_kind(docs, "NetworkPolicy"))
    deny = [
        p
        for p in policies
        if p["spec"]["podSelector"] == {}
        and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    if not deny:
        errors.append("no default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules)")
    for _name, labels in pod_label_sets(docs):
        dns = any(
            selects(p["spec"]["podSelector"], labels)
            and any(
                port.get("port") == 53
                for rule in p["spec"].get("egress", [])
                for port in rule.get("ports", [])
            )
            for p in policies
        )
        if not dns:
            errors.append(f"pods {labels} may not resolve DNS")
    for p in policies:
        if not selects(
            p["spec"]["podSelector"],
            {"app.kubernetes.io/name": "calbridge", "app.kubernetes.io/component": "receiver"},
        ):
            continue
        for rule in p["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                ns = (
                    peer.get("namespaceSelector", {})
                    .get("matchLabels", {})
                    .get("kubernetes.io/metadata.name")
                )
                if ns not in ("ingress-nginx", "monitoring") or "ipBlock" in peer:
                    errors.append(f"{ref(p)}: lets {peer} reach the receiver")
    return errors


class PromQLError(ValueError):
    pass


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression reads; PromQLError if it does not parse."""
    import promql_parser

    try:
        tree = promql_parser.parse(expr)
    except ValueError as exc:
        raise PromQLError(str(exc)) from None
    names: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(tree, visit)
    return names


def _unknown_metrics(expr: str) -> str | None:
    """Why an expression is wrong (does not parse, reads unknown metrics), or None."""
    try:
        unknown = metric_names(expr) - KNOWN_METRICS
    except PromQLError as exc:
        return f"does not parse: {exc}"
    return f"unknown metrics {sorted(unknown)}" if unknown else None


def check_observability(docs: list[Doc]) -> list[str]:
    """Alerts and dashboard panels only use metrics that exist; every alert says how bad it
    is and where its runbook is; the dashboard is valid JSON in a labelled ConfigMap."""
    errors: list[str] = []
    rules = list(of_kind(docs, "PrometheusRule"))
    if not rules:
        errors.append("no PrometheusRule")
    for rule_doc in rules:
        for group in rule_doc["spec"]["groups"]:
            for rule in group["rules"]:
                name = rule.get("alert") or rule.get("record")
                problem = _unknown_metrics(rule["expr"])
                if problem:
                    errors.append(f"{ref(rule_doc)} {name}: {problem}")
                if "alert" in rule:
                    if rule.get("labels", {}).get("severity") not in ("warning", "critical"):
                        errors.append(f"{ref(rule_doc)} {name}: no severity")
                    if not rule.get("annotations", {}).get("runbook", "").startswith("docs/operations.md#"):
                        errors.append(f"{ref(rule_doc)} {name}: no runbook annotation")
    boards = [
        cm for cm in of_kind(docs, "ConfigMap") if cm["metadata"].get("labels", {}).get("grafana_dashboard")
    ]
    if not boards:
        errors.append("no Grafana dashboard ConfigMap")
    for cm in boards:
        for file_name, text in cm.get("data", {}).items():
            try:
                board = json.loads(text)
            except ValueError as exc:
                errors.append(f"{ref(cm)} {file_name}: not JSON: {exc}")
                continue
            for panel in board.get("panels", []):
                for target in panel.get("targets", []):
                    problem = _unknown_metrics(target.get("expr", ""))
                    if problem:
                        errors.append(f"{ref(cm)} panel {panel.get('title')!r}: {problem}")
    return errors


def consistency_errors(docs: list[Doc], example: list[Doc]) -> list[str]:
    return [
        *check_selectors(docs),
        *check_probes(docs),
        *check_hardening(docs),
        *check_scaling(docs),
        *check_secrets(docs, example),
        *check_example_urls(docs, example),
        *check_ingress(docs),
        *check_network_policies(docs),
        *check_observability(docs),
    ]


def load_example_secrets(k8s_dir: Path = K8S) -> list[Doc]:
    return [d for d in yaml.safe_load_all((k8s_dir / "base" / "secrets.example.yaml").read_text()) if d]
