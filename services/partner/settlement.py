"""Use cases of settlement (dossier §7.6, §4.3): a provider's bills from its ledger, and its invoices. The
rules are billing.py's; the schedule that runs the bills on the 3rd is bill_runs.py."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Literal

from services.partner import billing
from services.partner.billing import Bill
from services.partner.deps import Deps
from services.partner.store import PartnerUnitOfWork
from shared.platform.auth import Principal, require_party
from shared.platform.errors import DomainError, NotFound


async def generate_bills(deps: Deps, provider_id: str, month: str | None, quarter: str | None) -> list[Bill]:
    """A provider's basic-incentive bills of a month and / or performance bills of a quarter, per tax rate;
    the basic bills mark the ledger entries they settle; each is in review and its provider is told. A bill
    that exists already is refused, never made again."""

    async def work(uow: PartnerUnitOfWork) -> list[Bill]:
        entries, now, cid = await uow.ledger.of(provider_id), deps.clock(), uuid.uuid4().hex
        bills = billing.basic_bills(provider_id, month, entries, now) if month else []
        if quarter:
            rate = deps.settings.performance_incentive_rate
            bills += billing.performance_bills(provider_id, quarter, entries, rate, now)
        for bill in bills:
            if await uow.bills.get(bill.bill_id) is not None:
                raise DomainError(f"bill {bill.bill_id} was already generated")
            await uow.bills.add(bill)
            uow.emit(billing.status_notice(bill, cid))
            if bill.kind == "basic":
                await uow.ledger.mark_billed(bill.entry_ids, bill.bill_id)
        await uow.commit()
        return bills

    return await deps.uow.run(work)


async def invoice(
    deps: Deps, caller: Principal, provider_id: str, bill_id: str, invoice_no: str, amount: Decimal
) -> Bill:
    """§7.6: the provider invoices its own bills."""
    require_party(caller, provider_id, what=f"provider {provider_id}'s bills")

    async def work(uow: PartnerUnitOfWork) -> Bill:
        bill = await uow.bills.get(bill_id)
        if bill is None or bill.provider_id != provider_id:
            raise NotFound(f"no bill {bill_id} of this provider")
        billing.record_invoice(bill, invoice_no, amount, deps.clock())
        await uow.bills.save(bill)
        await uow.commit()
        return bill

    return await deps.uow.run(work)


async def move_bill(
    deps: Deps, operator: Principal, provider_id: str, bill_id: str, to: Literal["sent", "paid"]
) -> Bill:
    """§7.6: an operator sends a reviewed bill to its provider, or records a sent one paid; the provider is
    told."""

    async def work(uow: PartnerUnitOfWork) -> Bill:
        bill = await uow.bills.get(bill_id)
        if bill is None or bill.provider_id != provider_id:
            raise NotFound(f"no bill {bill_id} of provider {provider_id}", field="bill_id")
        billing.move(bill, to, operator.account_id, deps.clock())
        await uow.bills.save(bill)
        uow.emit(billing.status_notice(bill, uuid.uuid4().hex))
        await uow.commit()
        return bill

    return await deps.uow.run(work)
