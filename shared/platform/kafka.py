"""Broker construction and explicit, idempotent topic creation (auto-creation is off on our brokers)."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLScram256, SASLScram512
from faststream.specification import AsyncAPI

from shared.platform.deadletter import DeadLetterPolicy
from shared.platform.settings import ServiceSettings
from shared.schemas import TOPICS, Event, dead_letter

log = logging.getLogger("kafka")


def security(settings: ServiceSettings) -> BaseSecurity | None:
    """The service's own Kafka identity: SASL/SCRAM as its user, over TLS where the protocol says so."""
    protocol = settings.kafka_security_protocol
    context = None
    if protocol.endswith("SSL"):
        context = ssl.create_default_context(cafile=settings.kafka_ca_file)
    if protocol.startswith("SASL"):
        scram = SASLScram512 if settings.kafka_sasl_mechanism == "SCRAM-SHA-512" else SASLScram256
        return scram(
            settings.kafka_user,
            settings.kafka_password.get_secret_value(),
            ssl_context=context,
            use_ssl=context is not None,
        )
    return BaseSecurity(ssl_context=context) if context is not None else None


def make_broker(settings: ServiceSettings) -> tuple[KafkaBroker, DeadLetterPolicy]:
    policy = DeadLetterPolicy(settings)
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=settings.service_name,
        security=security(settings),
        # Topics are the admin's to create (a service's Kafka user may not): no creation attempt per
        # subscriber.
        allow_auto_create_topics=settings.create_topics,
        # acks=all + idempotence: an acknowledged publish survives and a producer retry never duplicates it.
        acks="all",
        enable_idempotence=True,
        middlewares=[policy.middleware],
        graceful_timeout=15.0,
        logger=logging.getLogger(f"{settings.service_name}.broker"),
    )
    policy.broker = broker
    broker.context.set_global(POLICY, policy)
    return broker, policy


H = TypeVar("H", bound=Callable[..., Awaitable[None]])
POLICY = "delivery_policy"  # the broker's DeadLetterPolicy in its context: handlers are registered with it


def subscriber(
    broker: KafkaBroker, settings: ServiceSettings, topic: str, description: str
) -> Callable[[H], H]:
    """Every subscriber the same way:

    - its own consumer group, `<service>.<topic>`: replicas of the service share each topic's partitions, and
      a subscriber joining or leaving never forces the service's other subscribers to rebalance;
    - the offset is committed only after the handler (or its dead-letter fallback) finished, never first;
    - a new group starts from the earliest retained event, so nothing published before a first deployment
      is skipped.
    """
    decorator = broker.subscriber(
        settings.topic(topic),
        group_id=f"{settings.group_id}.{topic}",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        title=f"{settings.service_name}:{topic}",
        description=description,
    )
    policy: DeadLetterPolicy = broker.context.get(POLICY)

    def register(handler: H) -> H:
        policy.handlers[str(topic)] = handler  # parked events of this topic are handled by it again
        return cast(H, decorator(handler))

    return register


def declare_publishers(broker: KafkaBroker, settings: ServiceSettings, *events: type[Event]) -> None:
    """Name what the service publishes, for its AsyncAPI document. The outbox relay does the publishing."""
    for event in events:
        # ":out" keeps a published channel apart from a subscribed one when a service does both on a topic.
        broker.publisher(
            settings.topic(event.topic),
            title=f"{settings.service_name}:{event.topic}:out",
            schema=event,
            description=(event.__doc__ or event.__name__).strip(),
        )


def all_topic_names(settings: ServiceSettings) -> list[str]:
    names = [settings.topic(t) for t in TOPICS]
    return names + [dead_letter(n) for n in names]


async def ensure_topics(settings: ServiceSettings) -> list[str]:
    """Create every topic and its dead-letter twin if missing; existing topics are left as they are."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers, client_id=f"{settings.service_name}-admin"
    )
    await admin.start()
    created: list[str] = []
    try:
        existing = set(await admin.list_topics())
        missing = [n for n in all_topic_names(settings) if n not in existing]
        for name in missing:
            try:
                await admin.create_topics(
                    [NewTopic(name, settings.topic_partitions, settings.topic_replication)]
                )
                created.append(name)
            except TopicAlreadyExistsError:  # another service created it meanwhile
                pass
    finally:
        await admin.close()
    if created:
        log.info("created topics: %s", ", ".join(created))
    return created


def asyncapi(broker: KafkaBroker, title: str, description: str) -> AsyncAPI:
    return AsyncAPI(broker, title=title, version="1.0.0", description=description)
