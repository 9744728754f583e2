"""Events of different topics arrive in any order. An event about an order whose order.paid has not arrived
yet either merges its fact into the order's record (earnings.py), or waits for it: `NotYetKnown` makes the
consumer park the event, and it is handled again once order.paid arrives (handlers.py tells the parking)."""

from __future__ import annotations

from datetime import datetime

from services.partner.store import PartnerUnitOfWork
from shared.platform.errors import NotYetKnown
from shared.schemas import OrderPaid


async def remember_payment(uow: PartnerUnitOfWork, event: OrderPaid, now: datetime) -> None:
    """Every payment is remembered, so events of other topics about the order know it arrived."""
    await uow.paid_orders.remember(event.payload.order_id, event.payload.paid_at)


async def known_paid(uow: PartnerUnitOfWork, order_id: str) -> bool:
    """Whether order.paid of the order was handled. Orders paid before partner remembered every payment are
    known by what order.paid left: the SaaS sale, or the amount on the provider-bound order."""
    if await uow.paid_orders.get(order_id) is not None or await uow.sales.get(order_id) is not None:
        return True
    bound = await uow.orders.get(order_id)
    return bound is not None and bound.amount is not None


async def after_payment(uow: PartnerUnitOfWork, order_id: str, why: str) -> None:
    """Go on only once the order's order.paid was handled; until then the event waits for it."""
    if not await known_paid(uow, order_id):
        raise NotYetKnown(order_id, why)
