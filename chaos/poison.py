"""Poison on purpose: records no consumer can read, published straight to the broker as its admin.

Every consumer group of the topic dead-letters each of them (it does not parse, or does not validate), and the
topic's producer keeps those dead letters (shared/platform/deadletters.py). They are told apart from real dead
letters by their key, and counted as `poisoned`; any other dead letter is a finding.
"""

from __future__ import annotations

import json
import uuid

from aiokafka import AIOKafkaProducer

from devstack.stack import Stack
from shared.schemas import Topic
from shared.schemas.acl import GRANTS

KEY = "chaos-poison"
RECORDS: list[tuple[Topic, bytes]] = [
    (Topic.ORDER_PAID, b"{this is not JSON"),
    (
        Topic.ORDER_PAID,
        json.dumps({"event_type": "order.paid", "event_id": "not-a-uuid", "payload": {}}).encode(),
    ),
    (Topic.ACCEPTANCE_DONE, b"\xff\xfe\x00 not UTF-8 either"),
]


def consumers(topic: Topic) -> int:
    return sum(topic in g.consumes for g in GRANTS.values())


async def publish(stack: Stack, batch: int) -> int:
    """Publish the poison records once more; the dead letters they must make (one per consumer group)."""
    producer = AIOKafkaProducer(**stack.kafka_client(), enable_idempotence=True)
    await producer.start()
    try:
        for topic, value in RECORDS:
            key = f"{KEY}-{batch}-{uuid.uuid4().hex[:8]}".encode()
            await producer.send_and_wait(
                f"{stack.namespace}.{topic}" if stack.namespace else str(topic),
                value,
                key=key,
                headers=[("event-type", str(topic).encode())],
            )
    finally:
        await producer.stop()
    return sum(consumers(t) for t, _ in RECORDS)
