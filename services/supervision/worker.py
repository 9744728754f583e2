"""The timer worker: fires the deadlines whose time has come. The deadlines live in Mongo (the service order
and its `timers` rows), so a restart loses none; a lease makes one replica fire them; each firing is its own
transaction with its events in the outbox, and firing a deadline twice does nothing (it is gone after the first).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from pymongo.errors import PyMongoError

from services.supervision.services import SupervisionService
from shared.platform.relay import Lease

log = logging.getLogger("supervision.timers")


class TimerWorker:
    def __init__(self, service: SupervisionService, lease: Lease, poll_seconds: float) -> None:
        self.service, self.lease, self.poll = service, lease, poll_seconds
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                if await self.lease.acquire():
                    while await self.service.fire_due() and not self._stopping.is_set():
                        pass
            except (TimeoutError, PyMongoError, OSError) as exc:
                log.warning("timer round failed, will retry: %s", exc)
            except Exception:
                log.exception("timer round failed, will retry")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.poll)

    async def stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(Exception):
            await self.lease.release()
