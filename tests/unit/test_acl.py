"""The broker's ACL table (shared/schemas/acl.py) is the services' own wiring: each service may write exactly the
topics it publishes plus the dead-letter twins of those it consumes, and read exactly what it consumes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from faststream.kafka import KafkaBroker

from services.notification import handlers as notification
from services.notification.settings import NotificationSettings
from services.orders import handlers as orders
from services.orders.settings import OrdersSettings
from services.partner import handlers as partner
from services.partner.settings import PartnerSettings
from services.supervision import handlers as supervision
from services.supervision.settings import SupervisionSettings
from shared.platform.deadletters import register_dead_letters
from shared.platform.kafka import make_broker
from shared.platform.settings import ServiceSettings
from shared.schemas import TOPICS, dead_letter
from shared.schemas.acl import GRANTS

WIRING: dict[str, tuple[type[ServiceSettings], Callable[[KafkaBroker, ServiceSettings], None]]] = {
    "orders": (OrdersSettings, orders.register),
    "supervision": (SupervisionSettings, supervision.register),
    "notification": (NotificationSettings, notification.register),
    "partner": (PartnerSettings, partner.register),
}


def _wired(service: str) -> tuple[set[str], set[str]]:
    cls, register = WIRING[service]
    settings = cls(kafka_bootstrap_servers="broker:9092", mongodb_uri="mongodb://db")
    broker, _ = make_broker(settings)
    register(broker, settings)
    produced = {pub.topic for pub in broker.publishers}  # type: ignore[attr-defined]
    register_dead_letters(broker, settings, sorted(GRANTS[service].produces))  # as the runtime does
    read = {t.name for sub in broker.subscribers for t in sub.topics}  # type: ignore[attr-defined]
    return read, produced


@pytest.mark.parametrize("service", sorted(WIRING))
def test_the_grants_are_what_the_service_subscribes_and_publishes(service: str) -> None:
    read, produced = _wired(service)
    consumed = {t for t in read if not t.endswith(".dlt")}
    grants = GRANTS[service]
    assert {str(t) for t in grants.consumes} == consumed
    assert {str(t) for t in grants.produces} == produced
    assert grants.reads() == read  # its events, and the dead letters of what it produces (its store)
    assert {t for t in read if t.endswith(".dlt")} == {dead_letter(t) for t in produced}
    assert grants.writes() == produced | {dead_letter(t) for t in consumed}


def test_every_service_has_grants_and_every_topic_has_a_producer() -> None:
    assert set(GRANTS) == set(WIRING)
    produced = {t for g in GRANTS.values() for t in g.produces}
    assert produced == set(TOPICS)


def test_no_service_but_the_producers_may_write_the_sensitive_topics() -> None:
    writers = {
        topic: {s for s, g in GRANTS.items() if topic in g.writes()}
        for topic in ("refund.decided", "account.registered", "order.paid")
    }
    assert writers == {
        "refund.decided": {"orders"},
        "account.registered": {"orders"},
        "order.paid": {"orders"},
    }
