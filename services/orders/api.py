"""HTTP routes: thin adapters onto the use cases (accounts, orders, catalogue, billing).

The caller is the verified token's subject and its role the token's realm role (shared.platform.auth); each
route names who may call it, and the use case checks the caller is a party to what it touches.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status

from services.orders.billing import Eligibility
from services.orders.catalogue import Asset, Certification, Product
from services.orders.commands import Certify as CertifyCmd
from services.orders.commands import (
    CreateProduct,
    GrantCoupon,
    PayOrder,
    PlaceOrder,
    RegisterAccount,
    RegisterAsset,
    Review,
    ScanResult,
    VerifyProfile,
)
from services.orders.domain import Account, Order
from services.orders.services import OrdersService
from shared.platform.auth import (
    Buyer,
    Caller,
    Merchant,
    Operator,
    OptionalCaller,
    Party,
    PaymentSystem,
    Principal,
    require_role,
)

router = APIRouter()
catalogue = APIRouter(tags=["catalogue"])
Id = Annotated[str, Path(min_length=1, max_length=128)]
OperatorOrMerchant = Annotated[Principal, require_role("operator", "merchant", rule="operators_and_merchants_only")]


def _svc(request: Request) -> OrdersService:
    service: OrdersService = request.app.state.orders
    return service


@router.post("/accounts", status_code=status.HTTP_201_CREATED, tags=["accounts"],
             responses={200: {"description": "The profile existed already (idempotent)"}})
async def register_account(body: RegisterAccount, caller: Party, request: Request, response: Response) -> Account:
    """Register the caller's own profile: id and role from its token, bound email and phone (idempotent)."""
    account, created = await _svc(request).register_account(caller, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return account


@router.get("/accounts/me", tags=["accounts"])
async def my_account(caller: Party, request: Request) -> Account:
    """The caller's own profile, with its verified company and coupons."""
    return await _svc(request).get_account(caller.account_id, caller)


@router.get("/accounts/me/export", tags=["accounts"])
async def export_account(caller: Party, request: Request) -> dict[str, Any]:
    """Everything this service holds of the caller's contact data (its profile, its delivery contacts)."""
    return await _svc(request).export(caller)


@router.post("/accounts/me/erasure", tags=["accounts"])
async def erase_account(caller: Party, request: Request) -> Account:
    """Erase the caller's contact data here and in every service (account.erased); records keep it masked."""
    return await _svc(request).erase(caller)


@router.get("/accounts/{account_id}", tags=["accounts"])
async def get_account(account_id: Id, caller: Caller, request: Request) -> Account:
    """Read an account (its owner, and operators who contact the parties of an appeal)."""
    return await _svc(request).get_account(account_id, caller)


@router.put("/accounts/{account_id}/verification", tags=["accounts"])
async def verify_profile(account_id: Id, body: VerifyProfile, operator: Operator, request: Request) -> Account:
    """Record a buyer's verified enterprise: company name and sales track (operators only)."""
    return await _svc(request).verify_profile(account_id, operator, body)


@router.post("/accounts/{account_id}/coupons", tags=["accounts"], status_code=status.HTTP_201_CREATED)
async def grant_coupon(account_id: Id, body: GrantCoupon, operator: Operator, request: Request) -> Account:
    """Grant a platform coupon (e.g. an empowerment-cloud cash coupon) to a buyer (operators only)."""
    return await _svc(request).grant_coupon(account_id, operator, body)


@router.post("/orders", status_code=status.HTTP_201_CREATED, tags=["orders"])
async def place_order(body: PlaceOrder, buyer: Buyer, request: Request) -> Order:
    """Order a listed product at its catalogue price (or through a provider's private link); it waits for
    payment."""
    return await _svc(request).place_order(buyer, body)


@router.post("/orders/{order_id}/pay", tags=["orders"])
async def pay_order(order_id: Id, body: PayOrder, _: PaymentSystem, request: Request) -> Order:
    """The payment system confirms the payment (its service account only); publishes order.paid."""
    return await _svc(request).pay(order_id, body)


@router.post("/orders/{order_id}/cancel", tags=["orders"])
async def cancel_order(order_id: Id, buyer: Buyer, request: Request) -> Order:
    """Cancel an unpaid order (its buyer only)."""
    return await _svc(request).cancel(order_id, buyer)


@router.post("/orders/{order_id}/credit-repaid", tags=["orders"])
async def credit_repaid(order_id: Id, _: Operator, request: Request) -> Order:
    """Record that the credit used to pay the order was repaid (operators only)."""
    return await _svc(request).credit_repaid(order_id)


@router.get("/orders/{order_id}", tags=["orders"])
async def get_order(order_id: Id, viewer: Caller, request: Request) -> Order:
    """Read an order with its status history (its buyer and merchant, and operators)."""
    return await _svc(request).get_order(order_id, viewer)


@router.get("/billing/eligibility", tags=["billing"])
async def billing_eligibility(viewer: OperatorOrMerchant, request: Request,
                              period: str = Query(pattern=r"^20\d{2}-(0[1-9]|1[0-2])$", examples=["2026-11"])
                              ) -> list[Eligibility]:
    """Which orders the period's bill run (the 3rd of the next month) takes, and why not the others
    (operators: every order; a merchant: its own)."""
    return await _svc(request).billing_eligibility(viewer, period)


@catalogue.post("/products", status_code=status.HTTP_201_CREATED)
async def create_product(body: CreateProduct, merchant: Merchant, request: Request) -> Product:
    """Create a draft product with its specifications (merchants only)."""
    return await _svc(request).create_product(merchant, body)


@catalogue.get("/products")
async def list_products(request: Request) -> list[Product]:
    """The listed products (public)."""
    return await _svc(request).list_products()


@catalogue.get("/products/{product_id}")
async def get_product(product_id: Id, request: Request, viewer: OptionalCaller) -> Product:
    """Read a listed product (public; its merchant and operators also see it unlisted, with a token)."""
    return await _svc(request).get_product(product_id, viewer)


@catalogue.post("/products/{product_id}/publish")
async def publish_product(product_id: Id, merchant: Merchant, request: Request) -> Product:
    """Publish: checks the prerequisites and queues the product for the operator's review (its merchant)."""
    return await _svc(request).publish(product_id, merchant)


@catalogue.post("/products/{product_id}/review")
async def review_product(product_id: Id, body: Review, operator: Operator, request: Request) -> Product:
    """List or reject a publication (operators only)."""
    return await _svc(request).review(product_id, operator, body)


@catalogue.post("/assets", status_code=status.HTTP_201_CREATED)
async def register_asset(body: RegisterAsset, merchant: Merchant, request: Request) -> Asset:
    """Upload a software package to the asset centre (merchants only)."""
    return await _svc(request).register_asset(merchant, body)


@catalogue.post("/assets/{asset_id}/release")
async def release_asset(asset_id: Id, merchant: Merchant, request: Request) -> Asset:
    """Release the package in the asset centre (its merchant only)."""
    return await _svc(request).release_asset(asset_id, merchant)


@catalogue.post("/assets/{asset_id}/scan")
async def scan_asset(asset_id: Id, body: ScanResult, operator: Operator, request: Request) -> Asset:
    """Record the security scan's verdict (operators only)."""
    return await _svc(request).scan_asset(asset_id, operator, body)


@catalogue.post("/certifications", status_code=status.HTTP_201_CREATED)
async def certify(body: CertifyCmd, operator: Operator, request: Request) -> Certification:
    """Record a product's joint-operation certification score (operators only)."""
    return await _svc(request).certify(operator, body)
