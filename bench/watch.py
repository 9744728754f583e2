"""Seeing orders complete without asking the orders service: the `order.status_changed` events it publishes.

The orders service commits an order's completion and its `order.status_changed` outbox row in one
transaction, and its relay publishes the row after the commit. So the moment the bench reads that event is
never earlier than the moment GET /orders/{id} would have said `completed` (a conservative observation), and
it costs the orders service nothing: no status polls competing with the work being measured. The record's
timestamp (the relay's producer stamps it when it sends) is the server-side figure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from devstack.stack import Stack
from shared.schemas import Topic


@dataclass(frozen=True)
class Seen:
    wall: float  # time.time() when the bench read the event
    stamped: float  # the record's timestamp (seconds): when the orders relay sent it


def topic_name(stack: Stack, topic: str) -> str:
    return f"{stack.namespace}.{topic}" if stack.namespace else topic


class CompletionWatch:
    """Reads every `order.status_changed` from now on; `wait(order_id)` returns when it said `completed`."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.seen: dict[str, Seen] = {}
        self._waiters: dict[str, asyncio.Future[Seen]] = {}
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> CompletionWatch:
        topic = topic_name(self.stack, Topic.ORDER_STATUS_CHANGED)
        # No group: the partitions are assigned by hand from their end, and nothing is committed. An idle
        # fetch waits at most 100 ms at the broker; a record is returned as soon as it is there.
        parts = await asyncio.to_thread(self._partitions, topic)
        consumer = AIOKafkaConsumer(
            **self.stack.kafka_client(), enable_auto_commit=False, fetch_max_wait_ms=100
        )
        await consumer.start()
        try:
            assigned = [TopicPartition(topic, p) for p in parts]
            consumer.assign(assigned)
            await consumer.seek_to_end(*assigned)
            for tp in assigned:  # resolve the end offsets now, before anything is accepted
                await consumer.position(tp)
        except BaseException:
            await consumer.stop()
            raise
        self._consumer = consumer
        self._task = asyncio.create_task(self._run(consumer), name="completion-watch")
        return self

    def _partitions(self, topic: str) -> list[int]:
        """The topic's partitions, as the broker admin lists them (devstack created the topic)."""
        meta = self.stack.admin().client.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or not meta.partitions:
            raise RuntimeError(f"topic {topic} has no partitions")
        return sorted(meta.partitions)

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            now = time.time()
            for records in batches.values():
                for rec in records:
                    self._take(rec.value, rec.timestamp / 1000, now)

    def _take(self, value: bytes | None, stamped: float, now: float) -> None:
        try:
            event: dict[str, Any] = json.loads(value or b"{}")
        except ValueError:
            return
        payload = event.get("payload") or {}
        if payload.get("to_status") != "completed":
            return
        order_id = str(payload.get("order_id"))
        if order_id in self.seen:
            return  # a redelivery by the relay (at least once): the first is the completion
        self.seen[order_id] = Seen(now, stamped)
        waiter = self._waiters.pop(order_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(self.seen[order_id])

    async def wait(self, order_id: str, within: float) -> Seen | None:
        """When the order's completion was read; None if not within `within` seconds."""
        if order_id in self.seen:
            return self.seen[order_id]
        waiter = self._waiters.setdefault(order_id, asyncio.get_running_loop().create_future())
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), within)
        except TimeoutError:
            return None
