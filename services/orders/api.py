"""HTTP routes: thin adapters onto the use cases."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from services.orders.domain import Account, Order
from services.orders.services import OrdersService, PlaceOrder, RegisterAccount
from shared.platform.http import AccountId

router = APIRouter()


def _svc(request: Request) -> OrdersService:
    service: OrdersService = request.app.state.orders
    return service


@router.post("/accounts", status_code=status.HTTP_201_CREATED, tags=["accounts"])
async def register_account(body: RegisterAccount, request: Request) -> Account:
    """Register a buyer, merchant, provider or operator account with its bound email and phone."""
    return await _svc(request).register_account(body)


@router.get("/accounts/{account_id}", tags=["accounts"])
async def get_account(account_id: str, request: Request) -> Account:
    """Read an account."""
    return await _svc(request).get_account(account_id)


@router.post("/orders", status_code=status.HTTP_201_CREATED, tags=["orders"])
async def place_order(body: PlaceOrder, buyer: AccountId, request: Request) -> Order:
    """Place an order as the calling buyer; it waits for payment."""
    return await _svc(request).place_order(buyer, body)


@router.post("/orders/{order_id}/pay", tags=["orders"])
async def pay_order(order_id: str, payer: AccountId, request: Request) -> Order:
    """Pay a pending order (the buyer only); publishes order.paid."""
    return await _svc(request).pay(order_id, payer)


@router.get("/orders/{order_id}", tags=["orders"])
async def get_order(order_id: str, viewer: AccountId, request: Request) -> Order:
    """Read an order with its status history (its buyer and merchant only)."""
    return await _svc(request).get_order(order_id, viewer)
