"""HTTP routes of milestone offers (dossier §4.2): the merchant makes and withdraws them, the customer they
are made to reads and orders them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, status

from services.orders import offer_cases
from services.orders.api import Ctx, Id
from services.orders.commands import MakeMilestoneOffer
from services.orders.domain import Order
from services.orders.offers import MilestoneOffer
from shared.platform.auth import Buyer, Caller, Merchant, Principal, require_role

router = APIRouter(tags=["milestone offers"])
OfferParty = Annotated[Principal, require_role("buyer", "merchant", rule="buyers_and_merchants_only")]


@router.post("/milestone-offers", status_code=status.HTTP_201_CREATED)
async def make_offer(body: MakeMilestoneOffer, merchant: Merchant, ctx: Ctx) -> MilestoneOffer:
    """Make a milestone offer to one customer account on one of the caller's listed products (merchants)."""
    return await offer_cases.make_offer(ctx, merchant, body)


@router.get("/milestone-offers")
async def list_offers(viewer: OfferParty, ctx: Ctx) -> list[MilestoneOffer]:
    """A merchant's own offers; a buyer's, those made to it; newest first."""
    return await ctx.queries.offers_of(viewer)


@router.get("/milestone-offers/{offer_id}")
async def get_offer(offer_id: Id, viewer: Caller, ctx: Ctx) -> MilestoneOffer:
    """Read an offer (its merchant and its customer, and operators)."""
    return await ctx.queries.offer(offer_id, viewer)


@router.post("/milestone-offers/{offer_id}/orders", status_code=status.HTTP_201_CREATED)
async def order_offer(offer_id: Id, buyer: Buyer, ctx: Ctx) -> Order:
    """Place the one order of an offer (its customer only, within its validity); it waits for payment."""
    return await offer_cases.order_offer(ctx, buyer, offer_id)


@router.post("/milestone-offers/{offer_id}/withdraw")
async def withdraw_offer(offer_id: Id, merchant: Merchant, ctx: Ctx) -> MilestoneOffer:
    """Withdraw an offer not ordered yet (its merchant only)."""
    return await offer_cases.withdraw(ctx, merchant, offer_id)
