"""Test layers follow the folders (unit, service, integration, e2e); the real-infrastructure layers start what
they need: Kafka from the pinned jars and SecantusDB, unless KAFKA_BOOTSTRAP_SERVERS / MONGODB_URI point at an
existing cluster, or TESTCONTAINERS=1 asks for containers on a Docker engine."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from shared.platform.settings import ServiceSettings
from tests.identity import IdentityProvider

REPO = Path(__file__).resolve().parent.parent
LAYERS = ("unit", "service", "integration", "e2e")
S = TypeVar("S", bound=ServiceSettings)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        layer = Path(str(item.fspath)).relative_to(REPO / "tests").parts[0]
        if layer in LAYERS:
            item.add_marker(getattr(pytest.mark, layer))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Counts per layer, so a run shows at a glance that the real-infrastructure layers ran."""
    counts: dict[str, dict[str, int]] = {layer: {} for layer in LAYERS}
    for outcome in ("passed", "failed", "skipped", "error", "xfailed", "xpassed"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "when", "call") not in ("call", "setup") or not hasattr(report, "nodeid"):
                continue
            if outcome == "passed" and report.when != "call":
                continue
            parts = report.nodeid.split("/")
            if len(parts) > 1 and parts[0] == "tests" and parts[1] in counts:
                counts[parts[1]][outcome] = counts[parts[1]].get(outcome, 0) + 1
    terminalreporter.section("tests per layer")
    for layer, by_outcome in counts.items():
        summary = ", ".join(f"{n} {o}" for o, n in sorted(by_outcome.items())) or "none collected"
        terminalreporter.write_line(f"{layer:<12} {summary}")


@dataclass(frozen=True)
class Infra:
    """The session's broker, database and identity provider, with the credentials a test needs to use them."""

    bootstrap: str
    mongo_uri: str
    state: Path
    stack: Any = None  # the devstack Stack that started them (restart tests use it)

    @property
    def issuer(self) -> str:
        return str(self.stack.issuer)

    @property
    def idp(self) -> IdentityProvider:
        return _idp(self.stack)

    @property
    def kafka_users(self) -> dict[str, str]:
        return dict(self.stack.kafka_users)

    def kafka_client(self, user: str = "admin") -> dict[str, Any]:
        """aiokafka connection arguments as `user` (the broker admin by default: tests read and poison topics)."""
        return dict(self.stack.kafka_client(user))

    def provision(self, namespace: str) -> None:
        self.stack.provision(namespace)  # a no-op without a broker admin (the services then create topics)

    def settings(self, cls: type[S], namespace: str, **extra: Any) -> S:
        """A service's settings on this stack: its own Kafka user, the issuer, a database of the namespace."""
        name = cls.model_fields["service_name"].default
        base: dict[str, Any] = {
            "environment": "dev",
            "kafka_bootstrap_servers": self.bootstrap,
            "mongodb_uri": self.mongo_uri,
            "topic_namespace": namespace,
            "mongodb_database": f"{namespace}_{name}",
            "oidc_issuer_url": self.issuer,
            "consumer_backoff_seconds": 0.05,
            "relay_poll_seconds": 0.1,
        }
        if self.stack.kafka_users:
            base |= {
                "kafka_security_protocol": "SASL_PLAINTEXT",
                "kafka_password": self.stack.kafka_users[name],
            }
        else:
            base["create_topics"] = True
        return cls(**{**base, **extra})


_IDPS: dict[int, IdentityProvider] = {}


def _idp(stack: Any) -> IdentityProvider:
    if id(stack) not in _IDPS:
        _IDPS[id(stack)] = IdentityProvider(stack.keycloak)
    return _IDPS[id(stack)]


def _docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    """Kafka (SASL/SCRAM, ACLs), SecantusDB and Keycloak, started from the repo's pinned artifacts.

    With TESTCONTAINERS=1 and a Docker engine, the broker (without authentication, so without ACLs) and the
    database come from containers instead; the identity provider still comes from devstack. This machine has no
    Docker engine, so that path has not been run here.
    """
    state = tmp_path_factory.mktemp("stack")
    from devstack.stack import Ports, Stack

    stack = Stack(state, Ports.free())
    if os.environ.get("TESTCONTAINERS") == "1" and _docker_available():
        from testcontainers.kafka import KafkaContainer
        from testcontainers.mongodb import MongoDbContainer

        with (
            KafkaContainer().with_kraft() as kafka,
            MongoDbContainer("mongo:8.0").with_command("--replSet rs0 --bind_ip_all") as mongo,
        ):
            mongo.exec(["mongosh", "--quiet", "--eval", "rs.initiate()"])
            stack.bootstrap = kafka.get_bootstrap_server()
            stack.mongo_uri = mongo.get_connection_url() + "/?directConnection=true"
            try:
                stack.start_infra_with_cache(REPO / ".devstack" / "cache")
                yield Infra(stack.bootstrap, stack.mongo_uri, state, stack)
            finally:
                stack.stop()
        return
    try:
        # Jars are cached in the repo's .devstack (from Maven's own cache); Keycloak in the cache outside it.
        stack.start_infra_with_cache(REPO / ".devstack" / "cache")
        yield Infra(stack.bootstrap, stack.mongo_uri, state, stack)
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def idp(infra: Infra) -> IdentityProvider:
    return infra.idp


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> str:
    """A fresh topic namespace and database prefix: tests on one broker never see each other's events.

    On the real stack the broker admin creates the namespace's topics and the services' ACLs on them first."""
    name = f"t{uuid.uuid4().hex[:10]}"
    if "infra" in request.fixturenames:
        request.getfixturevalue("infra").provision(name)
    return name
