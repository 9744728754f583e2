"""HTTP routes of hardware returns (退货, dossier §1.4): the buyer ships the goods of its unsubscribe back,
the merchant confirms them or reports an exception. Thin adapters onto refund_cases.py (rules: returns.py)."""

from __future__ import annotations

from fastapi import APIRouter

from services.orders import refund_cases
from services.orders.api import Ctx, Id, RefundId
from services.orders.commands import ReturnAcceptance, ShipReturn
from services.orders.domain import Order
from shared.platform.auth import Buyer, Merchant

router = APIRouter(tags=["orders"])


@router.post("/purchased-services/{order_id}/unsubscribe/{refund_id}/shipment", tags=["buyer"])
async def ship_return(order_id: Id, refund_id: RefundId, body: ShipReturn, buyer: Buyer, ctx: Ctx) -> Order:
    """The goods of a hardware unsubscribe were shipped back: pending acceptance for 15 days (its buyer)."""
    return await refund_cases.ship_return(ctx, buyer.account_id, order_id, refund_id, body)


@router.post("/orders/{order_id}/refunds/{refund_id}/return")
async def accept_return(
    order_id: Id, refund_id: RefundId, body: ReturnAcceptance, merchant: Merchant, ctx: Ctx
) -> Order:
    """Confirm the returned goods (the unsubscribe is refunded) or report an exception with its description
    (the order's merchant); unconfirmed after 15 days, the system accepts them."""
    return await refund_cases.accept_return(ctx, merchant, order_id, refund_id, body)
