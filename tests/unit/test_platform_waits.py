"""The waiting read (`InsertWatch.wait_for`): it answers at once when its read has changed, waits for an insert
under its own key and no other, reads again on a short poll while the change stream is away, and answers at
once when closed. The change stream itself runs on the real database in tests/integration/test_platform_waits.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from shared.platform.waits import InsertWatch

pytestmark = pytest.mark.unit


class Reads:
    """A read that returns the `value` at the time of the call, counting calls; `during` runs inside a read."""

    def __init__(self, value: int = 0) -> None:
        self.value, self.calls = value, 0
        self.during: Callable[[], None] | None = None

    async def __call__(self) -> int:
        self.calls += 1
        value = self.value  # what the database had when the read looked
        if self.during is not None:
            during, self.during = self.during, None
            during()  # after the read looked: this read does not see it
        await asyncio.sleep(0)
        return value


def streaming(**kw: float) -> InsertWatch:
    watch = InsertWatch(None, "inbox", "account_id", **kw)  # type: ignore[arg-type]
    watch.streaming = True  # as if its change stream were open: waiters wait for wake-ups only
    return watch


async def until_waiting(watch: InsertWatch, n: int = 1) -> None:
    while watch.waiting < n:  # noqa: ASYNC110
        await asyncio.sleep(0)


async def until_read(*reads: Reads) -> None:
    """Until each waiter has made its first read (it then waits, or is about to)."""
    while any(r.calls < 1 for r in reads):  # noqa: ASYNC110
        await asyncio.sleep(0)


def waiting(watch: InsertWatch, reads: Reads, seconds: float, key: str = "acc-1") -> asyncio.Future[int]:
    return asyncio.ensure_future(watch.wait_for(key, reads, lambda v: v != 0, seconds))


async def test_no_wait_is_one_read() -> None:
    reads = Reads()
    assert await streaming().wait_for("acc-1", reads, lambda v: v != 0, 0) == 0
    assert reads.calls == 1


async def test_a_changed_first_read_answers_without_waiting() -> None:
    watch, reads = streaming(), Reads(value=7)
    assert await watch.wait_for("acc-1", reads, lambda v: v != 0, 30) == 7
    assert reads.calls == 1
    assert watch.waiting == 0


async def test_an_insert_under_its_key_wakes_it_and_its_next_read_answers() -> None:
    watch, reads = streaming(), Reads()
    held = waiting(watch, reads, 30)
    await until_read(reads)
    reads.value = 1
    watch.notify("acc-1")
    assert await asyncio.wait_for(held, 5) == 1
    assert reads.calls == 2
    assert watch.waiting == 0


async def test_an_insert_under_another_key_does_not_wake_it() -> None:
    watch, reads = streaming(), Reads()
    held = waiting(watch, reads, 30)
    await until_read(reads)
    reads.value = 1
    watch.notify("acc-2")
    for _ in range(50):  # every turn the loop would need to wake it and read again
        await asyncio.sleep(0)
    assert reads.calls == 1
    assert not held.done()
    watch.notify("acc-1")
    assert await asyncio.wait_for(held, 5) == 1


async def test_a_wake_up_that_finds_no_change_keeps_waiting() -> None:
    watch, reads = streaming(), Reads()
    held = waiting(watch, reads, 30)
    await until_read(reads)
    watch.notify("acc-1")  # another category's message, say: the page is the same
    while reads.calls < 2:  # noqa: ASYNC110
        await asyncio.sleep(0)
    assert not held.done()
    reads.value = 2
    watch.notify("acc-1")
    assert await asyncio.wait_for(held, 5) == 2


async def test_an_insert_during_a_read_is_not_lost() -> None:
    watch, reads = streaming(), Reads()

    def insert() -> None:  # committed while the first read ran, after it had looked
        watch.notify("acc-1")
        reads.value = 3

    reads.during = insert
    held = waiting(watch, reads, 30)
    assert await asyncio.wait_for(held, 5) == 3
    assert reads.calls == 2


async def test_without_its_stream_it_reads_again_on_the_fallback_poll() -> None:
    watch, reads = InsertWatch(None, "inbox", "account_id", fallback_seconds=0.01), Reads()
    held = waiting(watch, reads, 30)
    while reads.calls < 3:  # noqa: ASYNC110 (nobody notifies: only the poll reads again)
        await asyncio.sleep(0.01)
    reads.value = 4
    assert await asyncio.wait_for(held, 5) == 4


async def test_closing_answers_every_waiter_with_its_latest_read() -> None:
    watch, a, b = streaming(), Reads(), Reads()
    held = [waiting(watch, a, 30, "acc-1"), waiting(watch, b, 30, "acc-2")]
    await until_read(a, b)
    watch.close()
    assert await asyncio.wait_for(asyncio.gather(*held), 5) == [0, 0]
    assert watch.waiting == 0
    later = Reads()
    assert await watch.wait_for("acc-1", later, lambda v: v != 0, 30) == 0  # closed: one read, no wait
    assert later.calls == 1


async def test_beyond_its_waiters_bound_a_read_answers_at_once() -> None:
    watch, reads = streaming(max_waiters=1), Reads()
    first = waiting(watch, reads, 30)
    await until_waiting(watch)
    second = Reads()
    assert await watch.wait_for("acc-2", second, lambda v: v != 0, 30) == 0
    assert second.calls == 1
    watch.close()
    await first


async def test_the_writer_wakes_its_own_waiters_without_the_change_stream() -> None:
    """`notify_all` (this process's commit) wakes the waiters of each key named, not the others'."""
    watch, mine, other = streaming(), Reads(), Reads()
    a, b = waiting(watch, mine, 30), waiting(watch, other, 30, key="acc-2")
    await until_waiting(watch, 2)
    await until_read(mine, other)
    mine.value = 1
    watch.notify_all(["acc-1", "acc-9"])
    assert await asyncio.wait_for(a, 5) == 1
    assert not b.done()
    b.cancel()
