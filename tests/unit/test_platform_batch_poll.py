"""A batch subscriber's poll (shared/platform/kafka.py, polls_without_pause): it waits up to
`consumer_batch_wait_ms` for records, returns the moment any are fetched, and after a poll that found nothing
polls again without FastStream's pause. Every batch subscriber of every service polls this way. The real
broker's side (events handled, nothing lost) is the integration and e2e layers'."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from aiokafka import ConsumerRecord, TopicPartition
from faststream.kafka.subscriber.usecase import BatchSubscriber

from shared.platform.kafka import make_broker
from tests.unit.test_acl import WIRING

pytestmark = pytest.mark.unit


class Consumer:
    """aiokafka's `getmany`, answering from a list of fetches and noting what it was asked."""

    def __init__(self, *fetches: dict[TopicPartition, list[ConsumerRecord[Any, Any]]]) -> None:
        self.fetches = list(fetches)
        self.asked: list[tuple[int, int | None]] = []

    async def getmany(
        self, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[ConsumerRecord[Any, Any]]]:
        self.asked.append((timeout_ms, max_records))
        return self.fetches.pop(0)


def record(partition: int, offset: int) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord("t", partition, offset, 0, 0, None, b"{}", None, 0, 2, [])


def batch_subscribers(service: str) -> list[BatchSubscriber]:
    cls, register = WIRING[service]
    settings = cls(
        kafka_bootstrap_servers="broker:9092",
        mongodb_uri="mongodb://db",
        consumer_batch_wait_ms=750,
        consumer_batch_max=40,
    )
    broker, _ = make_broker(settings)
    register(broker, settings)
    return [s for s in broker.subscribers if isinstance(s, BatchSubscriber)]


@pytest.mark.parametrize("service", sorted(WIRING))
async def test_a_poll_that_found_nothing_returns_at_once_for_the_next_without_a_pause(
    service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    subscribers = batch_subscribers(service)
    assert subscribers, f"{service} has no batch subscriber"

    async def no_pause(seconds: float) -> None:
        raise AssertionError(f"paused {seconds} s after an empty poll")

    monkeypatch.setattr(anyio, "sleep", no_pause)
    for subscriber in subscribers:
        consumer = Consumer({}, {})
        assert await subscriber.get_msg(consumer) == ()
        assert await subscriber.get_msg(consumer) == ()
        # Each poll waits for records up to the configured time, for at most a batch's worth.
        assert consumer.asked == [(750, 40), (750, 40)]


async def test_a_poll_returns_what_every_partition_fetched_in_one_batch() -> None:
    subscribers = batch_subscribers("notification")
    a, b, c = record(0, 4), record(0, 5), record(3, 1)
    consumer = Consumer({TopicPartition("t", 0): [a, b], TopicPartition("t", 3): [c]})
    assert await subscribers[0].get_msg(consumer) == (a, b, c)
