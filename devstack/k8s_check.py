"""`make k8s-check`: render every kustomization under deploy/k8s and validate the objects, offline and strict.

- Core kinds against the Kubernetes schema (kubernetes-validate, strict: an unknown field is an error).
- Custom resources (Strimzi, KEDA, MongoDB Community, Keycloak, Prometheus Operator, Gateway API) against the
  JSON schemas made from their CRDs and kept in deploy/schemas (devstack/k8s_schemas.py); a kind without a
  schema is an error, not a pass.
- Policy on every pod template: a pinned image (a tag other than `latest`, or a digest), resources (CPU and
  memory requests, a memory limit) and liveness and readiness probes on every container, non-root
  (`runAsNonRoot`) and no privilege escalation.
- Every alert names a runbook that exists under docs/runbooks.
- The generated manifests (devstack/k8s_manifests.py) are up to date.

It prints what it checked and exits 1 naming each problem.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from devstack import k8s_manifests
from devstack.k8s_schemas import SCHEMAS, schema_path

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
RUNBOOKS = ROOT / "docs" / "runbooks"
KUBERNETES_VERSION = "1.33.0"
# API groups served by Kubernetes itself (kubernetes-validate knows them); any other is a custom resource.
CORE_GROUPS = frozenset(
    {"", "apps", "batch", "policy", "autoscaling", "networking.k8s.io", "rbac.authorization.k8s.io"}
)
POD_TEMPLATES = {"Deployment": ("spec", "template"), "StatefulSet": ("spec", "template")}
RUNBOOK_URL = re.compile(r"/docs/runbooks/(?P<name>[a-z0-9-]+\.md)$")


@dataclass
class Report:
    documents: int = 0
    core: int = 0
    custom: int = 0
    containers: int = 0
    alerts: int = 0
    problems: list[str] = field(default_factory=list)


def _group(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def _where(doc: dict[str, Any]) -> str:
    meta = doc.get("metadata") or {}
    namespace = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{doc.get('kind')}/{namespace}{meta.get('name')}"


@cache
def _schema(group: str, version: str, kind: str) -> dict[str, Any] | None:
    path = schema_path(group, version, kind)
    if not path.is_file():
        return None
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def _path(parts: Any) -> str:
    return ".".join(str(p) for p in parts) or "<root>"


def schema_problems(doc: dict[str, Any]) -> list[str]:
    """Why a document is not a valid object of its kind ([] when it is)."""
    if not isinstance(doc, dict) or not {"apiVersion", "kind", "metadata"} <= doc.keys():
        return ["not a Kubernetes object (apiVersion, kind and metadata are required)"]
    group, version = _group(str(doc["apiVersion"]))
    if group in CORE_GROUPS:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            return [f"{_path(exc.path)}: {exc.message}"]
        except kubernetes_validate.SchemaNotFoundError as exc:
            return [str(exc.message)]
        return []
    schema = _schema(group, version, str(doc["kind"]))
    if schema is None:
        known = sorted(p.relative_to(SCHEMAS).as_posix() for p in SCHEMAS.rglob("*.json"))
        what = f"{doc['apiVersion']} {doc['kind']}"
        return [f"no schema for {what} in deploy/schemas (have: {', '.join(known)})"]
    validator = jsonschema.Draft4Validator(schema)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    return [f"{_path(e.absolute_path)}: {e.message}" for e in errors]


def is_custom(doc: dict[str, Any]) -> bool:
    return _group(str(doc.get("apiVersion", "")))[0] not in CORE_GROUPS


def _containers(doc: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(pod spec, container) of every container in a pod template."""
    route = POD_TEMPLATES.get(str(doc.get("kind")))
    if route is None:
        return
    node: Any = doc
    for key in route:
        node = (node or {}).get(key)
    spec = (node or {}).get("spec") or {}
    for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
        yield spec, container


def _image_problem(image: str) -> str | None:
    if "@sha256:" in image:
        return None
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:
        return f"image {image!r} has no tag: pin a version"
    if tag == "latest":
        return f"image {image!r} is tagged latest: pin a version"
    return None


def policy_problems(doc: dict[str, Any]) -> list[str]:
    """Pinned images, resources, probes and a non-root security context on every container."""
    problems = []
    for spec, container in _containers(doc):
        name = container.get("name")
        image_problem = _image_problem(str(container.get("image", "")))
        if image_problem:
            problems.append(f"container {name}: {image_problem}")
        resources = container.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        missing = [f"requests.{r}" for r in ("cpu", "memory") if r not in requests]
        missing += ["limits.memory"] if "memory" not in limits else []
        if missing:
            problems.append(f"container {name}: resources {', '.join(missing)} not set")
        if container in spec.get("containers", []):
            for probe in ("livenessProbe", "readinessProbe"):
                if probe not in container:
                    problems.append(f"container {name}: no {probe}")
        pod_ctx, ctx = spec.get("securityContext") or {}, container.get("securityContext") or {}
        if ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")) is not True:
            problems.append(f"container {name}: runAsNonRoot is not true")
        if ctx.get("runAsUser", pod_ctx.get("runAsUser")) == 0:
            problems.append(f"container {name}: runs as user 0")
        if ctx.get("allowPrivilegeEscalation") is not False:
            problems.append(f"container {name}: allowPrivilegeEscalation is not false")
        if ctx.get("privileged"):
            problems.append(f"container {name}: privileged")
    return problems


def alert_problems(doc: dict[str, Any]) -> tuple[int, list[str]]:
    """Every alert has a severity and a runbook_url naming a file under docs/runbooks."""
    if doc.get("kind") != "PrometheusRule":
        return 0, []
    count, problems = 0, []
    for group in (doc.get("spec") or {}).get("groups", []):
        for rule in group.get("rules", []):
            if "alert" not in rule:
                continue
            count += 1
            alert = rule["alert"]
            url = (rule.get("annotations") or {}).get("runbook_url", "")
            match = RUNBOOK_URL.search(url)
            if not match:
                problems.append(f"alert {alert}: runbook_url {url!r} does not name docs/runbooks/<name>.md")
            elif not (RUNBOOKS / match["name"]).is_file():
                problems.append(f"alert {alert}: runbook docs/runbooks/{match['name']} does not exist")
            if not (rule.get("labels") or {}).get("severity"):
                problems.append(f"alert {alert}: no severity label")
    return count, problems


def check_documents(docs: list[dict[str, Any]], report: Report, source: str) -> None:
    for doc in docs:
        report.documents += 1
        where = f"{source}: {_where(doc)}"
        if is_custom(doc):
            report.custom += 1
        else:
            report.core += 1
        report.problems += [f"{where}: {p}" for p in schema_problems(doc)]
        report.containers += sum(1 for _ in _containers(doc))
        report.problems += [f"{where}: {p}" for p in policy_problems(doc)]
        alerts, problems = alert_problems(doc)
        report.alerts += alerts
        report.problems += [f"{where}: {p}" for p in problems]


def kustomizations() -> list[Path]:
    """Every kustomization directory under deploy/k8s, overlays last."""
    dirs = sorted(p.parent for p in K8S.rglob("kustomization.yaml"))
    return sorted(dirs, key=lambda d: (d.parts[len(K8S.parts)] == "overlays", d.as_posix()))


def render(directory: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise RuntimeError("kubectl is required to render the kustomizations (kubectl kustomize)")
    result = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {directory.relative_to(ROOT)} failed: {result.stderr.strip()}")
    return [d for d in yaml.safe_load_all(result.stdout) if d is not None]


def main(argv: list[str]) -> int:
    stale = [
        path.relative_to(ROOT).as_posix()
        for path, text in k8s_manifests.files().items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]
    failed = [f"{name}: out of date, run `python -m devstack.k8s_manifests`" for name in stale]
    for directory in kustomizations():
        name = directory.relative_to(K8S).as_posix()
        report = Report()
        try:
            check_documents(render(directory), report, name)
        except RuntimeError as exc:
            failed.append(str(exc))
            continue
        print(
            f"k8s-check {name}: {report.documents} documents ({report.core} core, {report.custom} custom), "
            f"{report.containers} containers, {report.alerts} alerts: "
            + ("ok" if not report.problems else f"{len(report.problems)} problem(s)")
        )
        failed += report.problems
    for problem in failed:
        print(f"  FAIL {problem}", file=sys.stderr)
    if failed:
        print(f"k8s-check: {len(failed)} problem(s)", file=sys.stderr)
        return 1
    print("k8s-check: every kustomization renders and validates (schemas, policy, runbooks, generated files)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
