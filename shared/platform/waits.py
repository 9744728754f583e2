"""Waiting reads: a request that waits for the next insert under a key (an account's in-site inbox) instead of
asking again and again.

One change stream per process on the collection, of inserts only and of the key's field only, wakes the
waiters of each inserted row's key; the waiter reads again and answers once its read has changed. While the
stream is away (the database restarting, a server without change streams), waiters read again every
`fallback_seconds` instead, so a missed wake-up costs at most that. The process that wrote the insert wakes
its own waiters as soon as its transaction commits (`notify_all`), a change stream's hop sooner. Each replica
has its own stream: a waiter on any replica hears every insert, whichever replica wrote it.

The HTTP server closes the watch as soon as it is told to stop (before it waits for open requests to end): the
waiters answer with what they have at once, and a rolling restart does not wait out their timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from pymongo.asynchronous.database import AsyncDatabase

from shared.platform.mongo import Doc

log = logging.getLogger("waits")

T = TypeVar("T")


class InsertWatch:
    """Waiters keyed by one field of a collection's rows, woken by the inserts that carry their key."""

    def __init__(
        self,
        db: AsyncDatabase[Doc] | None,
        collection: str,
        key: str,
        *,
        fallback_seconds: float = 0.5,
        max_waiters: int = 5000,
    ) -> None:
        self.db, self.collection, self.key = db, collection, key
        self.fallback_seconds = fallback_seconds
        self.max_waiters = max_waiters  # beyond it a read answers at once: a held request per waiter
        self.streaming = False
        self.closed = False
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._count = 0

    @property
    def waiting(self) -> int:
        return self._count

    def notify(self, key: Any) -> None:
        """Wake the waiters of `key` (an insert under it was seen)."""
        for event in self._waiters.get(str(key), ()):
            event.set()

    def notify_all(self, keys: Iterable[Any]) -> None:
        """Wake the waiters of each of `keys` (this process committed inserts under them: no need to wait
        for the change stream to say so)."""
        for key in keys:
            self.notify(key)

    def close(self) -> None:
        """Wake every waiter for good: each answers with its latest read."""
        self.closed = True
        for events in self._waiters.values():
            for event in events:
                event.set()

    async def wait_for(
        self,
        key: str,
        read: Callable[[], Awaitable[T]],
        changed: Callable[[T], bool],
        seconds: float,
    ) -> T:
        """`read()` until `changed(result)` or `seconds` pass, waiting between reads for an insert under
        `key`; the last read is the answer. With no time to wait, or too many waiting, one read."""
        if seconds <= 0 or self.closed or self._count >= self.max_waiters:
            return await read()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        event = asyncio.Event()
        self._waiters.setdefault(key, set()).add(event)
        self._count += 1
        try:
            while True:
                # Cleared before the read: an insert during the read sets it again, and the next read sees it.
                event.clear()
                result = await read()
                remaining = deadline - loop.time()
                if changed(result) or remaining <= 0 or self.closed:
                    return result
                timeout = remaining if self.streaming else min(remaining, self.fallback_seconds)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), timeout)
        finally:
            self._count -= 1
            events = self._waiters[key]
            events.discard(event)
            if not events:
                del self._waiters[key]

    async def run(self) -> None:
        """The change stream, reopened after a failure (waiters poll meanwhile); ends when cancelled."""
        if self.db is None:
            return
        pipeline: list[Doc] = [
            {"$match": {"operationType": "insert"}},
            {"$project": {f"fullDocument.{self.key}": 1}},
        ]
        while not self.closed:
            try:
                async with await self.db[self.collection].watch(pipeline) as stream:
                    self.streaming = True
                    async for change in stream:
                        self.notify((change.get("fullDocument") or {}).get(self.key))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info("change stream on %s unavailable, waiters poll (%s)", self.collection, exc)
            finally:
                self.streaming = False
            # Inserts between the failure and the next stream are not heard: every waiter reads again.
            for events in self._waiters.values():
                for event in events:
                    event.set()
            await asyncio.sleep(max(1.0, self.fallback_seconds))
