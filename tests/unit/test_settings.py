"""Service settings: topic namespaces, consumer groups, cluster-wide variables without a prefix, fail-fast checks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.notification.settings import NotificationSettings
from services.orders.settings import OrdersSettings
from services.partner.settings import PartnerSettings
from services.supervision.settings import SupervisionSettings
from shared.platform.kafka import all_topic_names
from shared.platform.settings import ServiceSettings
from shared.schemas import Topic

ALL = [OrdersSettings, SupervisionSettings, NotificationSettings, PartnerSettings]
BASE = {"kafka_bootstrap_servers": "localhost:9092", "mongodb_uri": "mongodb://x"}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI", "TOPIC_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    for cls in ALL:
        prefix = cls.model_config.get("env_prefix", "")
        for name in ("CONSUMER_GROUP", "MONGODB_DATABASE"):
            monkeypatch.delenv(f"{prefix}{name}", raising=False)


def test_topic_names_carry_the_namespace() -> None:
    s = OrdersSettings(**BASE, topic_namespace="t42")
    assert s.topic("order.paid") == "t42.order.paid"


def test_without_a_namespace_topics_keep_their_names() -> None:
    s = OrdersSettings(**BASE)
    assert s.topic("order.paid") == "order.paid"


def test_every_topic_and_its_dead_letter_twin_exist_in_the_namespace() -> None:
    names = all_topic_names(OrdersSettings(**BASE, topic_namespace="t42"))
    assert len(names) == 2 * len(Topic)
    assert "t42.order.paid" in names
    assert "t42.order.paid.dlt" in names
    assert all(n.startswith("t42.") for n in names)


@pytest.mark.parametrize("cls", ALL)
def test_the_consumer_group_and_database_default_to_the_service_name(cls: type[ServiceSettings]) -> None:
    s = cls(**BASE)
    name = cls.model_fields["service_name"].default
    assert s.service_name == name
    assert s.group_id == name
    assert s.database == name


def test_the_consumer_group_and_database_can_be_overridden() -> None:
    s = OrdersSettings(**BASE, consumer_group="orders-blue", mongodb_database="orders_test")
    assert s.group_id == "orders-blue"
    assert s.database == "orders_test"


@pytest.mark.parametrize("cls", ALL)
def test_cluster_endpoints_come_from_unprefixed_variables(
    cls: type[ServiceSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka-0:9092,kafka-1:9092")
    monkeypatch.setenv("MONGODB_URI", "mongodb://mongo-0:27017/?replicaSet=rs0")
    monkeypatch.setenv("TOPIC_NAMESPACE", "staging")

    s = cls()

    assert s.kafka_bootstrap_servers == "kafka-0:9092,kafka-1:9092"
    assert s.mongodb_uri == "mongodb://mongo-0:27017/?replicaSet=rs0"
    assert s.topic("order.paid") == "staging.order.paid"


@pytest.mark.parametrize("cls", ALL)
def test_service_variables_carry_the_service_prefix(
    cls: type[ServiceSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = cls.model_config.get("env_prefix", "")
    monkeypatch.setenv(f"{prefix}CONSUMER_GROUP", "canary")
    monkeypatch.setenv("CONSUMER_GROUP", "unprefixed-is-ignored")
    assert cls(**BASE).group_id == "canary"


@pytest.mark.parametrize("blank", ["", "   "])
@pytest.mark.parametrize("field", ["kafka_bootstrap_servers", "mongodb_uri"])
def test_blank_endpoints_are_refused(field: str, blank: str) -> None:
    with pytest.raises(ValidationError, match=field):
        OrdersSettings(**{**BASE, field: blank})


def test_a_blank_bootstrap_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", " ")
    with pytest.raises(ValidationError, match="must not be blank"):
        PartnerSettings()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("consumer_max_attempts", 0),
        ("consumer_backoff_seconds", 0),
        ("http_port", 70000),
        ("log_level", "LOUD"),
    ],
)
def test_bad_values_fail_fast(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        OrdersSettings(**BASE, **{field: value})


def test_settings_are_frozen() -> None:
    s = OrdersSettings(**BASE)
    with pytest.raises(ValidationError):
        s.consumer_max_attempts = 9  # type: ignore[misc]
