"""Broker construction and explicit, idempotent topic creation (auto-creation is off on our brokers)."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable
from itertools import chain
from typing import Any, TypeVar, cast

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream import AckPolicy, Context
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage
from faststream.security import BaseSecurity, SASLScram256, SASLScram512
from faststream.specification import AsyncAPI

from shared.platform import metrics, tracing
from shared.platform.batching import BatchConsumer
from shared.platform.commits import commit_behind
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
        # Outermost the traces, then FastStream's metrics: a record's processing as the consumer saw it,
        # retries included.
        middlewares=[
            *tracing.kafka_middlewares(settings),
            metrics.consumer_metrics(settings.service_name),
            policy.middleware,
        ],
        graceful_timeout=15.0,
        logger=logging.getLogger(f"{settings.service_name}.broker"),
        # FastStream's "Received" and "Processed" line for every message only at DEBUG: two lines per batch
        # (each use case logs what it did, and a handler's error is still logged at ERROR).
        log_level=logging.DEBUG,
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
      is skipped;
    - the offsets are committed in the background (commits.py), without holding up the next fetch;
    - `consumer_workers` consumers of the group in the process, each with partitions of its own (FastStream's
      concurrent-between-partitions subscriber): partitions are worked concurrently, a key's events in order.
    """
    decorator = broker.subscriber(
        settings.topic(topic),
        group_id=f"{settings.group_id}.{topic}",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        max_workers=settings.consumer_workers,
        parser=commit_behind,
        auto_offset_reset="earliest",
        title=f"{settings.service_name}:{topic}",
        description=description,
    )
    policy: DeadLetterPolicy = broker.context.get(POLICY)

    def register(handler: H) -> H:
        policy.handlers[str(topic)] = handler  # parked events of this topic are handled by it again
        return cast(H, decorator(handler))

    return register


def batch_subscriber(
    broker: KafkaBroker, settings: ServiceSettings, topic: str, description: str, event_type: type[Event]
) -> Callable[[H, Callable[..., Awaitable[None]]], None]:
    """A subscriber like `subscriber`'s that takes what the consumer has fetched (up to
    `consumer_batch_max` records, without waiting for more) and hands it to the service's batch handler,
    falling back to its one-event handler when the batch fails (batching.py). Register both:

        batch_subscriber(broker, settings, topic, description, EventType)(on_event, on_events)

    `on_event(event, ...)` is also what parked events of the topic are handled by again.

    FastStream runs a batch subscriber on one consumer, so this registers `consumer_workers` of them in the
    group (only the first in the AsyncAPI document): Kafka gives each its own partitions, which are worked
    concurrently, and a key's events (one partition, one consumer) stay in order."""
    policy: DeadLetterPolicy = broker.context.get(POLICY)

    def register(on_event: H, on_events: Callable[..., Awaitable[None]]) -> None:
        consumer = BatchConsumer(policy, event_type, on_events, on_event)

        async def decode(msg: StreamMessage[Any]) -> list[Event]:
            # Each record decoded once, here; the handler takes them from the message (an undecodable one is
            # dead-lettered there, not failing the batch's parsing).
            decoded, undecodable = consumer.decode(msg.raw_message)
            msg.batch_decoded = (decoded, undecodable)  # type: ignore[attr-defined]
            return [event for _, event in decoded]

        async def handle(events: list[Any], message: StreamMessage[Any] = Context("message")) -> None:
            await consumer(*message.batch_decoded)  # type: ignore[attr-defined]

        # The AsyncAPI document names the topic's event type as the payload's items.
        handle.__annotations__ = {**handle.__annotations__, "events": list[event_type]}  # type: ignore[valid-type]
        handle.__name__ = handle.__qualname__ = on_event.__name__
        policy.handlers[str(topic)] = on_event  # parked events of this topic are handled one by one
        for worker in range(settings.consumer_workers):
            batches = broker.subscriber(
                settings.topic(topic),
                group_id=f"{settings.group_id}.{topic}",
                ack_policy=AckPolicy.NACK_ON_ERROR,
                auto_offset_reset="earliest",
                batch=True,
                max_records=settings.consumer_batch_max,
                batch_timeout_ms=settings.consumer_batch_wait_ms,
                decoder=decode,
                parser=commit_behind,
                title=f"{settings.service_name}:{topic}",
                description=description,
                include_in_schema=worker == 0,
            )
            batches(handle)
            polls_without_pause(batches, settings.consumer_batch_wait_ms, settings.consumer_batch_max)
        broker.context.set_global(f"batch_consumer:{topic}", consumer)

    return register


def polls_without_pause(batches: Any, wait_ms: int, max_records: int) -> None:
    """A batch subscriber's poll that returns the moment records are fetched and, when none came within
    `wait_ms`, polls again at once.

    FastStream's batch subscriber sleeps `batch_timeout_ms` after every poll that found nothing, so an event
    arriving during that sleep waited for its end: up to that long on every hop of a flow (the most of
    notification's Kafka → batch-start time at 20 payments a second), and an idle subscriber woke about 25
    times a second. Batches still form under load: what arrives while a batch is handled is fetched meanwhile
    and taken by the next poll, up to `max_records`. A stopping consumer wakes the waiting poll
    (aiokafka's fetcher notifies its waiters on close), which then returns nothing, and the loop ends."""

    async def get_msg(consumer: AIOKafkaConsumer) -> tuple[ConsumerRecord[Any, Any], ...]:
        fetched = await consumer.getmany(timeout_ms=wait_ms, max_records=max_records)
        return tuple(chain.from_iterable(fetched.values()))

    batches.get_msg = get_msg


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


def asyncapi_document(spec: AsyncAPI) -> dict[str, Any]:
    """The AsyncAPI document as JSON. A batch subscriber's message is described by FastStream as an array of
    the event; on the wire each record is still one event, so the message's payload names the event itself
    (and the array schemas go)."""
    doc: dict[str, Any] = spec.to_specification().to_jsonable()
    schemas: dict[str, Any] = doc.get("components", {}).get("schemas", {})
    prefix = "#/components/schemas/"
    arrays: set[str] = set()
    for message in doc.get("components", {}).get("messages", {}).values():
        ref = message.get("payload", {}).get("$ref", "")
        schema = schemas.get(ref.removeprefix(prefix), {})
        if ref.endswith(":Message:Payload") and schema.get("type") == "array" and "$ref" in schema["items"]:
            message["payload"] = {"$ref": schema["items"]["$ref"]}
            arrays.add(ref.removeprefix(prefix))
    for name in arrays:
        schemas.pop(name, None)
    return doc
