"""HTTP routes of the buyer's side (My KooGallery): favourites and purchased services."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from services.orders.buyer_cases import ResourceDetails
from services.orders.commands import AddFavourite, BuyFavourite, Rate, Renew, RequestUnsubscribe
from services.orders.domain import Order
from services.orders.progress import Progress
from services.orders.services import OrdersService
from services.orders.store import Favourite
from shared.platform.http import AccountId
from shared.schemas import DeliveryType, OrderStatus
from shared.schemas.events import OrderType

router = APIRouter(tags=["buyer"])


def _svc(request: Request) -> OrdersService:
    service: OrdersService = request.app.state.orders
    return service


@router.post("/favourites", status_code=status.HTTP_201_CREATED)
async def add_favourite(body: AddFavourite, buyer: AccountId, request: Request) -> Favourite:
    """Add a listed product to the caller's favourites."""
    return await _svc(request).add_favourite(buyer, body.product_id)


@router.get("/favourites")
async def list_favourites(buyer: AccountId, request: Request) -> list[Favourite]:
    """The caller's favourites."""
    return await _svc(request).list_favourites(buyer)


@router.delete("/favourites/{product_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_favourite(product_id: str, buyer: AccountId, request: Request) -> Response:
    """Remove a product from the caller's favourites."""
    await _svc(request).remove_favourite(buyer, product_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/favourites/{product_id}/buy", status_code=status.HTTP_201_CREATED)
async def buy_favourite(product_id: str, body: BuyFavourite, buyer: AccountId, request: Request) -> Order:
    """Place an order for a favourite product."""
    return await _svc(request).buy_favourite(buyer, product_id, body)


@router.get("/purchased-services")
async def purchased_services(buyer: AccountId, request: Request, status: OrderStatus | None = None,
                             delivery_type: DeliveryType | None = None, order_type: OrderType | None = None,
                             product_id: str | None = None, name: str | None = None) -> list[Order]:
    """The caller's purchased services, newest first, with optional filters."""
    return await _svc(request).purchased(buyer, status, delivery_type, order_type, product_id, name)


@router.get("/purchased-services/{order_id}")
async def resource_details(order_id: str, buyer: AccountId, request: Request) -> ResourceDetails:
    """Resource details: the order, the merchant's contacts and the service order's progress."""
    return await _svc(request).details(buyer, order_id)


@router.get("/purchased-services/{order_id}/progress")
async def progress(order_id: str, buyer: AccountId, request: Request) -> Progress:
    """The service order's progress."""
    return (await _svc(request).details(buyer, order_id)).progress


@router.post("/purchased-services/{order_id}/renew", status_code=status.HTTP_201_CREATED)
async def renew(order_id: str, buyer: AccountId, request: Request, body: Renew | None = None) -> Order:
    """Place a renewal order for a completed periodic service (no new service order follows)."""
    return await _svc(request).renew(buyer, order_id, body or Renew())


@router.post("/purchased-services/{order_id}/unsubscribe")
async def unsubscribe(order_id: str, body: RequestUnsubscribe, buyer: AccountId, request: Request) -> Order:
    """Request an unsubscribe: supervised → the merchant decides; unsupervised → 5-day no-reason refund.

    Answers the purchased order; its `unsubscribe_order_id` is the unsubscribe order opened for the request
    (processing while the refund is decided, completed when approved, cancelled when rejected)."""
    return await _svc(request).unsubscribe(buyer, order_id, body)


@router.post("/purchased-services/{order_id}/rating")
async def rate(order_id: str, body: Rate, buyer: AccountId, request: Request) -> Order:
    """Rate a completed service: quality, after-sales, delivery speed, tags and text."""
    return await _svc(request).rate(buyer, order_id, body)
