"""The unpaid-order sweeper: cancels orders left unpaid past their due time (dossier §1.3, "cancelled ...
automatically by the system").

The due time (`pay_by`) is on the order document itself, so it survives restarts; one replica sweeps at a
time (a Lease in Mongo); each cancellation and its order.status_changed commit in one unit of work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from pymongo.errors import PyMongoError

from shared.platform.relay import Lease

log = logging.getLogger("orders.sweeper")


class Sweeps(Protocol):
    async def cancel_overdue(self) -> int: ...


class UnpaidSweeper:
    def __init__(self, cases: Sweeps, lease: Lease, poll_seconds: float) -> None:
        self.cases, self.lease, self.poll = cases, lease, poll_seconds
        self._stop = asyncio.Event()

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                if await self.lease.acquire():
                    cancelled = await self.cases.cancel_overdue()
                    if cancelled:
                        log.info("cancelled %d unpaid orders", cancelled)
            except (TimeoutError, PyMongoError, OSError) as exc:
                log.warning("unpaid sweep failed, will retry: %s", exc)
            except Exception:
                log.exception("unpaid sweep failed, will retry")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.poll)

    async def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(Exception):
            await self.lease.release()
