"""HTTP routes: thin adapters onto the use cases. The caller and its role come from the bearer token; every
request model is bounded, so a bad value is a 422 naming the field, never a 500."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, Field

from services.partner import reads, selling
from services.partner.deps import Deps
from services.partner.lists import DEFAULT_LIMIT, MAX_LIMIT, DemandStatus, OfferStatus, Page
from services.partner.programme import Application, CustomerAssociation, Demand, Offer, ProductTerms, Provider
from services.partner.queries import PartnerQueries
from services.partner.reads import ProviderLedger
from shared.platform.auth import Merchant, Operator, Party, Principal, require_role
from shared.platform.auth import Provider as ProviderCaller
from shared.schemas import AccountRole
from shared.schemas.links import LinkClaims

router = APIRouter(tags=["providers"])

PathId = Annotated[str, Path(min_length=1, max_length=128)]
Id = Annotated[str, Field(min_length=1, max_length=128)]
# Discounts and rates: bounded here, at the edge, so a value the domain refuses is a 422 and never a 500.
Discount = Annotated[Decimal, Field(gt=0, lt=1, max_digits=9, decimal_places=6)]  # 0.1 = 10 % off
Ratio = Annotated[Decimal, Field(ge=0, le=1, max_digits=9, decimal_places=6)]
TaxRate = Annotated[Decimal, Field(ge=0, lt=1, max_digits=9, decimal_places=6)]
Amount = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
ProviderOrOperator = Annotated[
    Principal, require_role(AccountRole.PROVIDER, AccountRole.OPERATOR, rule="providers_and_operators_only")
]
Seller = Annotated[
    Principal, require_role(AccountRole.PROVIDER, AccountRole.MERCHANT, rule="providers_and_merchants_only")
]
SellerOrOperator = Annotated[
    Principal,
    require_role(
        AccountRole.PROVIDER, AccountRole.MERCHANT, AccountRole.OPERATOR, rule="sellers_and_operators_only"
    ),
]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(min_length=1, max_length=512, description="next_cursor of a page")]


class ApplicationIn(BaseModel):
    company: str = Field(min_length=1, max_length=200)
    certifications: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(max_length=20)


class ReviewIn(BaseModel):
    approve: bool
    note: str = Field("", max_length=1000)


class AssociationIn(BaseModel):
    reseller_id: Id | None = None
    distributor_id: Id | None = None
    registration_column: str | None = Field(None, min_length=1, max_length=64)


class TermsIn(BaseModel):
    share_ratio: Ratio
    authorized_discount: Discount | None = None
    incentive_strategy: str = Field("", max_length=500)
    product_discount: Discount | None = None
    partner_discount: Discount | None = None
    floor_price: Amount | None = None
    vat_rate: TaxRate | None = None
    service_fee_tax_rate: TaxRate | None = None


class OfferIn(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    customer_account_id: Id
    product_ids: list[Id] = Field(min_length=1, max_length=50)
    discount: Discount
    valid_from: AwareDatetime
    valid_until: AwareDatetime


class LinkIn(BaseModel):
    product_id: Id | None = None
    customer_account_id: Id | None = None
    offer_id: Id | None = None
    ttl_seconds: int | None = Field(default=None, ge=60, le=365 * 24 * 3600)


class LinkOut(BaseModel):
    token: str
    claims: LinkClaims


class DemandIn(BaseModel):
    merchant_account_id: Id
    customer_account_id: Id
    product_id: Id
    description: str = Field("", max_length=2000)


# --- routes -----------------------------------------------------------------------------------------------
def deps(request: Request) -> Deps:
    """What the use cases run on (app.py provides it)."""
    found: Deps = request.app.state.deps
    return found


def queries(request: Request) -> PartnerQueries:
    """The read side (app.py provides it)."""
    found: PartnerQueries = request.app.state.queries
    return found


@router.get("/providers/{provider_id}/ledger")
async def provider_ledger(
    provider_id: PathId, caller: ProviderOrOperator, request: Request
) -> ProviderLedger:
    """The provider's live ledger: every earning as it accrues, and the running total (that provider,
    operators)."""
    return await reads.ledger(queries(request), caller, provider_id)


@router.post("/programme/applications", status_code=201)
async def apply(body: ApplicationIn, caller: ProviderCaller, request: Request) -> Application:
    """A partner account applies to the customer service provider programme (needs a Software, Service or SI
    certification, §7.2)."""
    return await selling.apply(deps(request), caller, body.company, body.certifications)


@router.post("/programme/applications/{application_id}/review")
async def review(application_id: PathId, body: ReviewIn, caller: Operator, request: Request) -> Application:
    """An operator approves or rejects an application; approval makes an active provider (§7.2)."""
    return await selling.review(deps(request), caller, application_id, body.approve, body.note)


@router.get("/providers/{provider_id}")
async def provider(provider_id: PathId, caller: ProviderOrOperator, request: Request) -> Provider:
    """A provider's status and recorded rights (that provider, operators)."""
    return await reads.provider(queries(request), caller, provider_id)


@router.put("/customers/{customer_id}/association")
async def associate(
    customer_id: PathId, body: AssociationIn, caller: Operator, request: Request
) -> CustomerAssociation:
    """Associate a customer with its reseller / distributor and registration column (operator)."""
    return await selling.associate(
        deps(request), CustomerAssociation(customer_id=customer_id, **body.model_dump())
    )


@router.put("/products/{product_id}/terms")
async def set_terms(product_id: PathId, body: TermsIn, caller: Merchant, request: Request) -> ProductTerms:
    """The product's merchant sets its incentive strategy, authorized discount, share ratio and tax rates."""
    terms = ProductTerms(product_id=product_id, merchant_id=caller.account_id, **body.model_dump())
    return await selling.set_terms(deps(request), caller, terms)


@router.get("/products/{product_id}/terms")
async def get_terms(product_id: PathId, caller: Party, request: Request) -> ProductTerms:
    """A product's incentive strategy, authorized discount and revenue-share ratio (its merchant, approved
    providers, operators)."""
    return await reads.terms(queries(request), caller, product_id)


def _offer(body: OfferIn, caller: Principal) -> Offer:
    return Offer(
        offer_id=f"OF-{uuid.uuid4().hex[:12]}", issuer_id=caller.account_id, status="new", **body.model_dump()
    )


@router.post("/offers", status_code=201)
async def create_offer(body: OfferIn, caller: Seller, request: Request) -> Offer:
    """An approved provider's exclusive offer, or a merchant's offer on its own products; beyond the
    authorized
    discount it goes to manual handling and does not take effect (§7.5)."""
    return await selling.offer(deps(request), caller, _offer(body, caller))


class DecisionIn(BaseModel):
    note: str = Field("", max_length=1000)


class RejectionIn(BaseModel):
    note: str = Field(min_length=1, max_length=1000, description="Why: the issuer sees it")


@router.post("/offers/{offer_id}/approve")
async def approve_offer(
    offer_id: PathId, caller: Operator, request: Request, body: DecisionIn | None = None
) -> Offer:
    """Operators: the special approval of an offer in manual handling; it takes effect (§7.5)."""
    return await selling.decide_offer(deps(request), caller, offer_id, "approve", body.note if body else "")


@router.post("/offers/{offer_id}/reject")
async def reject_offer(offer_id: PathId, body: RejectionIn, caller: Operator, request: Request) -> Offer:
    """Operators: refuse an offer in manual handling, with the reason; it never takes effect (§7.5)."""
    return await selling.decide_offer(deps(request), caller, offer_id, "reject", body.note)


@router.post("/offers/{offer_id}/withdraw")
async def withdraw_offer(offer_id: PathId, caller: Seller, request: Request) -> Offer:
    """Its issuer withdraws an offer awaiting approval; an effective offer is view-only (§7.5)."""
    return await selling.decide_offer(deps(request), caller, offer_id, "withdraw")


@router.get("/offers")
async def list_offers(
    caller: SellerOrOperator,
    request: Request,
    status: OfferStatus | None = None,
    product_id: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[Offer]:
    """A provider's own offers, the offers on a merchant's products, every offer for operators (e.g. those in
    manual handling, §7.5); newest first, a page at a time (`next_cursor`)."""
    return await reads.offers(queries(request), caller, status, product_id, cursor, limit)


@router.get("/offers/{offer_id}")
async def get_offer(offer_id: PathId, caller: Party, request: Request) -> Offer:
    """One offer and its status (its issuer, provider, customer, the products' merchants, operators)."""
    return await reads.offer(queries(request), caller, offer_id)


@router.post("/providers/{provider_id}/private-links", status_code=201)
async def private_link(
    provider_id: PathId, body: LinkIn, caller: ProviderCaller, request: Request
) -> LinkOut:
    """A signed, expiring private link that binds the order placed through it to the provider (its own
    only)."""
    claims, token = await selling.private_link(
        deps(request),
        caller,
        provider_id,
        body.product_id,
        body.customer_account_id,
        body.offer_id,
        body.ttl_seconds,
    )
    return LinkOut(token=token, claims=claims)


@router.post("/demands", status_code=201)
async def file_demand(body: DemandIn, caller: ProviderCaller, request: Request) -> Demand:
    """Joint selling: an approved provider files a customer demand with a merchant (§7.5)."""
    demand = Demand(
        demand_id=f"DM-{uuid.uuid4().hex[:12]}",
        provider_id=caller.account_id,
        merchant_id=body.merchant_account_id,
        customer_account_id=body.customer_account_id,
        product_id=body.product_id,
        description=body.description,
    )
    return await selling.file_demand(deps(request), caller, demand)


@router.post("/demands/{demand_id}/offer")
async def answer_demand(
    demand_id: PathId, body: OfferIn, caller: Merchant, request: Request
) -> dict[str, Any]:
    """The merchant the demand was filed with answers it with a private offer for the customer."""
    demand, offer = await selling.answer_demand(deps(request), caller, demand_id, _offer(body, caller))
    return {"demand": demand.model_dump(mode="json"), "offer": offer.model_dump(mode="json")}


@router.get("/demands")
async def list_demands(
    caller: SellerOrOperator,
    request: Request,
    status: DemandStatus | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[Demand]:
    """A provider's own demands, those filed with a merchant, every demand for operators (§7.5 joint
    selling); newest first, a page at a time (`next_cursor`)."""
    return await reads.demands(queries(request), caller, status, cursor, limit)


@router.get("/demands/{demand_id}")
async def get_demand(demand_id: PathId, caller: Party, request: Request) -> Demand:
    """A demand and its status: submitted, offered, won (its provider, merchant, customer, operators)."""
    return await reads.demand(queries(request), caller, demand_id)
