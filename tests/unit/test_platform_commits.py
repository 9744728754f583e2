"""Offsets committed behind the consumer (shared/platform/commits.py): an acknowledgement queues the offsets of
its own records and returns; one task commits the newest offset of each partition; a failed commit leaves the
records to come again and does not stop later commits; a hand-back's seek goes to the consumer at once. The
real broker's side (nothing lost or applied twice across restarts) is in tests/integration."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition

from shared.platform import commits
from shared.platform.commits import Committer, _Acknowledging, end_linger, stop_committers

pytestmark = pytest.mark.unit


class Consumer:
    """The two calls an acknowledgement makes of aiokafka's consumer."""

    def __init__(self, failing: int = 0) -> None:
        self.commits: list[dict[TopicPartition, int]] = []
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.failing = failing
        self.gate = asyncio.Event()
        self.gate.set()

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        await self.gate.wait()
        if self.failing:
            self.failing -= 1
            raise RuntimeError("the group rebalanced")
        self.commits.append(dict(offsets))

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks.append((partition, offset))


def record(partition: int, offset: int) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord("t", partition, offset, 0, 0, None, b"{}", None, 0, 2, [])


async def settled(committer: Committer) -> None:
    while committer.pending or committer.wake.is_set():  # noqa: ASYNC110
        await asyncio.sleep(0)
    for _ in range(5):
        await asyncio.sleep(0)


async def test_an_acknowledgement_commits_the_next_offset_of_each_of_its_partitions() -> None:
    consumer = Consumer()
    committer = Committer(consumer, linger=0)  # type: ignore[arg-type]
    await _Acknowledging(committer, (record(0, 4), record(1, 9), record(0, 5))).commit()
    await settled(committer)
    assert consumer.commits == [{TopicPartition("t", 0): 6, TopicPartition("t", 1): 10}]


async def test_acknowledgements_queued_during_a_commit_go_together_in_the_next_newest_first() -> None:
    consumer = Consumer()
    consumer.gate.clear()  # the first commit is on its way
    committer = Committer(consumer, linger=0)  # type: ignore[arg-type]
    await _Acknowledging(committer, (record(0, 1),)).commit()
    while not committer.task or committer.pending:  # noqa: ASYNC110 (the task took the first offsets)
        await asyncio.sleep(0)
    for offset in (2, 3, 4):
        await _Acknowledging(committer, (record(0, offset),)).commit()  # returns without waiting for it
    await _Acknowledging(committer, (record(1, 0),)).commit()
    consumer.gate.set()
    await settled(committer)
    assert consumer.commits == [
        {TopicPartition("t", 0): 2},
        {TopicPartition("t", 0): 5, TopicPartition("t", 1): 1},
    ]


async def test_a_failed_commit_is_counted_and_later_ones_go_on() -> None:
    consumer = Consumer(failing=1)
    committer = Committer(consumer, linger=0)  # type: ignore[arg-type]
    await _Acknowledging(committer, (record(0, 1),)).commit()
    await settled(committer)
    assert (committer.failed, consumer.commits) == (1, [])
    await _Acknowledging(committer, (record(0, 2),)).commit()
    await settled(committer)
    assert consumer.commits == [{TopicPartition("t", 0): 3}]
    assert committer.committed == 1


async def test_a_hand_back_seeks_at_once() -> None:
    consumer = Consumer()
    committer = Committer(consumer, linger=0)  # type: ignore[arg-type]
    _Acknowledging(committer, (record(2, 7),)).seek(TopicPartition("t", 2), 7)
    assert consumer.seeks == [(TopicPartition("t", 2), 7)]
    assert consumer.commits == []


async def test_acknowledgements_within_the_linger_go_in_one_commit() -> None:
    consumer = Consumer()
    committer = Committer(consumer, linger=0.2)  # type: ignore[arg-type]
    for offset in range(5):
        await _Acknowledging(committer, (record(offset % 2, offset),)).commit()
        await asyncio.sleep(0.01)
    assert consumer.commits == []  # still lingering
    await asyncio.sleep(0.3)
    await settled(committer)
    assert consumer.commits == [{TopicPartition("t", 0): 5, TopicPartition("t", 1): 4}]
    assert committer.committed == 1


async def test_a_stopping_service_commits_what_is_queued_at_once_and_lingers_no_more() -> None:
    consumer = Consumer()
    committer = Committer(consumer, linger=3600)  # type: ignore[arg-type]
    commits._COMMITTERS[consumer] = committer  # type: ignore[index]  # as commit_behind registers it
    try:
        await _Acknowledging(committer, (record(0, 1),)).commit()
        await asyncio.sleep(0.05)
        assert consumer.commits == []
        end_linger()
        await settled(committer)
        assert consumer.commits == [{TopicPartition("t", 0): 2}]
        await _Acknowledging(committer, (record(0, 2),)).commit()  # a handler finishing while it stops
        await settled(committer)
        assert consumer.commits == [{TopicPartition("t", 0): 2}, {TopicPartition("t", 0): 3}]
    finally:
        await stop_committers()
