"""What the platform manifests promise, read back from the rendered production overlay and checked against the code.

The Kafka topics and users and the KEDA scalers are generated from shared/schemas (devstack/k8s_manifests.py):
a committed file that differs from the generator fails here, so a new topic or grant cannot be forgotten. The
rest is checked against the same sources the services use: GRANTS for the ACLs, the services' OpenAPI
contracts for the routes, the metric names for the alerts.
"""

from __future__ import annotations

import json
import shutil
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from devstack import k8s_manifests
from devstack.k8s_check import RUNBOOK_URL, RUNBOOKS, render
from shared.schemas import TOPICS, dead_letter
from shared.schemas.acl import GRANTS

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
CONTRACTS = ROOT / "docs" / "contracts"
SERVICES = tuple(GRANTS)
HTTP_PORT = 8080
NOT_PUBLIC = ("/healthz", "/readyz", "/metrics", "/asyncapi.json")

needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl renders the overlays")


@cache
def _prod() -> tuple[dict[str, Any], ...]:
    return tuple(render(K8S / "overlays" / "prod"))


def _kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in _prod() if d["kind"] == kind]


def _one(kind: str, name: str) -> dict[str, Any]:
    found = [d for d in _kind(kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name!r}, found {len(found)}"
    return found[0]


def _config() -> dict[str, str]:
    data: dict[str, str] = _one("ConfigMap", "koo-suite-config")["data"]
    return data


# --- generated files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(k8s_manifests.files()), ids=lambda p: p.relative_to(K8S).as_posix())
def test_generated_manifest_is_up_to_date(path: Path) -> None:
    assert path.is_file(), f"{path} is missing: run python -m devstack.k8s_manifests"
    assert path.read_text(encoding="utf-8") == k8s_manifests.files()[path], (
        f"{path.relative_to(ROOT)} differs from shared/schemas: run python -m devstack.k8s_manifests"
    )


def test_generator_check_mode_reports_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "topics.yaml"
    stale.write_text("# an old copy\n", encoding="utf-8")
    monkeypatch.setattr(k8s_manifests, "files", lambda: {stale: "# the new text\n"})
    monkeypatch.setattr(k8s_manifests, "ROOT", tmp_path)
    assert k8s_manifests.main(["--check"]) == 1
    assert stale.read_text(encoding="utf-8") == "# an old copy\n", "--check must not write"
    assert k8s_manifests.main([]) == 0
    assert stale.read_text(encoding="utf-8") == "# the new text\n"


# --- Kafka ----------------------------------------------------------------------------------------------


@needs_kubectl
def test_every_topic_and_its_dead_letter_twin_is_declared() -> None:
    topics = {t["spec"]["topicName"]: t for t in _kind("KafkaTopic")}
    expected = {str(t) for t in TOPICS} | {dead_letter(t) for t in TOPICS}
    assert set(topics) == expected
    partitions = int(_config()["TOPIC_PARTITIONS"])
    for name, topic in topics.items():
        spec = topic["spec"]
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "koo-kafka", name
        assert spec["partitions"] == partitions, name
        assert spec["replicas"] == int(_config()["TOPIC_REPLICATION"]) == 3, name
        assert int(spec["config"]["min.insync.replicas"]) == 2, name
        assert int(spec["config"]["retention.ms"]) > 0, name


@needs_kubectl
def test_production_leaves_topic_creation_to_the_operator() -> None:
    assert _config()["CREATE_TOPICS"] == "false"
    kafka = _one("Kafka", "koo-kafka")
    assert kafka["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False


@needs_kubectl
def test_kafka_runs_kraft_with_controller_and_broker_pools() -> None:
    pools = {p["metadata"]["name"]: p["spec"] for p in _kind("KafkaNodePool")}
    roles = sorted(tuple(p["roles"]) for p in pools.values())
    assert roles == [("broker",), ("controller",)]
    assert all(p["replicas"] == 3 for p in pools.values())
    spec = _one("Kafka", "koo-kafka")["spec"]
    assert "zookeeper" not in spec
    listeners = {listener["port"]: listener for listener in spec["kafka"]["listeners"]}
    tls = listeners[9093]
    assert tls["tls"] is True
    assert tls["authentication"]["type"] == "scram-sha-512"
    assert spec["kafka"]["authorization"]["type"] == "simple"
    assert "kafkaExporter" in spec
    assert "entityOperator" in spec
    bootstrap = _config()["KAFKA_BOOTSTRAP_SERVERS"]
    assert bootstrap == k8s_manifests.BOOTSTRAP, "the services and KEDA must use the same listener"


@needs_kubectl
@pytest.mark.parametrize("service", SERVICES)
def test_kafka_user_carries_exactly_the_grants(service: str) -> None:
    spec = _one("KafkaUser", service)["spec"]
    assert spec["authentication"]["type"] == "scram-sha-512"
    assert spec["authorization"]["type"] == "simple"
    grants = GRANTS[service]
    ops: dict[tuple[str, str | None, str | None], set[str]] = {}
    for acl in spec["authorization"]["acls"]:
        assert acl.get("type", "allow") == "allow"
        resource = acl["resource"]
        key = (resource["type"], resource.get("name"), resource.get("patternType"))
        ops.setdefault(key, set()).update(acl["operations"])
    writes = {name for (kind, name, _), o in ops.items() if kind == "topic" and "Write" in o}
    reads = {name for (kind, name, _), o in ops.items() if kind == "topic" and "Read" in o}
    assert writes == set(grants.writes())
    assert reads == set(grants.reads())
    assert all(pattern == "literal" for kind, _, pattern in ops if kind == "topic")
    groups = {(name, pattern): o for (kind, name, pattern), o in ops.items() if kind == "group"}
    assert groups == {(f"{service}.", "prefix"): {"Read"}}
    assert ops[("cluster", None, None)] == {"IdempotentWrite"}
    assert not any({"Create", "Delete", "Alter", "All"} & o for o in ops.values()), "no admin rights"


# --- KEDA -----------------------------------------------------------------------------------------------


@needs_kubectl
@pytest.mark.parametrize("service", SERVICES)
def test_scaled_object_scales_on_the_service_consumer_groups(service: str) -> None:
    spec = _one("ScaledObject", service)["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": service}
    assert spec["minReplicaCount"] >= 2
    assert spec["maxReplicaCount"] == int(_config()["TOPIC_PARTITIONS"])
    groups = {t["metadata"]["consumerGroup"]: t for t in spec["triggers"]}
    assert set(groups) == {f"{service}.{topic}" for topic in GRANTS[service].consumes}
    for group, trigger in groups.items():
        metadata = trigger["metadata"]
        assert trigger["type"] == "kafka"
        assert group == f"{service}.{metadata['topic']}"
        assert int(metadata["lagThreshold"]) > 0
        assert metadata["sasl"] == "scram_sha512"
        assert metadata["tls"] == "enable"
        assert metadata["bootstrapServers"] == _config()["KAFKA_BOOTSTRAP_SERVERS"]
        assert trigger["authenticationRef"]["name"] == f"{service}-kafka"


@needs_kubectl
@pytest.mark.parametrize("service", SERVICES)
def test_trigger_authentication_uses_the_service_own_credentials(service: str) -> None:
    spec = _one("TriggerAuthentication", f"{service}-kafka")["spec"]
    refs = {r["parameter"]: r for r in spec["secretTargetRef"]}
    assert refs["password"]["key"] == f"{service.upper()}_KAFKA_PASSWORD"
    deployment = _one("Deployment", service)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert (
        env[f"{service.upper()}_KAFKA_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"]
        == refs["password"]["name"]
    )
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert refs["ca"]["name"] == volumes["kafka-ca"]["secret"]["secretName"]
    (username,) = spec["env"]
    assert username == {
        "parameter": "username",
        "name": f"{service.upper()}_KAFKA_USERNAME",
        "containerName": service,
    }
    assert env[username["name"]]["value"] == service


# --- network policies -----------------------------------------------------------------------------------


def _ports(rules: list[dict[str, Any]]) -> set[int]:
    return {int(p["port"]) for rule in rules for p in rule.get("ports", [])}


@needs_kubectl
def test_namespace_denies_by_default() -> None:
    deny = _one("NetworkPolicy", "default-deny")["spec"]
    assert deny["podSelector"] == {}
    assert sorted(deny["policyTypes"]) == ["Egress", "Ingress"]
    assert "ingress" not in deny
    assert "egress" not in deny


@needs_kubectl
@pytest.mark.parametrize("service", SERVICES)
def test_service_policy_allows_only_what_it_needs(service: str) -> None:
    spec = _one("NetworkPolicy", service)["spec"]
    assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == service
    sources = {
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for rule in spec["ingress"]
        for peer in rule["from"]
    }
    assert sources == {"gateway", "monitoring"}
    assert _ports(spec["ingress"]) == {HTTP_PORT}
    expected = {53, 9093, 27017, 8080} | {"notification": {587, 465, 443}, "partner": {443}}.get(
        service, set()
    )
    assert _ports(spec["egress"]) == expected
    for rule in spec["egress"]:
        for peer in rule["to"]:
            if "ipBlock" in peer:  # outside the cluster only
                assert peer["ipBlock"]["cidr"] == "0.0.0.0/0"
                assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"} <= set(peer["ipBlock"]["except"])


# --- routes ---------------------------------------------------------------------------------------------


def _public_paths(service: str) -> set[str]:
    document = json.loads((CONTRACTS / f"{service}.openapi.json").read_text(encoding="utf-8"))
    return {p for p in document["paths"] if not p.startswith(NOT_PUBLIC)}


@needs_kubectl
@pytest.mark.parametrize("service", SERVICES)
def test_route_serves_the_public_api_and_nothing_else(service: str) -> None:
    route = _one("HTTPRoute", service)["spec"]
    assert {(p["kind"], p["name"]) for p in route["parentRefs"]} == {("Gateway", "koo-gateway")}
    prefixes = []
    for rule in route["rules"]:
        assert rule["backendRefs"] == [{"name": service, "port": 80}]
        prefixes += [m["path"]["value"] for m in rule["matches"]]
    assert not any(p.startswith(OPEN) for p in prefixes), "the open API has its own route"
    for path in _public_paths(service) - _open_paths(service):
        assert any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes), (
            f"{path} is not routed"
        )
    for private in NOT_PUBLIC:
        assert not any(private.startswith(p.rstrip("/") + "/") or private == p for p in prefixes), private
    if service == "notification":
        assert "/callbacks/sms/" in prefixes, "Twilio's status callbacks reach notification"
    gateway = _one("Gateway", "koo-gateway")
    assert gateway["metadata"]["namespace"] == route["parentRefs"][0]["namespace"]


OPEN = "/open/"  # partner's merchant-signed open API: a route and a policy of its own


def _open_paths(service: str) -> set[str]:
    return {p for p in _public_paths(service) if p.startswith(OPEN)}


@needs_kubectl
def test_the_merchant_signed_open_api_has_its_own_route_and_gateway_ingress() -> None:
    assert _open_paths("partner"), "partner serves its open API under /open/"
    route = _one("HTTPRoute", "partner-open")["spec"]
    assert route["hostnames"] != _one("HTTPRoute", "partner")["spec"]["hostnames"]
    [rule] = route["rules"]
    assert rule["backendRefs"] == [{"name": "partner", "port": 80}]
    assert [m["path"] for m in rule["matches"]] == [{"type": "PathPrefix", "value": OPEN}]
    policy = _one("NetworkPolicy", "partner-open")["spec"]
    assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "partner"
    [ingress] = policy["ingress"]
    assert [p["namespaceSelector"]["matchLabels"] for p in ingress["from"]] == [
        {"kubernetes.io/metadata.name": "gateway"}
    ]
    assert _ports(policy["ingress"]) == {HTTP_PORT}
    assert "egress" not in policy


# --- metrics and alerts ---------------------------------------------------------------------------------

ALERTED_METRICS = (
    "kafka_consumergroup_lag",
    "koo_dead_letters_total",
    "koo_outbox_pending",
    "koo_deliveries_total",
    "koo_worker_quarantined",
    "koo_token_verification_failures_total",
)


@needs_kubectl
def test_service_monitor_scrapes_every_service_metrics() -> None:
    monitor = _one("ServiceMonitor", "koo-suite")["spec"]
    assert monitor["endpoints"] == [e | {"port": "http", "path": "/metrics"} for e in monitor["endpoints"]]
    selector = monitor["selector"]["matchLabels"]
    for service in SERVICES:
        labels = _one("Service", service)["metadata"]["labels"]
        assert selector.items() <= labels.items(), f"the ServiceMonitor misses {service}"
        assert "http" in {p["name"] for p in _one("Service", service)["spec"]["ports"]}


@needs_kubectl
@pytest.mark.parametrize("metric", ALERTED_METRICS)
def test_an_alert_with_a_runbook_watches(metric: str) -> None:
    rules = [
        r for d in _kind("PrometheusRule") for g in d["spec"]["groups"] for r in g["rules"] if "alert" in r
    ]
    watching = [r for r in rules if metric in r["expr"]]
    assert watching, f"no alert on {metric}"
    for rule in watching:
        match = RUNBOOK_URL.search(rule["annotations"]["runbook_url"])
        assert match, rule["alert"]
        assert (RUNBOOKS / match["name"]).is_file(), rule["alert"]


# --- MongoDB and Keycloak -------------------------------------------------------------------------------


@needs_kubectl
def test_mongodb_is_a_replica_set_whose_secret_feeds_mongodb_uri() -> None:
    spec = _one("MongoDBCommunity", "koo-mongodb")["spec"]
    assert spec["type"] == "ReplicaSet"
    assert spec["members"] == 3
    (user,) = spec["users"]
    assert {r["db"] for r in user["roles"]} == set(SERVICES)
    assert user["connectionStringSecretNamespace"] == "koo-suite"
    for service in SERVICES:
        (container,) = _one("Deployment", service)["spec"]["template"]["spec"]["containers"]
        ref = {e["name"]: e for e in container["env"]}["MONGODB_URI"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": user["connectionStringSecretName"], "key": "connectionString.standard"}


@needs_kubectl
def test_keycloak_imports_the_realm_the_issuer_names() -> None:
    realm_import = _one("KeycloakRealmImport", "koogallery")["spec"]
    assert realm_import["keycloakCRName"] == _one("Keycloak", "koo-keycloak")["metadata"]["name"]
    realm = realm_import["realm"]
    issuer = _config()["OIDC_ISSUER_URL"]
    assert issuer.endswith(f"/realms/{realm['realm']}")
    # The pods read the discovery document from the Keycloak Service (backchannel), inside the cluster.
    discovery = _config()["OIDC_DISCOVERY_URL"]
    assert discovery.startswith("http://koo-keycloak-service.keycloak.svc")
    assert discovery.endswith(f"/realms/{realm['realm']}/.well-known/openid-configuration")
    roles = {r["name"] for r in realm["roles"]["realm"]}
    assert roles == {"buyer", "merchant", "provider", "operator", "payment-system"}
    audiences = {
        m["config"]["included.custom.audience"]
        for c in realm["clients"]
        for m in c.get("protocolMappers", [])
    }
    assert audiences == {f"koo-{s}" for s in SERVICES}
    assert not any("secret" in c for c in realm["clients"]), "no client secret in the repository"
    assert all(u["username"].startswith("service-account-") for u in realm.get("users", [])), "no people"
