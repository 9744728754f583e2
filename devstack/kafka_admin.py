"""The broker admin's work in the dev stack and the tests: service users, topics and ACLs.

In Kubernetes the same is declared as KafkaUser and KafkaTopic resources; here the admin identity does it at
start, so no service needs the right to create a topic or an ACL. confluent-kafka (librdkafka) is used because
its admin client covers SCRAM users and ACLs, which aiokafka's does not.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from shared.schemas import TOPICS, dead_letter
from shared.schemas.acl import GRANTS

ITERATIONS = 8192


def sasl_config(bootstrap: str, user: str, password: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": user,
        "sasl.password": password,
    }


def _wait(futures: Mapping[Any, Future[Any]], ignore: Iterable[str] = ()) -> None:
    for key, future in futures.items():
        try:
            future.result(timeout=30)
        except KafkaException as exc:
            if exc.args[0].name() not in set(ignore):
                raise RuntimeError(f"kafka admin: {key}: {exc}") from exc


class BrokerAdmin:
    def __init__(self, bootstrap: str, admin_password: str) -> None:
        self.bootstrap = bootstrap
        self.client = AdminClient(sasl_config(bootstrap, "admin", admin_password))

    def service_users(self, state: Path) -> dict[str, str]:
        """One SCRAM user per service. Passwords are made once per broker and kept in its state folder."""
        folder = state / "kafka-users"
        folder.mkdir(parents=True, exist_ok=True)
        users: dict[str, str] = {}
        for service in GRANTS:
            secret = folder / f"{service}.secret"
            if not secret.exists():
                secret.write_text(secrets.token_urlsafe(24))
                secret.chmod(0o600)
            users[service] = secret.read_text().strip()
        scram = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, ITERATIONS)
        upserts: list[Any] = [
            UserScramCredentialUpsertion(user, scram, password.encode()) for user, password in users.items()
        ]
        _wait(self.client.alter_user_scram_credentials(upserts))
        return users

    def topics(self, names: Iterable[str], partitions: int, replication: int = 1) -> None:
        new = [NewTopic(n, num_partitions=partitions, replication_factor=replication) for n in names]
        if new:
            _wait(self.client.create_topics(new, operation_timeout=30), ignore={"TOPIC_ALREADY_EXISTS"})

    def grant(self, namespace: str = "") -> None:
        """Each service's ACLs on the topics of `namespace` (create_acls is idempotent)."""
        bindings = []
        for service, grants in GRANTS.items():
            principal = f"User:{service}"

            def allow(
                kind: ResourceType,
                name: str,
                op: AclOperation,
                pattern: ResourcePatternType = ResourcePatternType.LITERAL,
                who: str = principal,
            ) -> None:
                bindings.append(AclBinding(kind, name, pattern, who, "*", op, AclPermissionType.ALLOW))

            for topic in grants.writes():
                allow(ResourceType.TOPIC, _named(namespace, topic), AclOperation.WRITE)
                allow(ResourceType.TOPIC, _named(namespace, topic), AclOperation.DESCRIBE)
            for topic in grants.reads():
                allow(ResourceType.TOPIC, _named(namespace, topic), AclOperation.READ)
            # The idempotent producer (acks=all, no duplicates on retry) asks for a producer id first.
            allow(ResourceType.BROKER, "kafka-cluster", AclOperation.IDEMPOTENT_WRITE)
            # Consumer groups are `<service>.<topic>` (shared/platform/kafka.py subscriber).
            allow(ResourceType.GROUP, f"{service}.", AclOperation.READ, ResourcePatternType.PREFIXED)
        _wait(self.client.create_acls(bindings))
        self._until_effective(bindings)

    def _until_effective(self, bindings: list[AclBinding], timeout: float = 30) -> None:
        """ACLs reach the broker's authorizer through the metadata log a moment after the controller took
        them; a client started before that would be refused. Wait until the broker describes all of them."""
        wanted = set(bindings)
        # None matches any name, principal and host (the stubs say str).
        anything: Any = None
        everything = AclBindingFilter(
            ResourceType.ANY,
            anything,
            ResourcePatternType.ANY,
            anything,
            anything,
            AclOperation.ANY,
            AclPermissionType.ANY,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if wanted <= set(self.client.describe_acls(everything).result(timeout=30)):
                return
            time.sleep(0.05)
        raise RuntimeError("kafka admin: the ACLs did not take effect within 30 s")

    def provision(self, namespace: str = "", partitions: int = 6, replication: int = 1) -> None:
        """Every topic and its dead-letter twin in `namespace`, and the services' ACLs on them."""
        names = [_named(namespace, str(t)) for t in TOPICS]
        self.topics([*names, *(dead_letter(n) for n in names)], partitions, replication)
        self.grant(namespace)


def _named(namespace: str, topic: str) -> str:
    return f"{namespace}.{topic}" if namespace else topic
