"""Where the integration and e2e layers get their broker, database and identity provider (`plan_infra`), and the
configuration of the containers they would start. No Docker engine here: the Docker answer is given."""

from __future__ import annotations

import re

import pytest

from tests.conftest import (
    KAFKA_LISTENER,
    InfraPlan,
    kafka_container_env,
    plan_infra,
    with_admin_scram,
)

KAFKA = {"KAFKA_BOOTSTRAP_SERVERS": "broker:9092"}
MONGO = {"MONGODB_URI": "mongodb://db:27017/?replicaSet=rs0"}
ISSUER = {"OIDC_ISSUER_URL": "https://id.example.com/realms/koogallery"}


class Docker:
    """The Docker question, answered `up`, counting how often it was asked."""

    def __init__(self, up: bool) -> None:
        self.up, self.asked = up, 0

    def __call__(self) -> bool:
        self.asked += 1
        return self.up


@pytest.mark.parametrize(
    ("env", "docker_up", "expected"),
    [
        ({}, True, InfraPlan("containers", "containers", "devstack")),
        ({}, False, InfraPlan("devstack", "devstack", "devstack")),
        (KAFKA, True, InfraPlan("env", "containers", "devstack")),
        (KAFKA, False, InfraPlan("env", "devstack", "devstack")),
        (MONGO, True, InfraPlan("containers", "env", "devstack")),
        (MONGO, False, InfraPlan("devstack", "env", "devstack")),
        (ISSUER, True, InfraPlan("containers", "containers", "env")),
        (ISSUER, False, InfraPlan("devstack", "devstack", "env")),
        ({**KAFKA, **MONGO, **ISSUER}, False, InfraPlan("env", "env", "env")),
        (
            {"KAFKA_BOOTSTRAP_SERVERS": "", "MONGODB_URI": ""},
            False,
            InfraPlan("devstack", "devstack", "devstack"),
        ),
        ({"TESTCONTAINERS": "1"}, True, InfraPlan("containers", "containers", "devstack")),
        ({"TESTCONTAINERS": "0"}, True, InfraPlan("devstack", "devstack", "devstack")),
        ({"TESTCONTAINERS": "false", **MONGO}, True, InfraPlan("devstack", "env", "devstack")),
        ({"TESTCONTAINERS": "1", **KAFKA, **MONGO}, False, InfraPlan("env", "env", "devstack")),
    ],
)
def test_explicit_endpoints_then_docker_then_devstack(
    env: dict[str, str], docker_up: bool, expected: InfraPlan
) -> None:
    assert plan_infra(env, Docker(docker_up)) == expected


def test_docker_is_asked_only_when_a_part_is_left_to_choose() -> None:
    both, opted_out, open_choice = Docker(True), Docker(True), Docker(True)
    plan_infra({**KAFKA, **MONGO}, both)
    plan_infra({"TESTCONTAINERS": "0"}, opted_out)
    plan_infra(KAFKA, open_choice)
    assert (both.asked, opted_out.asked, open_choice.asked) == (0, 0, 1)


def test_asking_for_containers_without_an_engine_fails_instead_of_falling_back() -> None:
    with pytest.raises(RuntimeError, match="TESTCONTAINERS=1"):
        plan_infra({"TESTCONTAINERS": "1"}, Docker(False))


def test_an_unknown_testcontainers_value_is_named() -> None:
    with pytest.raises(ValueError, match="TESTCONTAINERS='maybe'"):
        plan_infra({"TESTCONTAINERS": "maybe"}, Docker(True))


def test_the_kafka_container_authenticates_and_authorizes_like_devstacks_broker() -> None:
    env = kafka_container_env("s3cret")
    listener = KAFKA_LISTENER.upper()
    assert env[f"KAFKA_LISTENER_NAME_{listener}_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert (
        "ScramLoginModule required"
        in env[f"KAFKA_LISTENER_NAME_{listener}_SCRAM___SHA___512_SASL_JAAS_CONFIG"]
    )
    assert env["KAFKA_AUTHORIZER_CLASS_NAME"].endswith(".StandardAuthorizer")
    assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert set(env["KAFKA_SUPER_USERS"].split(";")) == {"User:admin", "User:ANONYMOUS"}
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"  # the admin provisions each namespace's topics
    assert all(re.fullmatch(r"KAFKA_[A-Z0-9_]+", key) for key in env)


def test_the_admin_scram_credential_is_added_to_the_storage_format() -> None:
    # The line testcontainers' KafkaContainer (4.15.0) writes in KRaft mode.
    boot = (
        "sed -i '/KAFKA_ZOOKEEPER_CONNECT/d' /etc/confluent/docker/configure\n"
        "echo 'kafka-storage format --ignore-formatted -t MkU3OEVBNTcwNTJENDM2Qk -c /etc/kafka/kafka.properties'"
        " >> /etc/confluent/docker/configure\n"
    )
    patched = with_admin_scram(boot, "abc123")
    assert (
        '-c /etc/kafka/kafka.properties --add-scram "SCRAM-SHA-512=[name=admin,password=abc123]"\' >> '
        in patched
    )
    assert patched.startswith("sed -i '/KAFKA_ZOOKEEPER_CONNECT/d'")
    with pytest.raises(RuntimeError, match="boot script changed"):
        with_admin_scram("echo 'kafka-storage format -t x'", "abc123")


def test_the_patch_fits_the_pinned_testcontainers_own_boot_script() -> None:
    """KafkaContainer._configure_kraft, run on a stand-in (building the container needs a Docker engine)."""
    from types import SimpleNamespace

    from testcontainers.community.kafka import KafkaContainer

    stand_in = SimpleNamespace(
        cluster_id="MkU3OEVBNTcwNTJENDM2Qk",
        security_protocol_map="BROKER:PLAINTEXT,CLIENT:SASL_PLAINTEXT",
        listeners="CLIENT://0.0.0.0:9093,BROKER://0.0.0.0:9092",
        with_env=lambda key, value: None,
        _get_network_alias=lambda: "localhost",
        boot_command="",
    )
    KafkaContainer._configure_kraft(stand_in)  # type: ignore[arg-type]
    assert "[name=admin,password=pw1]" in with_admin_scram(stand_in.boot_command, "pw1")
