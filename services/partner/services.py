"""Use cases: learn each order's provider binding and acceptance; accrue the earning once both are known."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from pydantic import BaseModel
from pymongo.asynchronous.database import AsyncDatabase

from services.partner.domain import BoundOrder, LedgerEntry, accrue
from services.partner.store import PartnerUnitOfWork
from shared.platform.mongo import Doc, UnitOfWorkFactory
from shared.schemas import AcceptanceDone, Money, OrderPaid

CONSUMER = "partner"


class ProviderLedger(BaseModel):
    provider_id: str
    total: Money
    currency: str
    entries: list[LedgerEntry]


class PartnerService:
    def __init__(self, uow: UnitOfWorkFactory[PartnerUnitOfWork]) -> None:
        self.uow = uow

    async def on_order_paid(self, event: OrderPaid) -> LedgerEntry | None:
        p = event.payload

        def learn(order: BoundOrder) -> None:
            order.provider_id, order.amount, order.currency = p.parties.provider_id, p.amount, p.currency
            order.share_ratio = p.product.provider_share_ratio
            if not p.product.delivery_type.supervised:
                order.accepted_at = p.paid_at

        if p.parties.provider_id is None:
            return None  # no provider bound: nothing will ever accrue for this order
        return await self._apply(event, p.order_id, learn)

    async def on_acceptance_done(self, event: AcceptanceDone) -> LedgerEntry | None:
        def learn(order: BoundOrder) -> None:
            order.accepted_at = event.payload.accepted_at

        if event.payload.parties.provider_id is None:
            return None
        return await self._apply(event, event.payload.order_id, learn)

    async def _apply(self, event: OrderPaid | AcceptanceDone, order_id: str,
                     learn: Callable[[BoundOrder], None]) -> LedgerEntry | None:
        async def work(uow: PartnerUnitOfWork) -> LedgerEntry | None:
            if not await uow.claim(CONSUMER, event):
                return None
            order = await uow.order(order_id)
            learn(order)
            entry = accrue(order, datetime.now(UTC)) if order.ready_to_accrue() else None
            if entry is not None:
                await uow.ledger.add(entry)
            await uow.orders.save(order)
            await uow.commit()
            return entry

        return await self.uow.run(work)


async def ledger(db: AsyncDatabase[Doc], provider_id: str) -> ProviderLedger:
    """A provider's live ledger (the marketplace itself only shows it monthly)."""
    docs = await db["ledger"].find({"provider_id": provider_id}).sort("at", -1).to_list(None)
    entries = [LedgerEntry.model_validate(d) for d in docs]
    total = sum((e.amount for e in entries), start=Decimal("0.00"))
    return ProviderLedger(provider_id=provider_id, total=total,
                          currency=entries[0].currency if entries else "CNY", entries=entries)
