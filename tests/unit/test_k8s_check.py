"""`make k8s-check` catches what it promises to: unknown fields in custom resources, unpinned images, missing
probes or resources, root containers, alerts without a runbook, and kinds it has no schema for."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstack import k8s_check
from devstack.k8s_schemas import from_crd, strict

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "deploy" / "k8s" / "base"
TOPICS = ROOT / "deploy" / "k8s" / "platform" / "kafka" / "topics.yaml"


def _first(path: Path, kind: str) -> dict[str, Any]:
    doc: dict[str, Any] = next(
        d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d["kind"] == kind
    )
    return copy.deepcopy(doc)


def _deployment() -> dict[str, Any]:
    return _first(BASE / "orders.yaml", "Deployment")


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return container


def test_committed_topic_and_deployment_pass() -> None:
    assert k8s_check.schema_problems(_first(TOPICS, "KafkaTopic")) == []
    assert k8s_check.schema_problems(_deployment()) == []
    assert k8s_check.policy_problems(_deployment()) == []


def test_kafka_topic_with_an_unknown_field_is_refused() -> None:
    topic = _first(TOPICS, "KafkaTopic")
    topic["spec"]["replicationFactor"] = 3  # Strimzi calls it `replicas`
    (problem,) = k8s_check.schema_problems(topic)
    assert problem.startswith("spec:")
    assert "replicationFactor" in problem


def test_kafka_topic_with_a_wrong_type_is_refused() -> None:
    topic = _first(TOPICS, "KafkaTopic")
    topic["spec"]["partitions"] = "six"
    assert [p for p in k8s_check.schema_problems(topic) if p.startswith("spec.partitions:")]


def test_core_kind_with_an_unknown_field_is_refused() -> None:
    deployment = _deployment()
    _container(deployment)["livenessProb"] = {}
    problems = k8s_check.schema_problems(deployment)
    assert problems
    assert "livenessProb" in problems[0]


def test_a_kind_without_a_schema_is_an_error_not_a_pass() -> None:
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}
    (problem,) = k8s_check.schema_problems(unknown)
    assert "no schema for example.com/v1 Widget" in problem


@pytest.mark.parametrize("image", ["koo-suite:latest", "koo-suite", "registry:5000/koo-suite"])
def test_an_unpinned_image_is_refused(image: str) -> None:
    deployment = _deployment()
    _container(deployment)["image"] = image
    problems = k8s_check.policy_problems(deployment)
    assert any("latest" in p or "no tag" in p for p in problems), problems


def test_a_digest_pins_an_image() -> None:
    deployment = _deployment()
    _container(deployment)["image"] = "koo-suite@sha256:" + "0" * 64
    assert k8s_check.policy_problems(deployment) == []


@pytest.mark.parametrize("probe", ["livenessProbe", "readinessProbe"])
def test_a_container_without_probes_is_refused(probe: str) -> None:
    deployment = _deployment()
    del _container(deployment)[probe]
    assert k8s_check.policy_problems(deployment) == [f"container orders: no {probe}"]


def test_a_container_without_resources_is_refused() -> None:
    deployment = _deployment()
    del _container(deployment)["resources"]["limits"]
    del _container(deployment)["resources"]["requests"]["cpu"]
    assert k8s_check.policy_problems(deployment) == [
        "container orders: resources requests.cpu, limits.memory not set"
    ]


def test_a_root_or_escalating_container_is_refused() -> None:
    deployment = _deployment()
    pod = deployment["spec"]["template"]["spec"]
    del pod["securityContext"]["runAsNonRoot"]
    del _container(deployment)["securityContext"]["runAsNonRoot"]
    _container(deployment)["securityContext"]["allowPrivilegeEscalation"] = True
    assert k8s_check.policy_problems(deployment) == [
        "container orders: runAsNonRoot is not true",
        "container orders: allowPrivilegeEscalation is not false",
    ]


def test_an_alert_must_name_an_existing_runbook() -> None:
    rule = _first(BASE / "monitoring.yaml", "PrometheusRule")
    alert = rule["spec"]["groups"][0]["rules"][0]
    count, problems = k8s_check.alert_problems(rule)
    assert count >= 6
    assert problems == []
    alert["annotations"]["runbook_url"] = "https://example.com/docs/runbooks/no-such-page.md"
    del alert["labels"]["severity"]
    _, problems = k8s_check.alert_problems(rule)
    assert problems == [
        f"alert {alert['alert']}: runbook docs/runbooks/no-such-page.md does not exist",
        f"alert {alert['alert']}: no severity label",
    ]


def test_conversion_closes_objects_unless_the_crd_preserves_unknown_fields() -> None:
    schema = strict(
        {
            "type": "object",
            "description": "dropped",
            "properties": {
                "spec": {"type": "object", "properties": {"a": {"type": "string", "nullable": True}}},
                "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "port": {
                    "x-kubernetes-int-or-string": True,
                    "anyOf": [{"type": "integer"}, {"type": "string"}],
                },
            },
        }
    )
    assert "description" not in schema
    assert schema["additionalProperties"] is False
    assert schema["properties"]["spec"]["additionalProperties"] is False
    assert schema["properties"]["spec"]["properties"]["a"]["type"] == ["string", "null"]
    assert "additionalProperties" not in schema["properties"]["config"]
    assert schema["properties"]["port"]["type"] == ["integer", "string"]


def test_conversion_keeps_served_versions_only() -> None:
    version = {"schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object"}}}}}
    crd = {
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget"},
            "versions": [version | {"name": "v1"}, version | {"name": "v0", "served": False}],
        }
    }
    schemas = from_crd(crd)
    assert list(schemas) == [("example.com", "v1", "Widget")]
    assert schemas[("example.com", "v1", "Widget")]["properties"]["apiVersion"] == {
        "enum": ["example.com/v1"]
    }


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl renders the kustomizations")
def test_the_repository_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert k8s_check.main([]) == 0
    out = capsys.readouterr().out
    assert "k8s-check overlays/prod:" in out
    assert "k8s-check overlays/dev:" in out


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl renders the kustomizations")
def test_a_bad_overlay_fails_naming_the_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    overlay = tmp_path / "deploy" / "k8s" / "overlays" / "bad"
    overlay.mkdir(parents=True)
    deployment = _deployment()
    _container(deployment)["image"] = "koo-suite:latest"
    topic = _first(TOPICS, "KafkaTopic")
    topic["spec"]["partitionCount"] = 6
    (overlay / "objects.yaml").write_text(yaml.safe_dump_all([deployment, topic]), encoding="utf-8")
    (overlay / "kustomization.yaml").write_text("resources: [objects.yaml]\n", encoding="utf-8")
    monkeypatch.setattr(k8s_check, "K8S", tmp_path / "deploy" / "k8s")
    monkeypatch.setattr(k8s_check, "ROOT", tmp_path)
    monkeypatch.setattr(k8s_check.k8s_manifests, "files", lambda: {})
    assert k8s_check.main([]) == 1
    err = capsys.readouterr().err
    assert "Deployment/koo-suite/orders: container orders: image 'koo-suite:latest' is tagged latest" in err
    assert "partitionCount" in err
