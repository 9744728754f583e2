"""The orders service's scheduled work besides the unpaid-order sweeper (sweeper.py), as sources of the shared
leased worker: one replica at a time, each item in its own unit of work, a failing item retried with backoff
and finally quarantined (reported in /readyz) without holding up the others.

- `ReturnClocks`: hardware unsubscribes whose clock has come (returns.py: 15 days pending acceptance, 7
  working days unreviewed). The item is the order id; a fired clock is closed in the same write, so a rerun
  does nothing.
- `StatementRuns`: the monthly settlement statements (statements.py), due from the 7th (or the next working
  day) at the statement hour. The item is the month (`statements:<YYYY-MM>`) while it is not recorded as run;
  a merchant's statement is made once however often the month runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.orders import refund_cases, statement_cases, statements
from services.orders.billing import Period
from services.orders.context import OrdersContext
from services.orders.settings import OrdersSettings
from shared.platform.worker import Blocked, IdSource, WorkerSettings
from shared.workdays import WorkdayCalendar


@dataclass
class ReturnClocks(IdSource):
    ctx: OrdersContext
    name = "orders-return-clocks"

    async def due(self, now: datetime, limit: int, blocked: Blocked) -> list[str]:
        return await refund_cases.clocks_due(self.ctx, now, limit, blocked)

    async def process(self, item: str) -> None:
        await refund_cases.run_clock(self.ctx, item)


@dataclass
class StatementRuns(IdSource):
    ctx: OrdersContext
    calendar: WorkdayCalendar = field(default_factory=WorkdayCalendar)
    name = "orders-statements"

    async def due(self, now: datetime, limit: int, blocked: Blocked) -> list[str]:
        period = statements.due_period(now, self.calendar, self.ctx.settings.statement_hour)
        run_id = f"{statement_cases.RUN}{period}"
        if run_id in blocked.all or limit < 1:
            return []
        async with self.ctx.uow() as uow:
            done = await uow.statement_runs.get(run_id)
        return [] if done is not None else [run_id]

    async def process(self, item: str) -> None:
        await statement_cases.produce(self.ctx, Period.parse(item.removeprefix(statement_cases.RUN)))


def clocks_worker(settings: OrdersSettings) -> WorkerSettings:
    """A few at once; a failing one backs off from `clocks_backoff_seconds` doubling to 5 minutes and is
    quarantined after `clocks_max_attempts`."""
    return WorkerSettings.from_settings(settings, "clocks", concurrency=2)
