"""HTTP routes of accounts, orders, refunds and billing: thin adapters onto the use cases (*_cases.py) and the
read side (queries.py).

The caller is the verified token's subject and its role the token's realm role (shared.platform.auth); each
route names who may call it, and the use case checks the caller is a party to what it touches.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from services.orders import account_cases, order_cases, refund_cases
from services.orders.billing import Eligibility
from services.orders.commands import (
    GrantCoupon,
    PayOrder,
    PlaceOrder,
    RefundDecision,
    RegisterAccount,
    VerifyProfile,
)
from services.orders.context import OrdersContext
from services.orders.domain import Account, Order
from shared.platform.auth import (
    Buyer,
    Caller,
    Merchant,
    Operator,
    Party,
    PaymentSystem,
    Principal,
    require_role,
)


def orders_context(request: Request) -> OrdersContext:
    """The service's use-case context, set up by the composition root (app.py)."""
    ctx: OrdersContext = request.app.state.orders
    return ctx


Ctx = Annotated[OrdersContext, Depends(orders_context)]
Id = Annotated[str, Path(min_length=1, max_length=128)]
RefundId = Annotated[str, Path(min_length=1, max_length=64)]
OperatorOrMerchant = Annotated[
    Principal, require_role("operator", "merchant", rule="operators_and_merchants_only")
]
router = APIRouter()


@router.post(
    "/accounts",
    status_code=status.HTTP_201_CREATED,
    tags=["accounts"],
    responses={200: {"description": "The profile existed already (idempotent)"}},
)
async def register_account(body: RegisterAccount, caller: Party, ctx: Ctx, response: Response) -> Account:
    """Register the caller's own profile: id and role from its token, bound email and phone (idempotent)."""
    account, created = await account_cases.register_account(ctx, caller, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return account


@router.get("/accounts/me", tags=["accounts"])
async def my_account(caller: Party, ctx: Ctx) -> Account:
    """The caller's own profile, with its verified company and coupons."""
    return await ctx.queries.account(caller.account_id, caller)


@router.get("/accounts/me/export", tags=["accounts"])
async def export_account(caller: Party, ctx: Ctx) -> dict[str, Any]:
    """Everything this service holds of the caller's contact data (its profile, its delivery contacts)."""
    return await ctx.queries.export(caller)


@router.post("/accounts/me/erasure", tags=["accounts"])
async def erase_account(caller: Party, ctx: Ctx) -> Account:
    """Erase the caller's contact data here and in every service (account.erased); records keep it masked."""
    return await account_cases.erase(ctx, caller)


@router.get("/accounts/{account_id}", tags=["accounts"])
async def get_account(account_id: Id, caller: Caller, ctx: Ctx) -> Account:
    """Read an account (its owner, and operators who contact the parties of an appeal)."""
    return await ctx.queries.account(account_id, caller)


@router.put("/accounts/{account_id}/verification", tags=["accounts"])
async def verify_profile(account_id: Id, body: VerifyProfile, operator: Operator, ctx: Ctx) -> Account:
    """Record a buyer's verified enterprise: company name and sales track (operators only)."""
    return await account_cases.verify_profile(ctx, account_id, operator, body)


@router.post("/accounts/{account_id}/coupons", tags=["accounts"], status_code=status.HTTP_201_CREATED)
async def grant_coupon(account_id: Id, body: GrantCoupon, operator: Operator, ctx: Ctx) -> Account:
    """Grant a platform coupon (e.g. an empowerment-cloud cash coupon) to a buyer (operators only)."""
    return await account_cases.grant_coupon(ctx, account_id, operator, body)


@router.post("/orders", status_code=status.HTTP_201_CREATED, tags=["orders"])
async def place_order(body: PlaceOrder, buyer: Buyer, ctx: Ctx) -> Order:
    """Order a listed product at its catalogue price (or through a provider's private link); it waits for
    payment."""
    return await order_cases.place_order(ctx, buyer, body)


@router.post("/orders/{order_id}/pay", tags=["orders"])
async def pay_order(order_id: Id, body: PayOrder, _: PaymentSystem, ctx: Ctx) -> Order:
    """The payment system confirms the payment (its service account only); publishes order.paid."""
    return await order_cases.pay(ctx, order_id, body)


@router.post("/orders/{order_id}/cancel", tags=["orders"])
async def cancel_order(order_id: Id, buyer: Buyer, ctx: Ctx) -> Order:
    """Cancel an unpaid order (its buyer only)."""
    return await order_cases.cancel(ctx, order_id, buyer)


@router.post("/orders/{order_id}/credit-repaid", tags=["orders"])
async def credit_repaid(order_id: Id, _: Operator, ctx: Ctx) -> Order:
    """Record that the credit used to pay the order was repaid (operators only)."""
    return await order_cases.credit_repaid(ctx, order_id)


@router.get("/orders/{order_id}", tags=["orders"])
async def get_order(order_id: Id, viewer: Caller, ctx: Ctx) -> Order:
    """Read an order with its status history (its buyer and merchant, and operators)."""
    return await ctx.queries.order(order_id, viewer)


@router.post("/orders/{order_id}/refunds/{refund_id}/decision", tags=["orders"])
async def decide_refund(
    order_id: Id, refund_id: RefundId, body: RefundDecision, merchant: Merchant, ctx: Ctx
) -> Order:
    """Approve or reject the buyer's unsubscribe request, with an opinion (the order's merchant only; in the
    guarantee period, not while an appeal freezes the order). Publishes refund.decided."""
    return await refund_cases.decide_refund(ctx, merchant, order_id, refund_id, body)


@router.get("/billing/eligibility", tags=["billing"])
async def billing_eligibility(
    viewer: OperatorOrMerchant,
    ctx: Ctx,
    period: str = Query(pattern=r"^20\d{2}-(0[1-9]|1[0-2])$", examples=["2026-11"]),
) -> list[Eligibility]:
    """Which orders the period's bill run (the 3rd of the next month) takes, and why not the others
    (operators: every order; a merchant: its own)."""
    return await ctx.queries.billing_eligibility(viewer, period)
