"""The Kubernetes manifests under deploy/k8s: valid for the API server and following the suite's own rules.

Each YAML document (kustomization files aside, they are no API objects) is validated strictly against the
bundled Kubernetes 1.33 schema. The rules the schema cannot know are asserted here: probes, resources,
security context, graceful shutdown, where settings and secrets come from, and that every Deployment has
its Service and PodDisruptionBudget. When `kubectl` is installed, the kustomizations are also rendered.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
DEV = K8S / "overlays" / "dev"

KUBERNETES_VERSION = "1.33.0"
NAMESPACE = "koo-suite"
SERVICES = ("orders", "supervision", "notification", "partner")
CLUSTER_ENDPOINTS = ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI")
APP_UID = 10001  # the Dockerfile's user
HTTP_PORT = 8080
ALL_INTERFACES = "0.0.0.0"  # noqa: S104  (the container's port must be reachable from the kubelet)
SERVICE_PORT = 80
MIN_GRACE_SECONDS = 30
FASTSTREAM_GRACEFUL_TIMEOUT = 15  # shared/platform/kafka.py
SECRET_EXAMPLE = "secret.example.yaml"
PLACEHOLDER = "change-me"
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SECRET_WORDS = ("PASSWORD", "TOKEN", "SECRET", "CREDENTIAL", "PRIVATE_KEY", "API_KEY")
URI_WITH_CREDENTIALS = re.compile(r"://[^/@\s:]+:[^/@\s]*@")
SLEEP_SECONDS = re.compile(r"sleep\(?\s*(\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class Doc:
    path: Path
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def name(self) -> str:
        return str(self.body.get("metadata", {}).get("name", ""))

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(K8S).as_posix()}:{self.kind}/{self.name}"


def _yaml_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml"))


def _is_kustomization(path: Path) -> bool:
    return path.name in KUSTOMIZATION_NAMES


def _load(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc is not None]


def _load_text(text: str) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


MANIFESTS = [p for p in _yaml_files(K8S) if not _is_kustomization(p)]
KUSTOMIZATIONS = [p for p in _yaml_files(K8S) if _is_kustomization(p)]
DOCS = [Doc(path, body) for path in MANIFESTS for body in _load(path)]


def _docs(kind: str) -> list[Doc]:
    return [d for d in DOCS if d.kind == kind]


def _params(docs: list[Doc]) -> list[Any]:
    return [pytest.param(d, id=d.id) for d in docs]


def _kustomization_id(path: Path) -> str:
    return path.parent.relative_to(K8S).as_posix()


# --- accessors ------------------------------------------------------------------------------------------


def _deployment(service: str) -> dict[str, Any]:
    found = [d.body for d in _docs("Deployment") if d.name == service]
    assert len(found) == 1, f"expected one Deployment named {service!r}, found {len(found)}"
    return found[0]


def _pod_spec(deployment: dict[str, Any]) -> dict[str, Any]:
    return deployment["spec"]["template"]["spec"]


def _pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    return deployment["spec"]["template"].get("metadata", {}).get("labels", {})


def _container(service: str) -> dict[str, Any]:
    containers = _pod_spec(_deployment(service))["containers"]
    found = [c for c in containers if c["name"] == service]
    assert len(found) == 1, f"{service}: expected one container named {service!r}"
    return found[0]


def _selects(selector: dict[str, str] | None, labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in (selector or {}).items())


def _effective(service: str, field: str) -> Any:
    """A securityContext field as the kubelet applies it: the container's value wins over the pod's."""
    container_ctx = _container(service).get("securityContext", {})
    pod_ctx = _pod_spec(_deployment(service)).get("securityContext", {})
    return container_ctx.get(field, pod_ctx.get(field))


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def _prefix(service: str) -> str:
    return f"{service.upper()}_"


def _port_number(container: dict[str, Any], port: int | str) -> int | None:
    """A probe's or Service's port, by number or by the container port's name."""
    for declared in container.get("ports", []):
        if port in (declared["containerPort"], declared.get("name")):
            return int(declared["containerPort"])
    return None


def _data(doc: dict[str, Any]) -> dict[str, str]:
    """A ConfigMap's or Secret's keys and values (Secret `data` decoded)."""
    values = {k: str(v) for k, v in (doc.get("stringData") or {}).items()}
    for key, value in (doc.get("data") or {}).items():
        values[key] = base64.b64decode(value).decode() if doc.get("kind") == "Secret" else str(value)
    return values


def _sources(kind: str) -> dict[str, dict[str, str]]:
    """The ConfigMaps or Secrets the manifests define (the Secret through its example), by name."""
    return {d.name: _data(d.body) for d in _docs(kind)}


def _env_names(container: dict[str, Any]) -> dict[str, str]:
    """Every variable the container gets, mapped to where it comes from: value, configmap or secret."""
    names: dict[str, str] = {}
    for source in container.get("envFrom", []):
        for ref, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            if ref in source:
                keys = _sources(kind).get(source[ref]["name"], {})
                names.update({source.get("prefix", "") + key: kind.lower() for key in keys})
    for name, entry in _env(container).items():
        value_from = entry.get("valueFrom", {})
        names[name] = ("secret" if "secretKeyRef" in value_from
                       else "configmap" if "configMapKeyRef" in value_from else "value")
    return names


def _references(container: dict[str, Any]) -> Iterator[tuple[str, str, str | None, bool]]:
    """(kind, name, key or None for a whole-object envFrom, optional) of each ConfigMap/Secret reference."""
    for source in container.get("envFrom", []):
        for ref, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            if ref in source:
                yield kind, source[ref]["name"], None, bool(source[ref].get("optional"))
    for entry in container.get("env", []):
        value_from = entry.get("valueFrom", {})
        for ref, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
            if ref in value_from:
                r = value_from[ref]
                yield kind, r["name"], r["key"], bool(r.get("optional"))


def _topic_partitions() -> int:
    values = [int(v["TOPIC_PARTITIONS"]) for v in _sources("ConfigMap").values() if "TOPIC_PARTITIONS" in v]
    assert len(values) == 1, "TOPIC_PARTITIONS must be set in exactly one ConfigMap"
    return values[0]


def _looks_secret(key: str) -> bool:
    return any(word in key.upper() for word in SECRET_WORDS)


# --- the tree -------------------------------------------------------------------------------------------


def test_manifest_tree_is_complete() -> None:
    expected = {"namespace.yaml", "configmap.yaml", SECRET_EXAMPLE, "kustomization.yaml"}
    expected |= {f"{service}.yaml" for service in SERVICES}
    assert expected <= {p.name for p in BASE.iterdir()}
    assert (DEV / "kustomization.yaml").is_file()
    assert {d.kind for d in DOCS} >= {"Namespace", "ConfigMap", "Secret", "Deployment", "Service",
                                      "PodDisruptionBudget"}


# --- every document: the Kubernetes schema --------------------------------------------------------------


def _validate(body: dict[str, Any], what: str) -> None:
    """Strict schema validation, failing with the offending field's path rather than a traceback."""
    assert {"apiVersion", "kind", "metadata"} <= body.keys(), f"{what}: not a Kubernetes object"
    problem = used = None
    try:
        used = kubernetes_validate.validate(body, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        problem = f"{'.'.join(str(part) for part in exc.path) or '<root>'}: {exc.message}"
    except kubernetes_validate.SchemaNotFoundError as exc:
        problem = exc.message
    if problem:  # failed outside the handler: no chained jsonschema traceback
        pytest.fail(f"{what}: {problem}")
    assert used == "1.33", f"{what}: validated against {used}, not the requested schema"


@pytest.mark.parametrize("doc", _params(DOCS))
def test_document_is_valid_kubernetes(doc: Doc) -> None:
    _validate(doc.body, doc.id)


@pytest.mark.parametrize("doc", _params(DOCS))
def test_document_belongs_to_the_suite(doc: Doc) -> None:
    metadata = doc.body["metadata"]
    if doc.kind != "Namespace":
        assert metadata.get("namespace") == NAMESPACE
    assert metadata.get("labels", {}).get("app.kubernetes.io/part-of") == NAMESPACE


# --- Deployments ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_runs_its_service_module(service: str) -> None:
    container = _container(service)
    assert "command" not in container, "command would replace the image's `python -m` entrypoint"
    assert container.get("args") == [f"services.{service}"]


def test_every_deployment_is_one_of_the_services() -> None:
    assert sorted(d.name for d in _docs("Deployment")) == sorted(SERVICES)


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_labels_and_selector(service: str) -> None:
    deployment = _deployment(service)
    labels = _pod_labels(deployment)
    assert labels.get("app.kubernetes.io/name") == service
    assert labels.get("app.kubernetes.io/part-of") == NAMESPACE
    assert labels.get("app.kubernetes.io/component")
    assert _selects(deployment["spec"]["selector"].get("matchLabels"), labels)
    assert deployment["metadata"]["labels"].items() >= {"app.kubernetes.io/name": service}.items()


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_image_has_a_fixed_tag(service: str) -> None:
    image = _container(service)["image"]
    if "@sha256:" in image:
        return
    name, _, tag = image.rpartition(":")
    assert name, f"{image!r} has no tag"
    assert "/" not in tag, f"{image!r} has no tag"
    assert tag != "latest", f"{image!r} uses latest"
    assert name.rsplit("/", 1)[-1] == "koo-suite"


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_probes(service: str) -> None:
    container = _container(service)
    probes = {kind: container.get(kind) for kind in ("readinessProbe", "livenessProbe", "startupProbe")}
    for kind, probe in probes.items():
        assert probe, f"{kind} missing"
        assert "httpGet" in probe, f"{kind} is not an HTTP probe"
        assert _port_number(container, probe["httpGet"]["port"]) == HTTP_PORT, f"{kind} port"
    assert probes["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # Liveness must not depend on MongoDB or Kafka: an outage there would restart every pod.
    assert probes["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert probes["startupProbe"]["httpGet"]["path"] == "/healthz"


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_binds_http_where_the_probes_look(service: str) -> None:
    container = _container(service)
    env = _env(container)
    assert env.get(f"{_prefix(service)}HTTP_HOST", {}).get("value") == ALL_INTERFACES
    assert env.get(f"{_prefix(service)}HTTP_PORT", {}).get("value") == str(HTTP_PORT)
    assert _port_number(container, "http") == HTTP_PORT


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_resources(service: str) -> None:
    resources = _container(service).get("resources", {})
    requests, limits = resources.get("requests", {}), resources.get("limits", {})
    assert {"cpu", "memory"} <= requests.keys()
    assert "memory" in limits
    assert "cpu" not in limits, "no CPU limit: CFS throttling stalls the asyncio event loop"


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_security_context(service: str) -> None:
    pod = _pod_spec(_deployment(service))
    assert _effective(service, "runAsNonRoot") is True
    assert _effective(service, "runAsUser") == APP_UID
    assert _effective(service, "seccompProfile") == {"type": "RuntimeDefault"}
    container_ctx = _container(service).get("securityContext", {})
    assert container_ctx.get("readOnlyRootFilesystem") is True
    assert container_ctx.get("allowPrivilegeEscalation") is False
    assert "ALL" in container_ctx.get("capabilities", {}).get("drop", [])
    assert not container_ctx.get("privileged", False)
    assert pod.get("automountServiceAccountToken") is False
    tmp = [m["name"] for m in _container(service).get("volumeMounts", []) if m["mountPath"] == "/tmp"]
    assert tmp, "a read-only root filesystem needs a writable /tmp"
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    assert "emptyDir" in volumes.get(tmp[0], {})


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_shuts_down_gracefully(service: str) -> None:
    grace = _pod_spec(_deployment(service)).get("terminationGracePeriodSeconds", 30)
    assert grace >= MIN_GRACE_SECONDS
    pre_stop = _container(service).get("lifecycle", {}).get("preStop", {})
    command = pre_stop.get("exec", {}).get("command")
    assert command, "preStop must exec a short sleep"
    sleep = SLEEP_SECONDS.search(" ".join(command))
    assert sleep, f"preStop does not sleep: {command}"
    assert grace > float(sleep.group(1)) + FASTSTREAM_GRACEFUL_TIMEOUT


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_gets_the_cluster_endpoints(service: str) -> None:
    names = _env_names(_container(service))
    for name in CLUSTER_ENDPOINTS:
        assert name in names, f"{name} is neither in env nor in an envFrom source"
    assert names["MONGODB_URI"] == "secret", "MONGODB_URI carries credentials: it must come from a Secret"


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_references_exist(service: str) -> None:
    for kind, name, key, optional in _references(_container(service)):
        sources = _sources(kind)
        assert name in sources, f"{kind} {name!r} is not defined under deploy/k8s"
        if key is not None and not optional:
            assert key in sources[name], f"{kind} {name!r} has no key {key!r}"


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_env_has_no_plain_secrets(service: str) -> None:
    for name, entry in _env(_container(service)).items():
        if "value" not in entry:
            continue
        assert not _looks_secret(name), f"{name} must come from a Secret, not a plain value"
        assert not URI_WITH_CREDENTIALS.search(str(entry["value"])), f"{name} holds credentials"


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_replicas_fit_the_partitions(service: str) -> None:
    replicas = _deployment(service)["spec"].get("replicas", 1)
    assert 1 <= replicas <= _topic_partitions(), "replicas beyond the partition count sit idle"


@pytest.mark.parametrize("service", SERVICES)
def test_service_selects_only_its_deployment(service: str) -> None:
    labels = _pod_labels(_deployment(service))
    matching = [d for d in _docs("Service") if _selects(d.body["spec"].get("selector"), labels)]
    assert [d.name for d in matching] == [service]
    spec = matching[0].body["spec"]
    assert spec.get("type", "ClusterIP") == "ClusterIP"
    for other in SERVICES:
        if other != service:
            assert not _selects(spec["selector"], _pod_labels(_deployment(other))), f"also selects {other}"
    ports = spec["ports"]
    assert [p["port"] for p in ports] == [SERVICE_PORT]
    assert _port_number(_container(service), ports[0].get("targetPort", SERVICE_PORT)) == HTTP_PORT


@pytest.mark.parametrize("service", SERVICES)
def test_pod_disruption_budget_covers_only_its_deployment(service: str) -> None:
    labels = _pod_labels(_deployment(service))
    matching = [d for d in _docs("PodDisruptionBudget")
                if _selects(d.body["spec"].get("selector", {}).get("matchLabels"), labels)]
    assert len(matching) == 1, f"expected one PodDisruptionBudget for {service}, found {len(matching)}"
    spec = matching[0].body["spec"]
    assert spec.get("maxUnavailable") == 1
    for other in SERVICES:
        if other != service:
            assert not _selects(spec["selector"]["matchLabels"], _pod_labels(_deployment(other)))


# --- ConfigMaps and Secrets -----------------------------------------------------------------------------


@pytest.mark.parametrize("doc", _params(_docs("ConfigMap")))
def test_configmap_holds_no_secrets(doc: Doc) -> None:
    secret_keys = {key for values in _sources("Secret").values() for key in values}
    for key, value in _data(doc.body).items():
        assert not _looks_secret(key), f"{key} looks like a secret"
        assert key not in secret_keys, f"{key} is a Secret key"
        assert not URI_WITH_CREDENTIALS.search(value), f"{key} holds a URI with credentials"


def test_configmap_defines_the_cluster_settings() -> None:
    keys = {key for values in _sources("ConfigMap").values() for key in values}
    assert {"KAFKA_BOOTSTRAP_SERVERS", "TOPIC_PARTITIONS", "TOPIC_REPLICATION", "CREATE_TOPICS"} <= keys


@pytest.mark.parametrize("doc", _params(_docs("Secret")))
def test_secret_example_holds_placeholders_only(doc: Doc) -> None:
    assert doc.path.name == SECRET_EXAMPLE, "real Secrets come from the secret store, not from the repository"
    values = _data(doc.body)
    assert values
    for key, value in values.items():
        assert PLACEHOLDER in value, f"{key} is not a {PLACEHOLDER!r} placeholder"


# --- kustomizations -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [pytest.param(p, id=_kustomization_id(p)) for p in KUSTOMIZATIONS])
def test_kustomization_resources_exist(path: Path) -> None:
    (kustomization,) = _load(path)
    assert kustomization.get("kind") == "Kustomization"
    resources = kustomization.get("resources", [])
    assert resources
    for entry in resources:
        assert "://" not in entry, f"remote resource {entry!r}"
        target = (path.parent / entry).resolve()
        assert target.exists(), f"{entry} does not exist"
        if target.is_dir():
            has_kustomization = any((target / name).is_file() for name in KUSTOMIZATION_NAMES)
            assert has_kustomization, f"{entry}: no kustomization"
        else:
            # kustomize's default load restrictions: a file must lie inside the kustomization's root.
            assert target.is_relative_to(path.parent.resolve()), f"{entry} lies outside {path.parent}"


def test_base_lists_every_manifest_but_the_secret_example() -> None:
    (kustomization,) = _load(BASE / "kustomization.yaml")
    listed = set(kustomization["resources"])
    manifests = {p.name for p in MANIFESTS if p.parent == BASE}
    assert listed == manifests - {SECRET_EXAMPLE}


def test_dev_overlay_builds_on_base_with_one_replica_and_a_dev_tag() -> None:
    (kustomization,) = _load(DEV / "kustomization.yaml")
    assert (DEV / "../../base").resolve() in {(DEV / r).resolve() for r in kustomization["resources"]}
    assert {r["name"]: r["count"] for r in kustomization.get("replicas", [])} == dict.fromkeys(SERVICES, 1)
    images = {i["name"]: i for i in kustomization.get("images", [])}
    assert set(images) == {_container(s)["image"].rsplit(":", 1)[0] for s in SERVICES}
    for image in images.values():
        assert image.get("newTag") not in (None, "", "latest")


# --- rendering, where kubectl is at hand ----------------------------------------------------------------


@pytest.mark.parametrize("path", [pytest.param(p, id=_kustomization_id(p)) for p in KUSTOMIZATIONS])
def test_kustomization_renders_valid_objects(path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed")
    result = subprocess.run([kubectl, "kustomize", str(path.parent)], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    rendered = _load_text(result.stdout)
    for body in rendered:
        _validate(body, f"rendered {body.get('kind')}/{body.get('metadata', {}).get('name')}")
        assert body["kind"] != "Secret", "the Secret comes from the secret store, not from the kustomization"
    deployments = {b["metadata"]["name"]: b for b in rendered if b["kind"] == "Deployment"}
    assert sorted(deployments) == sorted(SERVICES)
    if path.parent == DEV:
        (overlay,) = _load(path)
        tag = overlay["images"][0]["newTag"]
        for deployment in deployments.values():
            assert deployment["spec"]["replicas"] == 1
            assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(f":{tag}")
