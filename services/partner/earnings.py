"""The earning side of the events partner consumes: learn each order's provider binding and acceptance, accrue
the earning once both are known (exactly once), reverse it on an approved refund, and never accrue for an
order cancelled before its acceptance.

Each handler runs in the unit of work of its event (services.py), so what it writes commits with the event's
inbox claim. order.paid and acceptance.done need no parking: whichever comes first is merged into the order's
record, created on first sight, and the earning accrues when the second one brings what is missing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from services.partner.domain import BoundOrder, LedgerEntry, accrue, refund
from services.partner.incentives import scenario_for
from services.partner.ordering import after_payment
from services.partner.programme import ProductTerms
from services.partner.store import PartnerUnitOfWork
from shared.schemas import AcceptanceDone, OrderPaid, OrderStatus, OrderStatusChanged, RefundDecided


async def learn(
    uow: PartnerUnitOfWork, order_id: str, fact: Callable[[BoundOrder], None], now: datetime
) -> LedgerEntry | None:
    """Merge a fact into the order's record; accrue the earning if that completes it."""
    order = await uow.orders.of(order_id)
    fact(order)
    entry = None
    if order.ready_to_accrue() and order.provider_id is not None:
        assoc = await uow.customers.get(order.customer_id) if order.customer_id else None
        order.scenario = scenario_for(
            order.provider_id,
            assoc.reseller_id if assoc else None,
            assoc.registration_column if assoc else None,
        )
        entry = accrue(order, now)
        await uow.ledger.add(entry)
    await uow.orders.save(order)
    return entry


# --- order.paid -------------------------------------------------------------------------------------------
async def binds_a_provider(uow: PartnerUnitOfWork, event: OrderPaid) -> bool:
    return event.payload.parties.provider_id is not None or event.payload.offer_id is not None


async def bind_provider(uow: PartnerUnitOfWork, event: OrderPaid, now: datetime) -> LedgerEntry | None:
    """Learn the order's provider (from its parties, or from the merchant's private offer of a joint-selling
    demand, which the order then wins), its amount and its share ratio and tax rates."""
    p = event.payload
    offered = await win_demand(uow, event)
    provider = p.parties.provider_id or offered
    if provider is None:
        return None
    terms = await uow.terms.get(p.product.product_id)
    if terms is not None and terms.merchant_id != p.parties.merchant_account_id:
        terms = None  # terms another merchant claimed for this product never shape this order's earning
    return await learn(uow, p.order_id, lambda order: learn_payment(order, event, provider, terms), now)


async def win_demand(uow: PartnerUnitOfWork, event: OrderPaid) -> str | None:
    """§7.5 step 3 (需求成交): an order placed with the private offer that answered a demand wins the demand.
    The offer's provider, if any."""
    p = event.payload
    offer = await uow.offers.get(p.offer_id) if p.offer_id is not None else None
    if offer is None:
        return None
    demand = await uow.demands.get(offer.demand_id) if offer.demand_id else None
    usable = offer.usable(p.parties.buyer_account_id, p.product.product_id, p.paid_at)
    if demand is not None and usable and demand.win(p.order_id):
        await uow.demands.save(demand)
    return offer.provider_id


def learn_payment(order: BoundOrder, event: OrderPaid, provider: str, terms: ProductTerms | None) -> None:
    p = event.payload
    order.provider_id, order.amount, order.currency = provider, p.amount, p.currency
    order.customer_id, order.product_id = p.parties.buyer_account_id, p.product.product_id
    order.share_ratio = p.product.provider_share_ratio
    if order.share_ratio is None and terms is not None:
        order.share_ratio = terms.share_ratio
    if terms is not None:
        order.floor_price = terms.floor_price
        if terms.vat_rate is not None:
            order.vat_rate = terms.vat_rate
        if terms.service_fee_tax_rate is not None:
            order.fee_tax_rate = terms.service_fee_tax_rate
    if not p.product.delivery_type.supervised:
        order.accepted_at = p.paid_at  # §4.3: supervision "not applicable" counts as complete


# --- acceptance.done --------------------------------------------------------------------------------------
async def may_earn(uow: PartnerUnitOfWork, event: AcceptanceDone) -> bool:
    """acceptance.done carries the order's parties: without a provider there is nothing to earn (an offer's
    provider comes with a private link, which puts it in the parties), unless order.paid bound one already."""
    p = event.payload
    return p.parties.provider_id is not None or await uow.orders.get(p.order_id) is not None


async def accrue_on_acceptance(
    uow: PartnerUnitOfWork, event: AcceptanceDone, now: datetime
) -> LedgerEntry | None:
    p = event.payload

    def accepted(order: BoundOrder) -> None:
        order.accepted_at = p.accepted_at
        order.customer_id = order.customer_id or p.parties.buyer_account_id

    return await learn(uow, p.order_id, accepted, now)


# --- refund.decided ---------------------------------------------------------------------------------------
async def approved(uow: PartnerUnitOfWork, event: RefundDecided) -> bool:
    return event.payload.approved


async def reverse_earning(uow: PartnerUnitOfWork, event: RefundDecided, now: datetime) -> LedgerEntry | None:
    """An approved refund (decided by orders, the refunds' one owner) reverses the refunded share of the
    earning; before acceptance the order never accrues. It waits for the order's order.paid, so it reverses
    the earning that order.paid and acceptance.done make in the same way whichever order the three come in."""
    p = event.payload
    await after_payment(
        uow, p.order_id, f"refund {p.refund_id} of order {p.order_id} came before the order's order.paid"
    )
    if p.parties.provider_id is None and await uow.orders.get(p.order_id) is None:
        return None
    order = await uow.orders.of(p.order_id)
    entry = refund(order, p.refund_id, p.amount, now)
    if entry is not None:
        await uow.ledger.add(entry)
    await uow.orders.save(order)
    return entry


# --- order.status_changed ---------------------------------------------------------------------------------
def is_cancellation(event: OrderStatusChanged) -> bool:
    return event.payload.to_status == OrderStatus.CANCELLED and event.payload.parties.provider_id is not None


async def cancelled(uow: PartnerUnitOfWork, event: OrderStatusChanged) -> bool:
    return is_cancellation(event)


async def forgo_earning(uow: PartnerUnitOfWork, event: OrderStatusChanged, now: datetime) -> None:
    """An order cancelled before acceptance never earns. It needs no parking: only an unpaid order is
    cancelled, so no order.paid follows, and the record it leaves keeps the earning from ever accruing."""
    order = await uow.orders.of(event.payload.order_id)
    if not order.accrued:
        order.cancelled = True
        await uow.orders.save(order)
