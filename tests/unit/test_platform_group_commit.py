"""Group commit: what arrives while a write is under way goes in the next one; each caller hears of its own
write, failures included."""

from __future__ import annotations

import asyncio

import pytest

from shared.platform.groupcommit import GroupCommit

pytestmark = pytest.mark.unit


class Writes:
    def __init__(self, fail_on: set[int] | None = None) -> None:
        self.groups: list[list[int]] = []
        self.fail_on = fail_on or set()
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, items: list[int]) -> None:
        self.groups.append(items)
        await self.gate.wait()
        if self.fail_on & set(items):
            raise RuntimeError(f"write of {items} failed")


async def test_a_lone_item_is_written_at_once() -> None:
    writes = Writes()
    await GroupCommit(writes).submit(1)
    assert writes.groups == [[1]]


async def test_items_arriving_during_a_write_go_together_in_the_next() -> None:
    writes = Writes()
    writes.gate.clear()
    group = GroupCommit(writes)
    first = asyncio.create_task(group.submit(0))
    await asyncio.sleep(0)  # the first write is under way, held at the gate
    rest = [asyncio.create_task(group.submit(i)) for i in range(1, 6)]
    await asyncio.sleep(0)
    assert not first.done()
    assert not any(t.done() for t in rest)
    writes.gate.set()
    await asyncio.gather(first, *rest)
    assert writes.groups == [[0], [1, 2, 3, 4, 5]]
    assert group.writes == 2


async def test_groups_are_capped() -> None:
    writes = Writes()
    writes.gate.clear()
    group = GroupCommit(writes, max_items=2)
    tasks = [asyncio.create_task(group.submit(i)) for i in range(5)]
    await asyncio.sleep(0)
    writes.gate.set()
    await asyncio.gather(*tasks)
    assert writes.groups == [[0, 1], [2, 3], [4]]


async def test_a_failed_write_fails_each_of_its_callers_and_no_other() -> None:
    writes = Writes(fail_on={1})
    writes.gate.clear()
    group = GroupCommit(writes)
    first = asyncio.create_task(group.submit(0))
    await asyncio.sleep(0)
    failing = [asyncio.create_task(group.submit(i)) for i in (1, 2)]
    await asyncio.sleep(0)
    writes.gate.set()
    await first
    for task in failing:
        with pytest.raises(RuntimeError, match="failed"):
            await task
    await group.submit(3)  # the next write goes on as usual
    assert writes.groups == [[0], [1, 2], [3]]


async def test_a_caller_that_gives_up_does_not_cancel_the_write() -> None:
    writes = Writes()
    writes.gate.clear()
    group = GroupCommit(writes)
    waiting = asyncio.create_task(group.submit(7))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    writes.gate.set()
    await group.submit(8)
    assert writes.groups == [[7], [8]]


async def test_a_cancelled_write_fails_its_callers_and_those_waiting_rather_than_leaving_them_hanging() -> (
    None
):
    writes = Writes()
    writes.gate.clear()
    group = GroupCommit(writes)
    first = asyncio.create_task(group.submit(1))
    await asyncio.sleep(0)
    waiting = asyncio.create_task(group.submit(2))  # for the next write
    await asyncio.sleep(0)
    assert group._writer is not None
    group._writer.cancel()  # as at shutdown
    for task in (first, waiting):
        with pytest.raises(RuntimeError, match="cancelled"):
            await task
    writes.gate.set()
    await group.submit(3)  # a new writer for what comes next
    assert writes.groups == [[1], [3]]
