"""HTTP routes of the lists (dossier §9.2, §2.1) and of what a buyer tells its merchant about an order: the
buyer's and the merchant's order lists (operators see all), the operators' review queue, the buyer's reminder
(催促) and invoice request."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import AwareDatetime

from services.orders import notice_cases
from services.orders.api import Ctx, Id
from services.orders.commands import RemindSeller, RequestInvoice
from services.orders.domain import Order
from services.orders.invoices import InvoiceRequest
from services.orders.lists import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    OrderFilter,
    OrderRow,
    Page,
    ReviewFilter,
    ReviewRow,
)
from shared.platform.auth import Buyer, Operator, Principal, require_role
from shared.schemas import DeliveryType, OrderStatus
from shared.schemas.events import OrderType

router = APIRouter()
Filter = Annotated[str | None, Query(min_length=1, max_length=128)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(min_length=1, max_length=512, description="next_cursor of a page")]
OrderViewer = Annotated[
    Principal, require_role("buyer", "merchant", "operator", rule="buyers_merchants_and_operators_only")
]


@router.get("/orders", tags=["orders"])
async def list_orders(
    viewer: OrderViewer,
    ctx: Ctx,
    status: OrderStatus | None = None,
    order_type: OrderType | None = None,
    product_id: Filter = None,
    order_id: Filter = None,
    placed_from: AwareDatetime | None = None,
    placed_to: AwareDatetime | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[OrderRow]:
    """The caller's orders (a buyer's purchases, a merchant's sales; operators: every order), newest first,
    filtered, a page at a time."""
    f = OrderFilter(
        status=status,
        order_type=order_type,
        product_id=product_id,
        order_id=order_id,
        placed_from=placed_from,
        placed_to=placed_to,
    )
    return await ctx.queries.orders_page(viewer, f, cursor, limit)


@router.post("/orders/{order_id}/reminders", tags=["orders"])
async def remind_merchant(order_id: Id, buyer: Buyer, ctx: Ctx, body: RemindSeller | None = None) -> Order:
    """Remind the merchant of an order in progress (催促; its buyer only, once a day per order: 429 with
    Retry-After otherwise)."""
    return await notice_cases.remind_merchant(ctx, buyer, order_id, body or RemindSeller())


@router.post("/orders/{order_id}/invoice-requests", tags=["orders"], status_code=status.HTTP_201_CREATED)
async def request_invoice(order_id: Id, body: RequestInvoice, buyer: Buyer, ctx: Ctx) -> InvoiceRequest:
    """Ask the merchant for an invoice of a paid order (its buyer only, once per order)."""
    return await notice_cases.request_invoice(ctx, buyer, order_id, body)


@router.get("/operator/product-reviews", tags=["catalogue"])
async def review_queue(
    _: Operator,
    ctx: Ctx,
    delivery_type: DeliveryType | None = None,
    merchant_account_id: Filter = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[ReviewRow]:
    """Products awaiting the listing review, the longest waiting first (operators only)."""
    f = ReviewFilter(delivery_type=delivery_type, merchant_account_id=merchant_account_id)
    return await ctx.queries.review_queue(f, cursor, limit)
