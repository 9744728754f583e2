"""The customer service provider programme and selling (dossier §7.2, §7.3, §7.5): pure models and moves."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field

from services.partner.incentives import check_levels, offer_takes_effect
from services.partner.lists import EPOCH
from shared.platform.errors import DomainError, Forbidden, InvalidInput
from shared.schemas import Money

Fraction = Annotated[Money, Field(gt=0, lt=1)]  # a discount: 0.1 = 10 % off

# §7.2: one of the Software, Service or SI role certifications is the prerequisite.
CERTIFICATIONS = {"software", "service", "si"}
# §7.3: what an active provider is entitled to.
RIGHTS = [
    "offline_technical_training",
    "project_technical_support",
    "marketing_support",
    "csp_mark",
    "ecosystem_events",
    "brand_event_experts",
    "sales_support",
    "product_basic_incentive",
    "performance_assessment_incentive",
    "business_opportunity_sharing",
    "presales_support",
    "dedicated_business_development_manager",
]


class Application(BaseModel):
    """An application to join the 云商店客户服务商计划."""

    application_id: str
    account_id: str
    company: str
    certifications: list[str]
    status: str = "pending"  # pending | approved | rejected
    reviewed_by: str | None = None
    note: str = ""
    version: int = 0


class Provider(BaseModel):
    provider_id: str
    company: str
    status: str = "active"
    rights: list[str] = Field(default_factory=lambda: list(RIGHTS))
    joined_at: AwareDatetime
    version: int = 0


def require_active(provider: Provider | None) -> Provider:
    """Dossier §7.2: a partner account sells only once an operator approved its programme application."""
    if provider is None or provider.status != "active":
        raise Forbidden(
            "only an approved, active customer service provider may do this (dossier §7.2)",
            rule="approved_providers_only",
        )
    return provider


def apply(application_id: str, account_id: str, company: str, certifications: list[str]) -> Application:
    held = sorted({c.lower() for c in certifications})
    if not set(held) & CERTIFICATIONS:
        raise InvalidInput(
            "joining needs one of the Software, Service or SI certifications (§7.2)", field="certifications"
        )
    return Application(
        application_id=application_id, account_id=account_id, company=company, certifications=held
    )


def review(app: Application, operator: str, approve: bool, note: str, now: datetime) -> Provider | None:
    if app.status != "pending":
        raise DomainError(f"application {app.application_id} was already {app.status}")
    app.status, app.reviewed_by, app.note = ("approved" if approve else "rejected"), operator, note
    return Provider(provider_id=app.account_id, company=app.company, joined_at=now) if approve else None


class CustomerAssociation(BaseModel):
    """The customer's associated reseller / distributor and its registration column (客户报备纵队)."""

    customer_id: str
    reseller_id: str | None = None
    distributor_id: str | None = None
    registration_column: str | None = None
    version: int = 0


class ProductTerms(BaseModel):
    """What a provider can query about a product (§7.5): incentive strategy, authorized discount, share ratio,
    and the discount levels and tax rates settlement uses."""

    product_id: str
    merchant_id: str
    share_ratio: Annotated[Money, Field(ge=0, le=1)]
    authorized_discount: Fraction | None = None
    incentive_strategy: str = ""
    product_discount: Fraction | None = None
    partner_discount: Fraction | None = None
    floor_price: Annotated[Money, Field(ge=0)] | None = None  # set: the floor-price discount model (§7.4)
    vat_rate: Annotated[Money, Field(ge=0, lt=1)] | None = None
    service_fee_tax_rate: Annotated[Money, Field(ge=0, lt=1)] | None = None
    version: int = 0

    def check(self) -> None:
        check_levels(self.product_discount, self.partner_discount, None)


class Offer(BaseModel):
    """An exclusive offer (专属优惠) for one customer, some products and a validity window."""

    offer_id: str
    name: str
    issuer_id: str  # the provider or merchant who created it
    provider_id: str | None = None  # the provider an order with it is bound to
    customer_account_id: str
    product_ids: list[str]
    discount: Fraction
    valid_from: AwareDatetime
    valid_until: AwareDatetime
    # effective | manual_handling, then from manual handling: effective (an operator's special approval),
    # rejected, or withdrawn by its issuer (dossier §7.5: "approval-pending offers can be withdrawn; created
    # offers are view-only").
    status: str
    demand_id: str | None = None
    decided_by: str | None = None  # the operator who approved or rejected it, or the issuer who withdrew it
    decided_at: AwareDatetime | None = None
    decision_note: str = ""
    created_at: AwareDatetime = EPOCH  # the lists' order (issue 15)
    version: int = 0

    def approve(self, operator: str, note: str, now: datetime) -> None:
        """§7.5: above the authorized discount an offer needs a special approval (转人工处理)."""
        self._decide("effective", operator, note, now)

    def reject(self, operator: str, note: str, now: datetime) -> None:
        self._decide("rejected", operator, note, now)

    def withdraw(self, issuer: str, now: datetime) -> None:
        """§7.5: an offer awaiting approval can be withdrawn by its issuer; an effective one is view-only."""
        self._decide("withdrawn", issuer, "", now)

    def _decide(self, status: str, by: str, note: str, now: datetime) -> None:
        if self.status != "manual_handling":
            raise DomainError(
                f"offer {self.offer_id} is {self.status}: only an offer in manual handling can be approved, "
                "rejected or withdrawn (dossier §7.5)",
                rule="offer_not_in_manual_handling",
            )
        self.status, self.decided_by, self.decided_at, self.decision_note = status, by, now, note

    def usable(self, customer: str, product: str, now: datetime) -> bool:
        return (
            self.status == "effective"
            and customer == self.customer_account_id
            and product in self.product_ids
            and self.valid_from <= now <= self.valid_until
        )


def make_offer(offer: Offer, terms: list[ProductTerms]) -> Offer:
    """Checks the window and the level order; above any product's authorized discount → manual handling."""
    if offer.valid_until <= offer.valid_from:
        raise InvalidInput("the validity window ends before it starts", field="valid_until")
    for t in terms:
        check_levels(t.product_discount, t.partner_discount, offer.discount)
    ok = bool(terms) and all(offer_takes_effect(offer.discount, t.authorized_discount) for t in terms)
    offer.status = "effective" if ok else "manual_handling"
    return offer


class Demand(BaseModel):
    """Joint selling (§7.5): a customer demand a provider files with a merchant."""

    demand_id: str
    provider_id: str
    merchant_id: str
    customer_account_id: str
    product_id: str
    description: str = ""
    status: str = "submitted"  # submitted → offered → won (需求成交)
    offer_id: str | None = None
    won_order_id: str | None = None
    created_at: AwareDatetime = EPOCH  # the lists' order (issue 15)
    version: int = 0

    def answer(self, offer_id: str) -> None:
        if self.status != "submitted":
            raise DomainError(f"demand {self.demand_id} is already {self.status}")
        self.status, self.offer_id = "offered", offer_id

    def win(self, order_id: str) -> bool:
        if self.status != "offered":
            return False
        self.status, self.won_order_id = "won", order_id
        return True
