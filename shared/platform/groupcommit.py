"""Group commit: many small writes that arrive at once go to the database as one.

Each caller submits its item and waits until the write that carries it has finished (or failed: then every
caller of that write gets the error, and nothing is reported done that is not stored). A write goes as soon as
nothing else is being written, so a lone item costs no wait; items that arrive while a write is under way
go together in the next one. Under load the writes grow by themselves, up to `max_items`.

Used where requests each write one small thing and many come at once: the SMS provider's status callbacks
(two for every SMS) were one update each, a good share of the notification service's database work.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupCommit(Generic[T]):
    def __init__(self, write: Callable[[list[T]], Awaitable[None]], max_items: int = 500) -> None:
        self._write, self.max_items = write, max_items
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.writes = 0  # how many writes carried the items so far

    async def submit(self, item: T) -> None:
        """Return once `item` is written; raise what its write raised."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, done))
        if self._writer is None or self._writer.done():
            # A context of its own: the write is no one caller's (not the first one's keyed request, say).
            self._writer = asyncio.create_task(
                self._drain(), name="group-commit", context=contextvars.Context()
            )
        # A caller that gives up (a cancelled request) does not cancel the write the others wait for.
        await asyncio.shield(done)

    async def _drain(self) -> None:
        while self._pending:
            group, self._pending = self._pending[: self.max_items], self._pending[self.max_items :]
            self.writes += 1
            try:
                await self._write([item for item, _ in group])
            except Exception as exc:
                _settle(group, exc)
            except BaseException:  # cancelled (shutdown): no caller waits for an answer that cannot come
                _settle(group + self._pending, RuntimeError("the write was cancelled"))
                self._pending = []
                raise
            else:
                _settle(group, None)


def _settle(group: list[tuple[T, asyncio.Future[None]]], error: Exception | None) -> None:
    for _, done in group:
        if done.done():
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)
