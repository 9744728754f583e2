"""Test layers follow the folders (unit, service, integration, e2e); the real-infrastructure layers get what they
need from, in this order (`plan_infra`): KAFKA_BOOTSTRAP_SERVERS / MONGODB_URI / OIDC_ISSUER_URL pointing at an
existing broker, database or issuer; else containers on a Docker engine, when one answers (testcontainers: Kafka
in KRaft mode with SCRAM and ACLs, MongoDB as a one-member replica set); else devstack (Kafka from the pinned
jars, SecantusDB). Keycloak comes from devstack unless OIDC_ISSUER_URL is set. TESTCONTAINERS=0 never uses
containers; TESTCONTAINERS=1 insists on them (and fails without a Docker engine)."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import pytest

from shared.platform.settings import ServiceSettings
from tests.identity import IdentityProvider

REPO = Path(__file__).resolve().parent.parent
LAYERS = ("unit", "service", "integration", "e2e", "browser")
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


Source = Literal["env", "containers", "devstack"]
_YES, _NO = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class InfraPlan:
    """Where the session's broker, database and identity provider come from."""

    kafka: Source
    mongo: Source
    identity: Literal["env", "devstack"]


def plan_infra(env: Mapping[str, str], docker_available: Callable[[], bool]) -> InfraPlan:
    """Explicit endpoints win; else a Docker engine means containers; else devstack. Docker is asked only when a
    part is left to choose, and TESTCONTAINERS (0/1) overrides the question."""
    wanted = env.get("TESTCONTAINERS", "").strip().lower()
    if wanted not in ("", *_YES, *_NO):
        raise ValueError(f"TESTCONTAINERS={env['TESTCONTAINERS']!r}: use 1 (containers) or 0 (devstack)")
    kafka: Source | None = "env" if env.get("KAFKA_BOOTSTRAP_SERVERS") else None
    mongo: Source | None = "env" if env.get("MONGODB_URI") else None
    identity: Literal["env", "devstack"] = "env" if env.get("OIDC_ISSUER_URL") else "devstack"
    fallback: Source = "devstack"
    if (kafka is None or mongo is None) and wanted not in _NO:
        if docker_available():
            fallback = "containers"
        elif wanted in _YES:
            raise RuntimeError(
                "TESTCONTAINERS=1, but no Docker engine answers (DOCKER_HOST or the local socket)"
            )
    return InfraPlan(kafka or fallback, mongo or fallback, identity)


def docker_available() -> bool:
    """A Docker engine answers a ping (the engine testcontainers would use: DOCKER_HOST or the local socket)."""
    try:
        import docker

        client = docker.from_env(timeout=5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no SDK, no socket, no answer: all mean "no engine"
        return False


# Kafka 3.9 in Confluent's image, the one testcontainers' KafkaContainer drives (its KRaft mode included).
KAFKA_IMAGE = "confluentinc/cp-kafka:7.9.0"
MONGO_IMAGE = "mongo:8.0.12"
# The listener published to the host; BROKER (inter-broker) and CONTROLLER stay inside the container.
KAFKA_LISTENER = "CLIENT"


def kafka_container_env(admin_password: str) -> dict[str, str]:
    """The broker as devstack runs it: SCRAM-SHA-512 on the client listener, KRaft's StandardAuthorizer, nothing
    allowed without an ACL, the admin the only super user besides the container-internal listeners' anonymous
    principal (the inter-broker and controller listeners are not published). Confluent's image turns KAFKA_X_Y
    into x.y (`___` into `-`)."""
    return {
        f"KAFKA_LISTENER_NAME_{KAFKA_LISTENER}_SASL_ENABLED_MECHANISMS": "SCRAM-SHA-512",
        f"KAFKA_LISTENER_NAME_{KAFKA_LISTENER}_SCRAM___SHA___512_SASL_JAAS_CONFIG": (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        ),
        "KAFKA_AUTHORIZER_CLASS_NAME": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "KAFKA_SUPER_USERS": "User:admin;User:ANONYMOUS",
        "KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND": "false",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
        "KAFKA_NUM_PARTITIONS": "6",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
    }


def with_admin_scram(boot_command: str, admin_password: str) -> str:
    """KafkaContainer's KRaft boot script formats the storage; the admin's SCRAM credential must be added there,
    before the broker starts (SCRAM users live in the cluster metadata)."""
    fmt = re.compile(r"(kafka-storage format [^\n']*-c /etc/kafka/kafka\.properties)")
    if len(fmt.findall(boot_command)) != 1:
        raise RuntimeError(
            "testcontainers' KRaft boot script changed: cannot add the admin's SCRAM credential"
        )
    return fmt.sub(rf'\1 --add-scram "SCRAM-SHA-512=[name=admin,password={admin_password}]"', boot_command)


def start_kafka_container(containers: contextlib.ExitStack) -> tuple[str, str]:
    """(bootstrap, admin password) of a KRaft broker in a container, stopped when `containers` closes."""
    from testcontainers.community.kafka import KafkaContainer

    password = secrets.token_hex(16)

    class ScramKafka(KafkaContainer):
        def _configure_kraft(self) -> None:
            super()._configure_kraft()
            self.boot_command = with_admin_scram(self.boot_command, password)

    kafka = ScramKafka(KAFKA_IMAGE, listener_name=KAFKA_LISTENER, security_protocol="SASL_PLAINTEXT")
    for key, value in kafka_container_env(password).items():
        kafka.with_env(key, value)
    containers.enter_context(kafka.with_kraft())
    return kafka.get_bootstrap_server(), password


def start_mongo_container(containers: contextlib.ExitStack) -> str:
    """A one-member replica set without root credentials (a keyfile would be needed with them), initiated so
    that transactions work; the URI connects to the member directly, as the member names itself localhost."""
    from pymongo import MongoClient
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    from devstack.procs import wait_until

    mongo = (
        DockerContainer(MONGO_IMAGE)
        .with_command("--replSet rs0 --bind_ip_all")
        .with_exposed_ports(27017)
        .waiting_for(LogMessageWaitStrategy(re.compile("waiting for connections", re.IGNORECASE)))
    )
    containers.enter_context(mongo)
    uri = f"mongodb://{mongo.get_container_host_ip()}:{mongo.get_exposed_port(27017)}/?directConnection=true"
    with MongoClient(uri, serverSelectionTimeoutMS=30_000) as client:
        client.admin.command(
            "replSetInitiate", {"_id": "rs0", "members": [{"_id": 0, "host": "localhost:27017"}]}
        )
        wait_until(lambda: bool(client.admin.command("hello").get("isWritablePrimary")), 60, "mongo primary")
    return uri


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    """The broker, database and identity provider of `plan_infra`: devstack starts what the environment and the
    containers do not provide. Container-started parts (no Docker engine here, so not run on this machine) are
    configured like devstack's: the broker with SCRAM users and ACLs, the database a replica set."""
    state = tmp_path_factory.mktemp("stack")
    from devstack.stack import Ports, Stack

    plan = plan_infra(os.environ, docker_available)
    stack = Stack(state, Ports.free())
    with contextlib.ExitStack() as containers:
        if plan.kafka == "containers":
            stack.bootstrap, stack.kafka_admin_password = start_kafka_container(containers)
        if plan.mongo == "containers":
            stack.mongo_uri = start_mongo_container(containers)
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
