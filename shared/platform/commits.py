"""Offsets committed behind the consumer rather than in its way.

FastStream acknowledges a handled message (or batch) by awaiting the consumer's commit, a round trip to the
group coordinator, before it fetches again: under load that wait was about half of each cycle of
notification's `order.paid` consumer (make bench: batches of 27 ms, then 27 ms until the next one), and events
queued behind it. Here the acknowledgement names the offsets of exactly the records it acknowledges (never
the consumer's position, which may already be past records not yet handled), queues them, and returns; one
task per consumer commits the newest queued offset of each partition, in order, after lingering half a second
so that one request carries what was acknowledged meanwhile. A stopping service ends the linger
(`end_linger`): what is queued, and what its in-flight handlers acknowledge, is committed at once.

Nothing is acknowledged before it is handled, so this changes only when an offset is committed, never what:
a commit that does not happen (a crash, a rebalance, the broker away) leaves the records to be consumed again,
and every handler is idempotent by event id (the inbox claim), so a record consumed twice changes nothing.
A hand-back (`nack`) still seeks at once, and commits queued before it are of earlier records.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from weakref import WeakKeyDictionary

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from faststream.message import StreamMessage

log = logging.getLogger("commits")


# How long a woken commit task waits before committing, so that what is acknowledged meanwhile goes in the
# same request. At 20 payments a second a commit per handled batch was about 120 requests a second to the
# group coordinator over the four services. What a crash leaves uncommitted is consumed again and found done.
LINGER_SECONDS = 0.5


class Committer:
    """One consumer's queued offsets and the task that commits them."""

    def __init__(self, consumer: AIOKafkaConsumer, linger: float = LINGER_SECONDS) -> None:
        self.consumer = consumer
        self.linger = linger
        self.pending: dict[TopicPartition, int] = {}
        self.wake = asyncio.Event()
        self.hurry = asyncio.Event()  # set when the service stops: no more lingering
        self.task: asyncio.Task[None] | None = None
        self.committed = self.failed = 0  # commit requests, for tests

    def queue(self, records: tuple[ConsumerRecord[Any, Any], ...]) -> None:
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            self.pending[tp] = max(self.pending.get(tp, 0), r.offset + 1)
        self.wake.set()
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run(), name="kafka-commits")

    async def _run(self) -> None:
        while True:
            await self.wake.wait()
            if self.linger and not self.hurry.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.hurry.wait(), self.linger)
            self.wake.clear()
            if self.pending:
                await self._commit()

    async def _commit(self) -> None:
        offsets, self.pending = self.pending, {}
        try:
            await self.consumer.commit(offsets)
            self.committed += 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Left uncommitted: those records come again (a rebalance gave them to another consumer, or the
            # broker was away) and their handlers find them done.
            self.failed += 1
            log.info("offset commit failed, the records will be consumed again: %s", exc)


class _Acknowledging:
    """What a message's `ack` and `nack` call (`consumer.commit()`, `consumer.seek(...)`): the commit queues
    the message's own records; a seek goes to the consumer at once."""

    def __init__(self, committer: Committer, records: tuple[ConsumerRecord[Any, Any], ...]) -> None:
        self.committer, self.records = committer, records

    async def commit(self) -> None:
        self.committer.queue(self.records)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.committer.consumer.seek(partition, offset)


_COMMITTERS: WeakKeyDictionary[AIOKafkaConsumer, Committer] = WeakKeyDictionary()

Parser = Callable[[Any], Awaitable[StreamMessage[Any]]]


async def commit_behind(raw: Any, original: Parser) -> StreamMessage[Any]:
    """A subscriber's `parser`: FastStream's message, acknowledged through the background committer of its
    consumer (a test broker's stand-in consumer is left as it is)."""
    message = await original(raw)
    consumer = getattr(message, "consumer", None)
    if isinstance(consumer, AIOKafkaConsumer):
        committer = _COMMITTERS.get(consumer)
        if committer is None:
            committer = _COMMITTERS[consumer] = Committer(consumer)
        records = raw if isinstance(raw, tuple) else (raw,)
        message.consumer = _Acknowledging(committer, records)  # type: ignore[attr-defined]
    return message


def end_linger() -> None:
    """The service is stopping: what is queued is committed now, and every later acknowledgement at once,
    while the consumers still run (their in-flight handlers finish before they stop)."""
    for c in list(_COMMITTERS.values()):
        c.hurry.set()


async def stop_committers() -> None:
    """Stop the commit tasks (their consumers have stopped)."""
    committers = list(_COMMITTERS.values())
    for c in committers:
        if c.task is not None:
            c.task.cancel()
    await asyncio.gather(*(c.task for c in committers if c.task is not None), return_exceptions=True)
    with contextlib.suppress(Exception):
        _COMMITTERS.clear()
