"""The scheduled bill runs (dossier §4.3: billing runs on the 3rd of the next month; §7.6: monthly basic-incentive
bills, quarterly performance bills). A run is recorded in Mongo once done, so a restart or a second replica
never runs a period twice; the lease keeps one replica at it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.partner.selling import Selling
from shared.platform.errors import DomainError
from shared.platform.mongo import Doc
from shared.platform.relay import Lease

log = logging.getLogger("partner.bills")


def _month_start(year: int, month: int) -> datetime:
    return datetime(year + (month - 1) // 12, (month - 1) % 12 + 1, 1, tzinfo=UTC)


def due_month(now: datetime, run_day: int = 3) -> str:
    """The latest month whose bill run day (the 3rd of the month after it) has come."""
    back = 1 if now >= _month_start(now.year, now.month) + timedelta(days=run_day - 1) else 2
    start = _month_start(now.year, now.month - back)
    return f"{start.year}{start.month:02d}"


def due_quarter(now: datetime, run_day: int = 3) -> str:
    """The latest quarter whose bill run day (the 3rd of the month after it) has come."""
    period = due_month(now, run_day)
    year, q = int(period[:4]), int(period[4:]) // 3  # due once its last month is; month 1 or 2 → last year's Q4
    if q == 0:
        year, q = year - 1, 4
    return f"{year}Q{q}"


class BillScheduler:
    def __init__(self, db: AsyncDatabase[Doc], selling: Selling, lease: Lease, clock: Callable[[], datetime],
                 poll_s: float, run_day: int = 3) -> None:
        self.db, self.selling, self.lease, self.clock = db, selling, lease, clock
        self.poll_s, self.run_day = poll_s, run_day

    async def run(self) -> None:
        while True:
            try:
                if await self.lease.acquire():
                    await self.run_once(self.clock())
            except Exception:
                log.exception("bill run failed, will retry")
            await asyncio.sleep(self.poll_s)

    async def run_once(self, now: datetime) -> list[str]:
        """Run whichever periods are due and not yet run; returns the run ids it completed."""
        done = []
        for run_id, month, quarter in ((f"basic:{due_month(now, self.run_day)}", due_month(now, self.run_day), None),
                                       (f"performance:{due_quarter(now, self.run_day)}", None,
                                        due_quarter(now, self.run_day))):
            if await self.db["bill_runs"].find_one({"_id": run_id}) is not None:
                continue
            providers = await self.db["ledger"].distinct("provider_id")
            for provider in providers:
                with contextlib.suppress(DomainError):  # that provider's bill exists already: a rerun
                    await self.selling.generate(provider, month, quarter)
            with contextlib.suppress(DuplicateKeyError):
                await self.db["bill_runs"].insert_one({"_id": run_id, "providers": len(providers), "at": now})
            done.append(run_id)
        return done
