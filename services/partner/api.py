"""HTTP routes: thin adapters onto the use cases."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from services.partner.programme import Application, CustomerAssociation, Demand, Offer, ProductTerms, Provider
from services.partner.selling import Selling
from services.partner.services import ProviderLedger, ledger
from shared.platform.errors import Forbidden, NotFound
from shared.platform.http import AccountId
from shared.schemas.links import LinkClaims

router = APIRouter(tags=["providers"])


def _selling(request: Request) -> Selling:
    sell: Selling = request.app.state.selling
    return sell


@router.get("/providers/{provider_id}/ledger")
async def provider_ledger(provider_id: str, caller: AccountId, request: Request) -> ProviderLedger:
    """The provider's live ledger: every earning as it accrues, and the running total."""
    if caller != provider_id:
        raise Forbidden("a provider's ledger is visible to that provider only")
    return await ledger(request.app.state.runtime.db, provider_id)


class ApplicationIn(BaseModel):
    company: str = Field(min_length=1)
    certifications: list[str]


@router.post("/programme/applications", status_code=201)
async def apply(body: ApplicationIn, caller: AccountId, request: Request) -> Application:
    """Apply to join the customer service provider programme (needs a Software, Service or SI certification)."""
    return await _selling(request).apply(caller, body.company, body.certifications)


class ReviewIn(BaseModel):
    approve: bool
    note: str = ""


@router.post("/programme/applications/{application_id}/review")
async def review(application_id: str, body: ReviewIn, caller: AccountId, request: Request) -> Application:
    """The platform operator approves or rejects an application; approval makes an active provider."""
    return await _selling(request).review(caller, application_id, body.approve, body.note)


@router.get("/providers/{provider_id}")
async def provider(provider_id: str, request: Request) -> Provider:
    """A provider's status and recorded rights."""
    doc = await request.app.state.runtime.db["providers"].find_one({"_id": provider_id})
    if doc is None:
        raise NotFound(f"no provider {provider_id}")
    return Provider.model_validate(doc)


class AssociationIn(BaseModel):
    reseller_id: str | None = None
    distributor_id: str | None = None
    registration_column: str | None = None


@router.put("/customers/{customer_id}/association")
async def associate(customer_id: str, body: AssociationIn, caller: AccountId, request: Request) -> CustomerAssociation:
    """Associate a customer with its reseller / distributor and registration column (operator)."""
    return await _selling(request).associate(caller, CustomerAssociation(customer_id=customer_id, **body.model_dump()))


class TermsIn(BaseModel):
    share_ratio: Annotated[Decimal, Field(ge=0, le=1)]
    authorized_discount: Decimal | None = None
    incentive_strategy: str = ""
    product_discount: Decimal | None = None
    partner_discount: Decimal | None = None
    floor_price: Decimal | None = None
    vat_rate: Decimal | None = None
    service_fee_tax_rate: Decimal | None = None


@router.put("/products/{product_id}/terms")
async def set_terms(product_id: str, body: TermsIn, caller: AccountId, request: Request) -> ProductTerms:
    """The merchant sets a product's incentive strategy, authorized discount, share ratio and tax rates."""
    terms = ProductTerms(product_id=product_id, merchant_id=caller, **body.model_dump())
    return await _selling(request).set_terms(caller, terms)


@router.get("/products/{product_id}/terms")
async def get_terms(product_id: str, request: Request) -> ProductTerms:
    """A product's incentive strategy, authorized discount and revenue-share ratio."""
    doc = await request.app.state.runtime.db["product_terms"].find_one({"_id": product_id})
    if doc is None:
        raise NotFound(f"no terms for product {product_id}")
    return ProductTerms.model_validate(doc)


class OfferIn(BaseModel):
    name: str
    customer_account_id: str
    product_ids: list[str] = Field(min_length=1)
    discount: Decimal
    valid_from: datetime
    valid_until: datetime


def _offer(body: OfferIn, caller: str) -> Offer:
    return Offer(offer_id=f"OF-{uuid.uuid4().hex[:12]}", issuer_id=caller, status="new", **body.model_dump())


@router.post("/offers", status_code=201)
async def create_offer(body: OfferIn, caller: AccountId, request: Request) -> Offer:
    """An exclusive offer; beyond the authorized discount it goes to manual handling and does not take effect."""
    return await _selling(request).offer(caller, _offer(body, caller))


@router.get("/offers/{offer_id}")
async def get_offer(offer_id: str, request: Request) -> Offer:
    """One offer and its status."""
    doc = await request.app.state.runtime.db["offers"].find_one({"_id": offer_id})
    if doc is None:
        raise NotFound(f"no offer {offer_id}")
    return Offer.model_validate(doc)


class LinkIn(BaseModel):
    product_id: str | None = None
    customer_account_id: str | None = None
    offer_id: str | None = None
    ttl_seconds: int | None = Field(default=None, ge=60)


class LinkOut(BaseModel):
    token: str
    claims: LinkClaims


@router.post("/providers/{provider_id}/private-links", status_code=201)
async def private_link(provider_id: str, body: LinkIn, caller: AccountId, request: Request) -> LinkOut:
    """A signed, expiring private link that binds the order placed through it to the provider."""
    claims, token = await _selling(request).private_link(caller, provider_id, body.product_id,
                                                         body.customer_account_id, body.offer_id, body.ttl_seconds)
    return LinkOut(token=token, claims=claims)


class DemandIn(BaseModel):
    merchant_account_id: str
    customer_account_id: str
    product_id: str
    description: str = ""


@router.post("/demands", status_code=201)
async def file_demand(body: DemandIn, caller: AccountId, request: Request) -> Demand:
    """Joint selling: the provider files a customer demand with a merchant."""
    demand = Demand(demand_id=f"DM-{uuid.uuid4().hex[:12]}", provider_id=caller, merchant_id=body.merchant_account_id,
                    customer_account_id=body.customer_account_id, product_id=body.product_id,
                    description=body.description)
    return await _selling(request).file_demand(caller, demand)


@router.post("/demands/{demand_id}/offer")
async def answer_demand(demand_id: str, body: OfferIn, caller: AccountId, request: Request) -> dict[str, Any]:
    """The merchant answers a demand with a private offer for the customer."""
    demand, offer = await _selling(request).answer_demand(caller, demand_id, _offer(body, caller))
    return {"demand": demand.model_dump(mode="json"), "offer": offer.model_dump(mode="json")}


@router.get("/demands/{demand_id}")
async def get_demand(demand_id: str, caller: AccountId, request: Request) -> Demand:
    """A demand and its status (submitted, offered, won)."""
    doc = await request.app.state.runtime.db["demands"].find_one({"_id": demand_id})
    if doc is None or caller not in {doc["provider_id"], doc["merchant_id"]}:
        raise NotFound(f"no demand {demand_id}")
    return Demand.model_validate(doc)
