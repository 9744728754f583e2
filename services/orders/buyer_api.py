"""HTTP routes of the buyer's side (My KooGallery): favourites and purchased services, with their unsubscribe
requests."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from services.orders import buyer_cases, refund_cases
from services.orders.api import Ctx, Id
from services.orders.catalogue import Favourite
from services.orders.commands import AddFavourite, BuyFavourite, Rate, Renew, RequestUnsubscribe
from services.orders.domain import Order
from services.orders.progress import Progress
from services.orders.queries import ResourceDetails
from shared.platform.auth import Buyer
from shared.schemas import DeliveryType, OrderStatus
from shared.schemas.events import OrderType

router = APIRouter(tags=["buyer"])
Filter = Annotated[str | None, Query(min_length=1, max_length=256)]


@router.post("/favourites", status_code=status.HTTP_201_CREATED)
async def add_favourite(body: AddFavourite, buyer: Buyer, ctx: Ctx) -> Favourite:
    """Add a listed product to the caller's favourites."""
    return await buyer_cases.add_favourite(ctx, buyer.account_id, body.product_id)


@router.get("/favourites")
async def list_favourites(buyer: Buyer, ctx: Ctx) -> list[Favourite]:
    """The caller's favourites."""
    return await ctx.queries.favourites_of(buyer.account_id)


@router.delete("/favourites/{product_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_favourite(product_id: Id, buyer: Buyer, ctx: Ctx) -> Response:
    """Remove a product from the caller's favourites."""
    await buyer_cases.remove_favourite(ctx, buyer.account_id, product_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/favourites/{product_id}/buy", status_code=status.HTTP_201_CREATED)
async def buy_favourite(product_id: Id, body: BuyFavourite, buyer: Buyer, ctx: Ctx) -> Order:
    """Place an order for a favourite product."""
    return await buyer_cases.buy_favourite(ctx, buyer, product_id, body)


@router.get("/purchased-services")
async def purchased_services(
    buyer: Buyer,
    ctx: Ctx,
    status: OrderStatus | None = None,
    delivery_type: DeliveryType | None = None,
    order_type: OrderType | None = None,
    product_id: Filter = None,
    name: Filter = None,
) -> list[Order]:
    """The caller's purchased services, newest first, with optional filters."""
    return await ctx.queries.purchased(buyer.account_id, status, delivery_type, order_type, product_id, name)


@router.get("/purchased-services/{order_id}")
async def resource_details(order_id: Id, buyer: Buyer, ctx: Ctx) -> ResourceDetails:
    """Resource details: the order, the merchant's contacts and the service order's progress."""
    return await ctx.queries.details(buyer.account_id, order_id)


@router.get("/purchased-services/{order_id}/progress")
async def progress(order_id: Id, buyer: Buyer, ctx: Ctx) -> Progress:
    """The service order's progress."""
    return (await ctx.queries.details(buyer.account_id, order_id)).progress


@router.post("/purchased-services/{order_id}/renew", status_code=status.HTTP_201_CREATED)
async def renew(order_id: Id, buyer: Buyer, ctx: Ctx, body: Renew | None = None) -> Order:
    """Place a renewal order for a completed periodic service (no new service order follows)."""
    return await buyer_cases.renew(ctx, buyer.account_id, order_id, body or Renew())


@router.post("/purchased-services/{order_id}/unsubscribe")
async def unsubscribe(order_id: Id, body: RequestUnsubscribe, buyer: Buyer, ctx: Ctx) -> Order:
    """Request an unsubscribe: supervised → a negotiated refund in the guarantee period, decided by the
    merchant (POST /orders/{order_id}/refunds/{refund_id}/decision); unsupervised → 5-day no-reason refund.

    Answers the purchased order; its `unsubscribe_order_id` is the unsubscribe order opened for the request
    (processing while the refund is decided, completed when approved, cancelled when rejected)."""
    return await refund_cases.unsubscribe(ctx, buyer.account_id, order_id, body)


@router.post("/purchased-services/{order_id}/rating")
async def rate(order_id: Id, body: Rate, buyer: Buyer, ctx: Ctx) -> Order:
    """Rate a completed service: quality, after-sales, delivery speed, tags and text."""
    return await buyer_cases.rate(ctx, buyer.account_id, order_id, body)
