"""The scheduled bill runs (dossier §4.3: billing runs on the 3rd of the next month; §7.6: monthly
basic-incentive bills, quarterly performance bills), as a source of the shared leased worker. Months are
Beijing months, as in orders (dossier §4.3, §7.6: the platform's calendar is UTC+8).

Its items are the due periods not yet run: `basic:<yyyymm>` and `performance:<yyyy>Q<n>`. A run bills every
provider with ledger entries, and is recorded once all of them are billed, so a restart or a second replica
never runs a period twice (a provider's bill that exists already is not made again). One provider's bill
failing does not stop the other providers' bills; the period is then retried by the worker (with backoff, then
quarantined), and one period's failure never holds up the other."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from services.partner.billing import Bill
from services.partner.deps import Deps
from services.partner.settlement import generate_bills
from services.partner.store import PartnerUnitOfWork
from shared.platform.errors import DomainError
from shared.platform.worker import Blocked
from shared.workdays import BEIJING

log = logging.getLogger("partner.bills")


def _month_start(year: int, month: int) -> datetime:
    return datetime(year + (month - 1) // 12, (month - 1) % 12 + 1, 1, tzinfo=BEIJING)


def due_month(now: datetime, run_day: int = 3) -> str:
    """The latest month whose bill run day (the 3rd of the month after it, Beijing time) has come."""
    local = now.astimezone(BEIJING)
    back = 1 if local >= _month_start(local.year, local.month) + timedelta(days=run_day - 1) else 2
    start = _month_start(local.year, local.month - back)
    return f"{start.year}{start.month:02d}"


def due_quarter(now: datetime, run_day: int = 3) -> str:
    """The latest quarter whose bill run day (the 3rd of the month after it) has come."""
    period = due_month(now, run_day)
    year, q = (
        int(period[:4]),
        int(period[4:]) // 3,
    )  # due once its last month is; month 1 or 2 → last year's Q4
    if q == 0:
        year, q = year - 1, 4
    return f"{year}Q{q}"


class BillRunIncomplete(Exception):
    """Some providers' bills of a period failed; the others were made. The worker retries the period."""


Generate = Callable[[Deps, str, str | None, str | None], Awaitable[list[Bill]]]


class BillRuns:
    name = "bill-runs"

    def __init__(self, deps: Deps, generate: Generate = generate_bills) -> None:
        self.deps, self.generate = deps, generate
        self.uow, self.clock, self.run_day = deps.uow, deps.clock, deps.settings.bill_run_day

    def periods(self, now: datetime) -> dict[str, tuple[str | None, str | None]]:
        """The runs due at `now`: run id → (month, quarter)."""
        month, quarter = due_month(now, self.run_day), due_quarter(now, self.run_day)
        return {f"basic:{month}": (month, None), f"performance:{quarter}": (None, quarter)}

    def key(self, item: str) -> str:
        return item

    async def due(self, now: datetime, limit: int, blocked: Blocked) -> list[str]:
        wanted = [run_id for run_id in self.periods(now) if run_id not in blocked.all]

        async def load(uow: PartnerUnitOfWork) -> set[str]:
            return await uow.bill_runs.done(wanted)

        done = await self.uow.run(load) if wanted else set()
        return [run_id for run_id in wanted if run_id not in done][:limit]

    async def process(self, item: str) -> None:
        kind, period = item.split(":", 1)
        month, quarter = (period, None) if kind == "basic" else (None, period)

        async def providers(uow: PartnerUnitOfWork) -> list[str]:
            return await uow.ledger.providers()

        everyone = await self.uow.run(providers)
        failed: dict[str, Exception] = {}
        for provider in everyone:
            try:
                await self.generate(self.deps, provider, month, quarter)
            except DomainError as exc:
                if exc.transient:
                    failed[provider] = exc
                # else: that provider's bill exists already (a rerun)
            except Exception as exc:
                log.exception("bill run %s: provider %s's bill failed", item, provider)
                failed[provider] = exc
        if failed:
            first = next(iter(failed.values()))
            raise BillRunIncomplete(
                f"{item}: the bills of {len(failed)} of {len(everyone)} providers failed "
                f"({', '.join(sorted(failed)[:5])}): {first}"
            ) from first

        async def record(uow: PartnerUnitOfWork) -> None:
            await uow.bill_runs.record(item, len(everyone), self.clock())
            await uow.commit()

        await self.uow.run(record)
        log.info("bill run %s done: %d providers", item, len(everyone))

    async def run_once(self, now: datetime) -> list[str]:
        """Run the periods due at `now` that were not run yet, here and now (the worker does this on its
        schedule; tests and operators call it with another `now`); returns the run ids it completed."""
        done = []
        for run_id in await self.due(now, len(self.periods(now)), Blocked()):
            await self.process(run_id)
            done.append(run_id)
        return done
