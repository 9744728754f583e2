"""The Kubernetes manifests under deploy/k8s: valid for the API server and following the suite's own rules.

Each YAML document (kustomization files aside, they are no API objects) is validated strictly against the
bundled Kubernetes 1.33 schema. The rules the schema cannot know are asserted here: probes, resources,
security context, graceful shutdown, where settings and secrets come from, and that every Deployment has
its Service and PodDisruptionBudget. When `kubectl` is installed, the kustomizations are also rendered.

Identity and trust (issue 9): every Deployment gets the issuer and `SUITE_ENV` from the ConfigMap, signs in to
Kafka as its own user over TLS with the CA mounted, and nothing relaxes production. Each Deployment's
environment is also fed to its service's settings class, whose production check must pass: the manifests
describe a configuration the services accept.
"""

from __future__ import annotations

import base64
import importlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import kubernetes_validate
import pytest
import yaml

from devstack.k8s_check import is_custom, schema_problems
from shared.platform.settings import DEV_SECRETS, ServiceSettings
from shared.schemas.acl import GRANTS
from shared.schemas.links import new_keypair

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
DEV = K8S / "overlays" / "dev"
PROD = K8S / "overlays" / "prod"
AUTOSCALING = K8S / "autoscaling"
PLATFORM = K8S / "platform"
# The kustomizations that deploy the four services (the others hold the platform or the autoscaling).
APP_KUSTOMIZATIONS = (BASE, DEV, PROD)
# Namespaces of the platform the suite runs on (platform/, overlays/prod): Strimzi, MongoDB, Keycloak, Gateway.
PLATFORM_NAMESPACES = ("kafka", "mongodb", "keycloak", "gateway")

KUBERNETES_VERSION = "1.33.0"
NAMESPACE = "koo-suite"
SERVICES = ("orders", "supervision", "notification", "partner")
# The Deployments: the four services and the browser console (services/console: no Kafka, no database).
DEPLOYMENTS = (*SERVICES, "console")
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
PRODUCTION = "production"
CONFIGMAP_SETTINGS = ("SUITE_ENV", "OIDC_ISSUER_URL")  # cluster-wide: the same in every Deployment
# Dev-only switches and the pre-issue-9 identity header: no manifest may mention them (SUITE_ENV=dev, which
# cannot be found by a plain string search, is checked on the parsed documents).
FORBIDDEN_IN_MANIFESTS = (
    "dev-token",
    "PARTNER_MERCHANT_ENDPOINT_ALLOW_HTTP",
    "PARTNER_MERCHANT_ENDPOINT_ALLOW_HOSTS",
)
FORBIDDEN_ANYWHERE = ("X-Account-Id",)
SUITE_ENV_DEV = re.compile(r"""\b(SUITE_ENV|[A-Z]+_ENVIRONMENT)["']?\s*[:=]\s*["']?(?!production\b)\w""")


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
    spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return spec


def _pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"].get("metadata", {}).get("labels", {})
    return labels


def _container(service: str) -> dict[str, Any]:
    containers = _pod_spec(_deployment(service))["containers"]
    found: list[dict[str, Any]] = [c for c in containers if c["name"] == service]
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
        names[name] = (
            "secret"
            if "secretKeyRef" in value_from
            else "configmap"
            if "configMapKeyRef" in value_from
            else "value"
        )
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


def _volume_references(deployment: dict[str, Any]) -> Iterator[tuple[str, str, str | None, bool]]:
    """(kind, name, key or None for the whole object, optional) of each Secret/ConfigMap volume."""
    for volume in _pod_spec(deployment).get("volumes", []):
        for field, kind, name_field in (
            ("secret", "Secret", "secretName"),
            ("configMap", "ConfigMap", "name"),
        ):
            if field in volume:
                source = volume[field]
                items = source.get("items") or [{"key": None}]
                for item in items:
                    yield kind, source[name_field], item["key"], bool(source.get("optional"))


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
    assert {d.kind for d in DOCS} >= {
        "Namespace",
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
    }


# --- every document: the Kubernetes schema --------------------------------------------------------------


def _validate(body: dict[str, Any], what: str) -> None:
    """Strict schema validation, failing with the offending field's path rather than a traceback.

    Core kinds against the bundled Kubernetes 1.33 schema; custom resources against their CRD's schema in
    deploy/schemas (devstack/k8s_check.py, the same check as `make k8s-check`).
    """
    assert {"apiVersion", "kind", "metadata"} <= body.keys(), f"{what}: not a Kubernetes object"
    if is_custom(body):
        problems = schema_problems(body)
        if problems:
            pytest.fail(f"{what}: {'; '.join(problems)}")
        return
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
        if doc.path.is_relative_to(BASE) or doc.path.is_relative_to(AUTOSCALING):
            assert metadata.get("namespace") == NAMESPACE
        else:  # the platform's resources live in the operators' namespaces
            assert metadata.get("namespace") in PLATFORM_NAMESPACES
    assert metadata.get("labels", {}).get("app.kubernetes.io/part-of") == NAMESPACE


# --- Deployments ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_runs_its_service_module(service: str) -> None:
    container = _container(service)
    assert "command" not in container, "command would replace the image's `python -m` entrypoint"
    assert container.get("args") == [f"services.{service}"]


def test_every_deployment_is_one_of_the_services() -> None:
    assert sorted(d.name for d in _docs("Deployment")) == sorted(DEPLOYMENTS)


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
    probes: dict[str, Any] = {
        kind: container.get(kind) for kind in ("readinessProbe", "livenessProbe", "startupProbe")
    }
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
    volumes = list(_volume_references(_deployment(service)))
    for kind, name, key, optional in [*_references(_container(service)), *volumes]:
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
    matching = [
        d
        for d in _docs("PodDisruptionBudget")
        if _selects(d.body["spec"].get("selector", {}).get("matchLabels"), labels)
    ]
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
    assert {
        "SUITE_ENV",
        "OIDC_ISSUER_URL",
        "KAFKA_SECURITY_PROTOCOL",
        "KAFKA_SASL_MECHANISM",
        "KAFKA_CA_FILE",
    } <= keys


@pytest.mark.parametrize("doc", _params(_docs("Secret")))
def test_secret_example_holds_placeholders_only(doc: Doc) -> None:
    assert doc.path.name == SECRET_EXAMPLE, "real Secrets come from the secret store, not from the repository"
    values = _data(doc.body)
    assert values
    for key, value in values.items():
        assert PLACEHOLDER in value, f"{key} is not a {PLACEHOLDER!r} placeholder"


# --- identity and trust (issue 9) -----------------------------------------------------------------------


@cache
def _link_key_pair() -> tuple[str, str]:
    """A real Ed25519 pair (PEM), so a settings check that parses the private-link keys accepts them."""
    return new_keypair()


def _secret_placeholder(key: str) -> str:
    """What the secret store would put under `key`: shaped like the real thing, and no dev default."""
    if key.endswith("PRIVATE_KEY"):
        return _link_key_pair()[0]
    if key.endswith("PUBLIC_KEY"):
        return _link_key_pair()[1]
    if key == "MONGODB_URI":
        return "mongodb://koo-suite:k8s-placeholder@mongo-0.example:27017/?replicaSet=rs0&authSource=admin"
    return f"k8s-placeholder-{key.lower().replace('_', '-')}"


def _environment(service: str) -> dict[str, str]:
    """The container's environment as the kubelet builds it: envFrom first, then env (which wins); values
    from Secrets replaced by placeholders (the real ones live in the secret store)."""
    container = _container(service)
    configmaps = _sources("ConfigMap")
    environment: dict[str, str] = {}
    for source in container.get("envFrom", []):
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            data = configmaps.get(source["configMapRef"]["name"], {})
            environment.update({prefix + key: value for key, value in data.items()})
        if "secretRef" in source:
            keys = _sources("Secret").get(source["secretRef"]["name"], {})
            environment.update({prefix + key: _secret_placeholder(key) for key in keys})
    for name, entry in _env(container).items():
        value_from = entry.get("valueFrom", {})
        if "secretKeyRef" in value_from:
            environment[name] = _secret_placeholder(value_from["secretKeyRef"]["key"])
        elif "configMapKeyRef" in value_from:
            ref = value_from["configMapKeyRef"]
            environment[name] = configmaps.get(ref["name"], {}).get(ref["key"], "")
        else:
            environment[name] = str(entry.get("value", ""))
    return environment


def _settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"services.{service}.settings")
    found = [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, ServiceSettings) and v.__module__ == module.__name__
    ]
    assert len(found) == 1, f"services/{service}/settings.py: expected one ServiceSettings subclass"
    return found[0]


def _variables_read(cls: type[ServiceSettings]) -> set[str]:
    """The environment variables a settings class reads: its unprefixed aliases (KAFKA_BOOTSTRAP_SERVERS) and,
    for every field, `<PREFIX><FIELD>` (populate_by_name). Case-insensitive, as pydantic-settings reads them."""
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    names = {prefix + name.upper() for name in cls.model_fields}
    names |= {
        f.validation_alias.upper() for f in cls.model_fields.values() if isinstance(f.validation_alias, str)
    }
    return names


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_gets_identity_and_environment_from_the_configmap(service: str) -> None:
    names = _env_names(_container(service))
    for name in CONFIGMAP_SETTINGS:
        assert names.get(name) == "configmap", (
            f"{name} must come from the shared ConfigMap (not set per Deployment)"
        )
    environment = _environment(service)
    assert environment["SUITE_ENV"] == PRODUCTION
    assert environment["OIDC_ISSUER_URL"].startswith("https://")


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_signs_in_to_kafka_as_itself(service: str) -> None:
    env = _env(_container(service))
    password = f"{_prefix(service)}KAFKA_PASSWORD"
    ref = env.get(password, {}).get("valueFrom", {}).get("secretKeyRef")
    assert ref, f"{password} must come from a Secret (secretKeyRef)"
    assert ref["key"] == password, f"{password} must be this service's own key, not {ref['key']!r}"
    assert not ref.get("optional"), "without its password the service cannot reach Kafka: not optional"
    user = env.get(f"{_prefix(service)}KAFKA_USERNAME", {}).get("value", service)
    assert user == service, (
        "the Kafka user is the service's name: the ACLs' principal (shared/schemas/acl.py)"
    )
    assert user in GRANTS


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_reads_only_its_own_secret_keys(service: str) -> None:
    """Least privilege: a service's pod gets the shared MongoDB URI and its own credentials, no other's."""
    others = tuple(_prefix(other) for other in SERVICES if other != service)
    for kind, name, key, _ in _references(_container(service)):
        if kind == "Secret":
            assert key is not None, (
                f"{service} takes the whole Secret {name!r} (envFrom): name its keys instead"
            )
            assert not key.startswith(others), f"{service} reads another service's secret {key}"


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_mounts_the_kafka_ca(service: str) -> None:
    deployment, container = _deployment(service), _container(service)
    ca_file = PurePosixPath(_environment(service).get("KAFKA_CA_FILE", ""))
    assert ca_file.is_absolute(), "KAFKA_CA_FILE must name the mounted CA bundle"
    mounts = [m for m in container.get("volumeMounts", []) if ca_file.is_relative_to(m["mountPath"])]
    assert len(mounts) == 1, f"no volume is mounted where KAFKA_CA_FILE ({ca_file}) lies"
    mount = mounts[0]
    assert mount.get("readOnly") is True, "the CA bundle is mounted read-only"
    assert "subPath" not in mount, "a subPath mount never sees the CA's renewal"
    relative = ca_file.relative_to(mount["mountPath"]).as_posix()
    volumes = {v["name"]: v for v in _pod_spec(deployment).get("volumes", [])}
    volume = volumes.get(mount["name"], {})
    source = volume.get("secret") or volume.get("configMap")
    assert source, "the CA bundle comes from a Secret or a ConfigMap"
    assert not source.get("optional"), "a missing CA must keep the pod from starting"
    kind, name = ("Secret", source["secretName"]) if "secret" in volume else ("ConfigMap", source["name"])
    items = {item["path"]: item["key"] for item in source.get("items", [])}
    key = items.get(relative) if items else relative
    assert key, f"the volume {mount['name']!r} has no file {relative!r}"
    assert key in _sources(kind).get(name, {}), f"{kind} {name!r} (under deploy/k8s) has no key {key!r}"


def test_configmap_leaves_topic_creation_to_the_admin() -> None:
    values = [v["CREATE_TOPICS"] for v in _sources("ConfigMap").values() if "CREATE_TOPICS" in v]
    assert values == ["false"], "the services' Kafka users have no create rights: CREATE_TOPICS must be false"
    for service in SERVICES:
        assert _environment(service).get("CREATE_TOPICS", "false") == "false", service


def test_notification_talks_to_smtp_over_tls() -> None:
    environment = _environment("notification")
    tls = [environment.get(f"NOTIFICATION_SMTP_{name}", "").lower() for name in ("USE_TLS", "START_TLS")]
    assert "true" in tls, "NOTIFICATION_SMTP_USE_TLS or NOTIFICATION_SMTP_START_TLS must be true"
    for name in ("NOTIFICATION_SMTP_PASSWORD", "NOTIFICATION_TWILIO_AUTH_TOKEN"):
        assert _env_names(_container("notification")).get(name) == "secret", f"{name} must come from a Secret"


def _strings(node: Any) -> Iterator[tuple[str, str]]:
    """Every (name, value) a parsed document sets: mapping entries, `{name, value}` env entries and
    `NAME=value` literals (configMapGenerator, patches), at any depth."""
    if isinstance(node, dict):
        if isinstance(node.get("name"), str) and "value" in node:
            yield node["name"], str(node["value"])
        for key, value in node.items():
            if isinstance(value, (str, int, float, bool)):
                yield str(key), str(value)
            else:
                yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, str) and "=" in node:
        name, _, value = node.partition("=")
        yield name.strip(), value.strip()


YAML_FILES = _yaml_files(K8S)


@pytest.mark.parametrize("path", [pytest.param(p, id=p.relative_to(K8S).as_posix()) for p in YAML_FILES])
def test_no_manifest_relaxes_production(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for word in FORBIDDEN_IN_MANIFESTS:
        assert word.lower() not in text.lower(), f"{word} in a manifest: it is for dev and tests only"
    assert not SUITE_ENV_DEV.search(text), "a manifest must never leave production (SUITE_ENV)"
    for name, value in (pair for doc in _load(path) for pair in _strings(doc)):
        if name.upper() == "SUITE_ENV" or name.upper().endswith("_ENVIRONMENT"):
            assert value == PRODUCTION, f"{name}={value}: a cluster runs with the production checks"
        if value:
            assert value not in DEV_SECRETS, f"{name} holds a dev-default secret"


@pytest.mark.parametrize(
    "path", [pytest.param(p, id=p.relative_to(K8S).as_posix()) for p in sorted(K8S.rglob("*")) if p.is_file()]
)
def test_no_identity_header_anywhere(path: Path) -> None:
    text = path.read_text(encoding="utf-8").lower()
    for word in FORBIDDEN_ANYWHERE:
        assert word.lower() not in text, (
            f"{word}: callers prove who they are with a bearer token, nothing else"
        )


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_sets_only_variables_its_service_reads(service: str) -> None:
    """A misspelt name (ORDERS_KAFKA_PASWORD) would be ignored silently (extra="ignore") and the default used."""
    read = _variables_read(_settings_class(service))
    unread = sorted(name for name in _environment(service) if name.upper() not in read)
    assert not unread, f"{service} does not read {unread}"


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_environment_passes_the_production_check(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The settings a pod would start with (secrets as placeholders) pass the service's own start-up check."""
    cls = _settings_class(service)
    read = _variables_read(cls)
    for name in list(os.environ):  # nothing from the test runner's environment leaks in
        if name.upper() in read:
            monkeypatch.delenv(name)
    environment = _environment(service)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = cls()
    assert not settings.dev, "the Deployment runs in dev mode"
    assert settings.production_problems() == []
    settings.check()
    # The values reached the fields they were meant for (not ignored under a wrong name).
    assert settings.kafka_user == service
    password = settings.kafka_password.get_secret_value()
    assert password == environment[f"{_prefix(service)}KAFKA_PASSWORD"]
    assert password not in DEV_SECRETS
    assert settings.kafka_ca_file == environment["KAFKA_CA_FILE"]
    assert settings.audience == f"koo-{service}"
    assert settings.create_topics is False


def test_private_links_are_signed_by_partner_and_verified_by_orders() -> None:
    partner = _env(_container("partner")).get("PARTNER_PRIVATE_LINK_PRIVATE_KEY", {})
    assert partner.get("valueFrom", {}).get("secretKeyRef"), "the signing key comes from the Secret"
    assert "ORDERS_PRIVATE_LINK_PUBLIC_KEY" in _env_names(_container("orders")), "orders cannot verify links"
    for service in SERVICES:
        if service != "partner":
            assert "PARTNER_PRIVATE_LINK_PRIVATE_KEY" not in _environment(service), (
                f"{service} holds the signing key"
            )


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
    assert {r["name"]: r["count"] for r in kustomization.get("replicas", [])} == dict.fromkeys(DEPLOYMENTS, 1)
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
    result = subprocess.run(
        [kubectl, "kustomize", str(path.parent)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    rendered = _load_text(result.stdout)
    for body in rendered:
        _validate(body, f"rendered {body.get('kind')}/{body.get('metadata', {}).get('name')}")
        assert body["kind"] != "Secret", "the Secret comes from the secret store, not from the kustomization"
    deployments = {b["metadata"]["name"]: b for b in rendered if b["kind"] == "Deployment"}
    assert sorted(deployments) == (sorted(DEPLOYMENTS) if path.parent in APP_KUSTOMIZATIONS else [])
    if path.parent == DEV:
        (overlay,) = _load(path)
        tag = overlay["images"][0]["newTag"]
        for deployment in deployments.values():
            assert deployment["spec"]["replicas"] == 1
            assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith(f":{tag}")
