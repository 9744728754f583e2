"""HTTP routes: thin adapters onto the use cases (accounts, orders, catalogue, billing)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, status

from services.orders.billing import Eligibility
from services.orders.catalogue import Asset, Certification, Product
from services.orders.commands import Certify as CertifyCmd
from services.orders.commands import (
    CreateProduct,
    PayOrder,
    PlaceOrder,
    RegisterAccount,
    RegisterAsset,
    Review,
    ScanResult,
)
from services.orders.domain import Account, Order
from services.orders.services import OrdersService
from shared.platform.http import AccountId

router = APIRouter()
catalogue = APIRouter(tags=["catalogue"])
OptionalAccount = Annotated[str | None, Header(alias="X-Account-Id", max_length=64)]


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
    """Place an order as the calling buyer (catalogue product or inline ad-hoc product); it waits for payment."""
    return await _svc(request).place_order(buyer, body)


@router.post("/orders/{order_id}/pay", tags=["orders"])
async def pay_order(order_id: str, payer: AccountId, request: Request, body: PayOrder | None = None) -> Order:
    """Pay a pending order (the buyer only); publishes order.paid and order.status_changed."""
    return await _svc(request).pay(order_id, payer, body)


@router.post("/orders/{order_id}/cancel", tags=["orders"])
async def cancel_order(order_id: str, buyer: AccountId, request: Request) -> Order:
    """Cancel an unpaid order (its buyer only)."""
    return await _svc(request).cancel(order_id, buyer)


@router.post("/orders/{order_id}/credit-repaid", tags=["orders"])
async def credit_repaid(order_id: str, operator: AccountId, request: Request) -> Order:
    """Record that the credit used to pay the order was repaid (operators only)."""
    return await _svc(request).credit_repaid(order_id, operator)


@router.get("/orders/{order_id}", tags=["orders"])
async def get_order(order_id: str, viewer: AccountId, request: Request) -> Order:
    """Read an order with its status history (its buyer and merchant only)."""
    return await _svc(request).get_order(order_id, viewer)


@router.get("/billing/eligibility", tags=["billing"])
async def billing_eligibility(viewer: AccountId, request: Request,
                              period: str = Query(pattern=r"^\d{4}-\d{2}$", examples=["2026-11"])) -> list[Eligibility]:
    """Which orders the period's bill run (the 3rd of the next month) takes, and why not the others."""
    return await _svc(request).billing_eligibility(viewer, period)


@catalogue.post("/products", status_code=status.HTTP_201_CREATED)
async def create_product(body: CreateProduct, merchant: AccountId, request: Request) -> Product:
    """Create a draft product with its specifications (merchants only)."""
    return await _svc(request).create_product(merchant, body)


@catalogue.get("/products")
async def list_products(request: Request) -> list[Product]:
    """The listed products."""
    return await _svc(request).list_products()


@catalogue.get("/products/{product_id}")
async def get_product(product_id: str, request: Request, viewer: OptionalAccount = None) -> Product:
    """Read a listed product (its merchant and operators also see unlisted ones)."""
    return await _svc(request).get_product(product_id, viewer)


@catalogue.post("/products/{product_id}/publish")
async def publish_product(product_id: str, merchant: AccountId, request: Request) -> Product:
    """Publish: checks the prerequisites and queues the product for the operator's review."""
    return await _svc(request).publish(product_id, merchant)


@catalogue.post("/products/{product_id}/review")
async def review_product(product_id: str, body: Review, operator: AccountId, request: Request) -> Product:
    """List or reject a publication (operators only)."""
    return await _svc(request).review(product_id, operator, body)


@catalogue.post("/assets", status_code=status.HTTP_201_CREATED)
async def register_asset(body: RegisterAsset, merchant: AccountId, request: Request) -> Asset:
    """Upload a software package to the asset centre (merchants only)."""
    return await _svc(request).register_asset(merchant, body)


@catalogue.post("/assets/{asset_id}/release")
async def release_asset(asset_id: str, merchant: AccountId, request: Request) -> Asset:
    """Release the package in the asset centre (its merchant only)."""
    return await _svc(request).release_asset(asset_id, merchant)


@catalogue.post("/assets/{asset_id}/scan")
async def scan_asset(asset_id: str, body: ScanResult, operator: AccountId, request: Request) -> Asset:
    """Record the security scan's verdict (operators only)."""
    return await _svc(request).scan_asset(asset_id, operator, body)


@catalogue.post("/certifications", status_code=status.HTTP_201_CREATED)
async def certify(body: CertifyCmd, operator: AccountId, request: Request) -> Certification:
    """Record a product's joint-operation certification score (operators only)."""
    return await _svc(request).certify(operator, body)
